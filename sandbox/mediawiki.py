"""A local MediaWiki farm (cs, ko, en) for integration tests and the demo.

MediaWiki 1.43 comes from Debian 13 ("trixie"): its ``mediawiki`` and
``mediawiki-classes`` packages are downloaded with a private apt
configuration (nothing is installed system-wide) and unpacked into a cache
folder.  PHP comes from the machine's own Debian packages.  Each wiki is one
folder with its own ``LocalSettings.php`` and SQLite data, served by its own
``php -S`` on a free 127.0.0.1 port.

See /work/shared/mediawiki-notes.md for the facts this module relies on.

CLI::

    python -m sandbox.mediawiki install [--workdir DIR]
    python -m sandbox.mediawiki start [--workdir DIR] [--codes cs,ko,en]
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fcntl
import functools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import requests

__all__ = [
    "ApiClient",
    "LocalWiki",
    "MediaWikiFarm",
    "MediaWikiUnavailable",
    "WikiAccount",
]

MW_SERIES = "1.43"
DEBIAN_SUITE = "trixie"
PHP_PACKAGES = ("php-cli", "php-sqlite3", "php-intl", "php-mbstring", "php-xml", "php-gmp")
# PHP extension (as listed by `php -m`) -> Debian package that provides it
_PHP_MODULES = {
    "pdo_sqlite": "php-sqlite3",
    "sqlite3": "php-sqlite3",
    "intl": "php-intl",
    "mbstring": "php-mbstring",
    "dom": "php-xml",
    "xml": "php-xml",
    "xmlreader": "php-xml",
    "gmp": "php-gmp",
}
EXTENSIONS = ("VisualEditor", "Linter", "DiscussionTools", "Echo")
BOT_APPID = "ci"
BOT_GRANTS = "basic,highvolume,editpage,createeditmovepage,editprotected,protect,delete,blockusers"
_BOTPASS_ALPHABET = "0123456789abcdefghijklmnopqrstuvw"
_READY_MARK = ".ambassador-ready"
_DEFAULT_PORT = 8080  # only used by maintenance scripts run before any start()


class MediaWikiUnavailable(RuntimeError):
    """MediaWiki (or PHP) cannot be provided on this machine; the message says why."""


@dataclass(frozen=True)
class WikiAccount:
    username: str
    password: str


# Per-language settings.  Namespace names follow the real Wikipedias.
_WIKI_PROFILES: dict[str, dict[str, Any]] = {
    "cs": {
        "sitename": "Wikipedie",
        "timezone": "Europe/Prague",
        "settings": """
$wgMetaNamespace = 'Wikipedie';
$wgMetaNamespaceTalk = 'Diskuse_k_Wikipedii';
$wgExtraNamespaces[NS_USER] = 'Wikipedista';
$wgExtraNamespaces[NS_USER_TALK] = 'Diskuse_s_wikipedistou';
$wgExtraGenderNamespaces[NS_USER] = [ 'male' => 'Wikipedista', 'female' => 'Wikipedistka' ];
$wgExtraGenderNamespaces[NS_USER_TALK] = [
\t'male' => 'Diskuse_s_wikipedistou', 'female' => 'Diskuse_s_wikipedistkou' ];
$wgNamespaceAliases['Uživatel'] = NS_USER;
$wgNamespaceAliases['Diskuse_s_uživatelem'] = NS_USER_TALK;
$wgNamespaceAliases['WP'] = NS_PROJECT;
""",
    },
    "ko": {
        "sitename": "위키백과",
        "timezone": "Asia/Seoul",
        "settings": """
$wgMetaNamespace = '위키백과';
$wgNamespaceAliases['WP'] = NS_PROJECT;
""",
    },
    "en": {
        "sitename": "Wikipedia",
        "timezone": "UTC",
        "settings": """
$wgMetaNamespace = 'Wikipedia';
$wgNamespaceAliases['WP'] = NS_PROJECT;
""",
    },
    # Opt-in (not in the default codes, so the suite's session farm stays cs, ko, en): the languages
    # that prove a language is data (issue 15, tests/integration/test_languages_e2e.py).
    # Arabic: right to left; MediaWiki ar writes numbers, dates and ~~~~ signatures in Eastern
    # Arabic digits ($wgTranslateNumerals, on by default, said here so nobody turns it off by accident).
    "ar": {
        "sitename": "ويكيبيديا",
        "timezone": "Asia/Riyadh",
        "settings": """
$wgMetaNamespace = 'ويكيبيديا';
$wgMetaNamespaceTalk = 'نقاش_ويكيبيديا';
$wgNamespaceAliases['وب'] = NS_PROJECT;
$wgNamespaceAliases['WP'] = NS_PROJECT;
$wgTranslateNumerals = true;
""",
    },
    "vi": {
        "sitename": "Wikipedia",
        "timezone": "Asia/Ho_Chi_Minh",
        "settings": """
$wgMetaNamespace = 'Wikipedia';
$wgNamespaceAliases['WP'] = NS_PROJECT;
""",
    },
    # A fifth wiki whose language the bot knows only from a message file a test writes.
    "pl": {
        "sitename": "Wikipedia",
        "timezone": "Europe/Warsaw",
        "settings": """
$wgMetaNamespace = 'Wikipedia';
$wgNamespaceAliases['WP'] = NS_PROJECT;
""",
    },
}

_COMMON_SETTINGS = r"""
# ---- ambassador-bot sandbox settings (appended by sandbox/mediawiki.py) ----
# The port is chosen when the server starts; php -S and maintenance scripts get it as MW_PORT.
$wgServer = 'http://127.0.0.1:' . ( getenv( 'MW_PORT' ) ?: '{default_port}' );
$wgCanonicalServer = $wgServer;
$wgSitename = {sitename};
$wgLocaltimezone = {timezone};
$wgUploadDirectory = {root} . '/images';
$wgUploadPath = false;
$wgTmpDirectory = {root} . '/tmp';
$wgCacheDirectory = {root} . '/cache';
# Localisation cache outside data/ so that reset() keeps it warm.
$wgLocalisationCacheConf['storeClass'] = LCStoreCDB::class;
$wgLocalisationCacheConf['storeDirectory'] = {root} . '/cache/l10n';
$wgMainCacheType = CACHE_NONE;
$wgSessionCacheType = CACHE_DB;
$wgParserCacheType = CACHE_DB;
$wgMessageCacheType = CACHE_NONE;
$wgEnableEmail = false;
$wgEnableUserEmail = false;
$wgEmailAuthentication = false;
$wgUseImageMagick = false;
$wgEnableUploads = false;
$wgUseInstantCommons = false;
$wgPingback = false;
$wgRateLimits = [];
$wgGroupPermissions['bot']['noratelimit'] = true;
$wgSpamBlacklistFiles = [];
$wgTitleBlacklistSources = [];
$wgNamespacesWithSubpages[NS_MAIN] = false;
$wgNamespacesWithSubpages[NS_PROJECT] = true;
$wgNamespacesWithSubpages[NS_PROJECT_TALK] = true;
$wgNamespacesWithSubpages[NS_USER] = true;
$wgNamespacesWithSubpages[NS_USER_TALK] = true;
$wgShowExceptionDetails = true;
$wgDevelopmentWarnings = false;
# DiscussionTools (+ what it needs) as on the real cs/ko Wikipedias.
$wgDiscussionToolsBeta = false;
$wgDefaultUserOptions['discussiontools-betaenable'] = 1;
{lang_settings}
"""


def _quote_php(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass
class LocalWiki:
    code: str
    dbname: str
    port: int
    root: Path
    bot: WikiAccount
    bot_main_user: str
    human: WikiAccount
    admin: WikiAccount
    bot_main_password: str = ""
    process: subprocess.Popen | None = field(default=None, repr=False, compare=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api.php"

    @property
    def index_url(self) -> str:
        return f"{self.base_url}/index.php"

    @property
    def settings_file(self) -> Path:
        return self.root / "LocalSettings.php"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def snapshot_dir(self) -> Path:
        return self.root / "data.snapshot"

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "dbname": self.dbname,
            "port": self.port,
            "root": str(self.root),
            "api_url": self.api_url,
            "index_url": self.index_url,
            "bot": asdict(self.bot),
            "bot_main_user": self.bot_main_user,
            "bot_main_password": self.bot_main_password,
            "human": asdict(self.human),
            "admin": asdict(self.admin),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "LocalWiki":
        return cls(
            code=d["code"],
            dbname=d["dbname"],
            port=int(d.get("port") or 0),
            root=Path(d["root"]),
            bot=WikiAccount(**d["bot"]),
            bot_main_user=d["bot_main_user"],
            human=WikiAccount(**d["human"]),
            admin=WikiAccount(**d["admin"]),
            bot_main_password=d.get("bot_main_password", ""),
        )


# --------------------------------------------------------------------------- PHP + code


_apt_updated = False
_install_lock = threading.Lock()


def cache_dir() -> Path:
    env = os.environ.get("AMBASSADOR_MW_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "ambassador-bot" / f"mediawiki-{MW_SERIES}"


def _missing_php_packages() -> list[str]:
    php = shutil.which("php")
    if not php:
        return list(PHP_PACKAGES)
    try:
        out = subprocess.run([php, "-m"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return list(PHP_PACKAGES)
    have = {line.strip().lower() for line in out.splitlines()}
    missing = []
    for module, pkg in _PHP_MODULES.items():
        if module not in have and pkg not in missing:
            missing.append(pkg)
    return missing


def ensure_php() -> str:
    """Return the path of `php`, installing the Debian packages if needed (as root)."""
    global _apt_updated
    with _install_lock:
        missing = _missing_php_packages()
        if not missing:
            return shutil.which("php")  # type: ignore[return-value]
        if os.geteuid() != 0:
            raise MediaWikiUnavailable(
                "PHP is missing (" + ", ".join(missing) + "): run as root "
                "`apt-get install -y --no-install-recommends " + " ".join(PHP_PACKAGES) + "`"
            )
        if not shutil.which("apt-get"):
            raise MediaWikiUnavailable("PHP is missing and apt-get is not available: install "
                                       + " ".join(PHP_PACKAGES))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        try:
            if not _apt_updated:
                _run(["apt-get", "update", "-q"], env=env, timeout=600)
                _apt_updated = True
            _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *PHP_PACKAGES],
                 env=env, timeout=1200)
        except subprocess.SubprocessError as exc:
            raise MediaWikiUnavailable(f"installing PHP failed: {exc}") from exc
        missing = _missing_php_packages()
        if missing:
            raise MediaWikiUnavailable("PHP modules still missing after apt-get install: "
                                       + ", ".join(missing))
        return shutil.which("php")  # type: ignore[return-value]


def _run(cmd: list[str], *, env: dict[str, str] | None = None, timeout: float = 300,
         cwd: str | Path | None = None) -> str:
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip())[-2000:]
        raise subprocess.SubprocessError(
            f"{' '.join(str(c) for c in cmd[:4])} ... exited {proc.returncode}: {tail}")
    return proc.stdout


def _debian_mirrors() -> tuple[str, str]:
    """(main mirror URI, security mirror URI) taken from the machine's apt sources."""
    main = security = None
    texts: list[tuple[str, str]] = []
    for p in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        with contextlib.suppress(OSError):
            texts.append(("deb822", p.read_text()))
    for p in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*.list"))]:
        with contextlib.suppress(OSError):
            texts.append(("list", p.read_text()))
    for kind, text in texts:
        entries: list[tuple[list[str], list[str]]] = []
        if kind == "deb822":
            for stanza in re.split(r"\n\s*\n", text):
                fields: dict[str, str] = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line:
                        continue
                    k, v = line.split(":", 1)
                    fields[k.strip().lower()] = v.strip()
                if "deb" not in fields.get("types", "").split():
                    continue
                if fields.get("enabled", "yes").lower() == "no":
                    continue
                entries.append((fields.get("uris", "").split(), fields.get("suites", "").split()))
        else:
            for raw in text.splitlines():
                words = re.sub(r"\[[^\]]*\]", "", raw.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    entries.append(([words[1]], [words[2]]))
        for uris, suites in entries:
            for uri in uris:
                if "debian" not in uri:
                    continue
                if any(s.endswith("-security") or "/updates" in s for s in suites) or \
                        "security" in uri:
                    security = security or uri
                else:
                    main = main or uri
    if not main:
        main = "http://deb.debian.org/debian"
    if not security:
        security = main.rsplit("/debian", 1)[0] + "/debian-security" if main.endswith("/debian") \
            else "http://deb.debian.org/debian-security"
    return main, security


def _fetch_debs(dest: Path) -> list[Path]:
    """Download Debian 13's mediawiki + mediawiki-classes .debs into dest."""
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        raise MediaWikiUnavailable("apt-get/dpkg-deb not found: cannot fetch the Debian mediawiki package")
    main, security = _debian_mirrors()
    keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    opt = f" [signed-by={keyring}]" if Path(keyring).exists() else ""
    sources = dest / "sources.list"
    sources.write_text(
        f"deb{opt} {main} {DEBIAN_SUITE} main\n"
        f"deb{opt} {security} {DEBIAN_SUITE}-security main\n"
    )
    lists = dest / "lists"
    archives = dest / "archives"
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    (archives / "partial").mkdir(parents=True, exist_ok=True)
    apt_opts = [
        "-o", f"Dir::Etc::sourcelist={sources}",
        "-o", "Dir::Etc::sourceparts=-",
        "-o", f"Dir::State::lists={lists}",
        "-o", f"Dir::Cache={dest / 'aptcache'}",
        "-o", f"Dir::Cache::archives={archives}",
        "-o", "Dir::Cache::pkgcache=",
        "-o", "Dir::Cache::srcpkgcache=",
        "-o", "APT::Get::List-Cleanup=0",
    ]
    if os.geteuid() == 0:
        apt_opts += ["-o", "APT::Sandbox::User=root"]
    try:
        _run(["apt-get", *apt_opts, "update", "-q"], timeout=600)
        _run(["apt-get", *apt_opts, "download", "-q", "mediawiki", "mediawiki-classes"],
             cwd=dest, timeout=900)
    except subprocess.SubprocessError as exc:
        raise MediaWikiUnavailable(f"fetching Debian {DEBIAN_SUITE} mediawiki failed: {exc}") from exc
    debs = sorted(dest.glob("mediawiki*.deb"))
    if len(debs) < 2:
        raise MediaWikiUnavailable(f"apt-get download gave {[d.name for d in debs]}, expected "
                                   "mediawiki and mediawiki-classes")
    return debs


def _relink_tree(root: Path) -> Path:
    """Make the extracted Debian tree self-contained; return $IP."""
    ip = root / "usr" / "share" / "mediawiki"
    # Absolute symlinks into /var/lib/mediawiki and /etc/mediawiki: drop or relink them.
    for name in ("extensions", "LocalSettings.php", "config", "images"):
        p = ip / name
        if p.is_symlink():
            p.unlink()
    ext = ip / "extensions"
    ext.mkdir(exist_ok=True)
    core = ip / "extensions-core"
    if core.is_dir():
        for e in sorted(core.iterdir()):
            link = ext / e.name
            if not link.exists() and not link.is_symlink():
                link.symlink_to(Path("..") / "extensions-core" / e.name)
    # Any other absolute link inside $IP pointing at /usr/share/mediawiki: make it relative.
    prefix = "/usr/share/mediawiki/"
    for dirpath, dirnames, filenames in os.walk(ip):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p.is_symlink():
                target = os.readlink(p)
                if target.startswith(prefix):
                    new = os.path.relpath(ip / target[len(prefix):], p.parent)
                    p.unlink()
                    p.symlink_to(new)
    (ip / "images").mkdir(exist_ok=True)
    return ip


def _mw_version(ip: Path) -> str | None:
    try:
        text = (ip / "includes" / "Defines.php").read_text()
    except OSError:
        return None
    m = re.search(r"define\(\s*'MW_VERSION',\s*'([^']+)'", text)
    return m.group(1) if m else None


def ensure_code() -> Path:
    """Fetch + unpack MediaWiki 1.43 (cached) and make sure PHP is there; return $IP."""
    ensure_php()
    cache = cache_dir()
    ip = cache / "root" / "usr" / "share" / "mediawiki"
    if (ip / _READY_MARK).exists():
        return ip
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MediaWikiUnavailable(f"cannot create cache folder {cache}: {exc}") from exc
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (ip / _READY_MARK).exists():
            return ip
        work = Path(tempfile.mkdtemp(prefix="fetch-", dir=cache))
        try:
            debs = _fetch_debs(work)
            tree = work / "root"
            tree.mkdir()
            for deb in debs:
                try:
                    _run(["dpkg-deb", "-x", str(deb), str(tree)], timeout=600)
                except subprocess.SubprocessError as exc:
                    raise MediaWikiUnavailable(f"unpacking {deb.name} failed: {exc}") from exc
            new_ip = _relink_tree(tree)
            version = _mw_version(new_ip)
            if not version or not version.startswith(MW_SERIES + "."):
                raise MediaWikiUnavailable(
                    f"Debian {DEBIAN_SUITE} gave MediaWiki {version!r}, expected {MW_SERIES}.x")
            if not (new_ip / "extensions" / "DiscussionTools" / "extension.json").exists():
                raise MediaWikiUnavailable("the unpacked MediaWiki lacks DiscussionTools")
            (new_ip / _READY_MARK).write_text(version + "\n")
            old = cache / "root"
            if old.exists():
                shutil.rmtree(old)
            tree.rename(old)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return ip


# --------------------------------------------------------------------------- the farm


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _botpassword() -> str:
    return "".join(secrets.choice(_BOTPASS_ALPHABET) for _ in range(32))


@functools.lru_cache(maxsize=None)
def _default_signals_prefix() -> tuple[str, ...]:
    """`env --default-signal`: SIGINT may be ignored by whoever started us (e.g. `cmd &`), and
    php -S would inherit that; stop() relies on SIGINT. (GNU coreutils >= 8.31.)"""
    try:
        out = subprocess.run(["env", "--default-signal=INT,TERM", "true"], capture_output=True,
                             timeout=10)
        if out.returncode == 0:
            return ("env", "--default-signal=INT,TERM")
    except (OSError, subprocess.SubprocessError):
        pass
    return ()


def _process_group_members(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...
        rest = stat.rsplit(")", 1)[-1].split()
        if len(rest) >= 3 and int(rest[2]) == pgid and rest[0] != "Z":
            pids.append(int(entry))
    return pids


class MediaWikiFarm:
    """Several MediaWiki sites (one per language code) served by `php -S` on 127.0.0.1."""

    STATE_FILE = "farm.json"

    def __init__(self, workdir: Path, codes: Iterable[str] = ("cs", "ko", "en")):
        self.workdir = Path(workdir).resolve()
        self.codes = tuple(codes)
        for code in self.codes:
            if code not in _WIKI_PROFILES:
                raise ValueError(f"unknown wiki code {code!r}; known: {sorted(_WIKI_PROFILES)}")
        self.wikis: dict[str, LocalWiki] = {}
        self.ip: Path | None = None
        self.timings: dict[str, float] = {}
        self._atexit_registered = False
        self._load_state()

    # -- state ----------------------------------------------------------------

    @property
    def state_file(self) -> Path:
        return self.workdir / self.STATE_FILE

    def _load_state(self) -> None:
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return
        wikis = {d["code"]: LocalWiki.from_json(d) for d in data.get("wikis", [])}
        if all(c in wikis and (wikis[c].snapshot_dir).is_dir() for c in self.codes):
            self.wikis = {c: wikis[c] for c in self.codes}

    def _save_state(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        data = {"mediawiki": str(self.ip) if self.ip else None,
                "wikis": [w.to_json() for w in self.wikis.values()]}
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False))
        tmp.replace(self.state_file)

    @property
    def is_set_up(self) -> bool:
        return bool(self.wikis) and all(w.snapshot_dir.is_dir() for w in self.wikis.values())

    # -- code -----------------------------------------------------------------

    def ensure_code(self) -> Path:
        t0 = time.monotonic()
        self.ip = ensure_code()
        self.timings["ensure_code"] = time.monotonic() - t0
        return self.ip

    def _env(self, wiki: LocalWiki) -> dict[str, str]:
        env = dict(os.environ)
        env["MW_CONFIG_FILE"] = str(wiki.settings_file)
        env["MW_PORT"] = str(wiki.port or _DEFAULT_PORT)
        env["MW_INSTALL_PATH"] = str(self.ip)
        env.pop("PHP_CLI_SERVER_WORKERS", None)
        return env

    def maintenance(self, code: str, script: str, *args: str, timeout: float = 300) -> str:
        """Run `maintenance/run.php SCRIPT ARGS` against one wiki; return its stdout."""
        if self.ip is None:
            self.ensure_code()
        wiki = self.wikis[code]
        try:
            return _run(["php", str(self.ip / "maintenance" / "run.php"), script, *args],
                        env=self._env(wiki), timeout=timeout, cwd=wiki.root)
        except subprocess.SubprocessError as exc:
            raise RuntimeError(f"{code}: maintenance script {script} failed: {exc}") from exc

    # -- setup ----------------------------------------------------------------

    def setup(self) -> None:
        """Create the wikis from scratch (install.php, settings, accounts), then snapshot them."""
        self.stop()
        if self.ip is None:
            self.ensure_code()
        t0 = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        wikis = {}
        for code in self.codes:
            root = self.workdir / code
            if root.exists():
                shutil.rmtree(root)
            root.mkdir(parents=True)
            wikis[code] = LocalWiki(
                code=code,
                dbname=f"{code}wiki",
                port=0,
                root=root,
                bot=WikiAccount(f"TestBot@{BOT_APPID}", _botpassword()),
                bot_main_user="TestBot",
                bot_main_password="bot-" + secrets.token_hex(10),
                human=WikiAccount("OtherUser", "human-" + secrets.token_hex(10)),
                admin=WikiAccount("Admin", "admin-" + secrets.token_hex(10)),
            )
        self.wikis = wikis
        with ThreadPoolExecutor(max_workers=len(wikis)) as pool:
            for fut in [pool.submit(self._setup_one, w) for w in wikis.values()]:
                fut.result()
        self._save_state()
        self.timings["setup"] = time.monotonic() - t0

    def _setup_one(self, wiki: LocalWiki) -> None:
        profile = _WIKI_PROFILES[wiki.code]
        for sub in ("data", "images", "tmp", "cache/l10n"):
            (wiki.root / sub).mkdir(parents=True, exist_ok=True)
        env = self._env(wiki)
        try:
            _run([
                "php", str(self.ip / "maintenance" / "run.php"), "install",
                "--dbtype", "sqlite", "--dbpath", str(wiki.data_dir), "--dbname", wiki.dbname,
                "--server", f"http://127.0.0.1:{_DEFAULT_PORT}", "--scriptpath", "",
                "--lang", wiki.code, "--pass", wiki.admin.password, "--confpath", str(wiki.root),
                "--skins", "Vector", "--extensions", ",".join(EXTENSIONS),
                profile["sitename"], wiki.admin.username,
            ], env=env, timeout=600, cwd=wiki.root)
        except subprocess.SubprocessError as exc:
            raise MediaWikiUnavailable(f"{wiki.code}: install.php failed: {exc}") from exc
        root_php = _quote_php(str(wiki.root))
        extra = _COMMON_SETTINGS.format(
            default_port=_DEFAULT_PORT,
            sitename=_quote_php(profile["sitename"]),
            timezone=_quote_php(profile["timezone"]),
            root=root_php,
            lang_settings=profile["settings"].strip(),
        )
        with open(wiki.settings_file, "a", encoding="utf-8") as fh:
            fh.write(extra)
        self.maintenance(wiki.code, "createAndPromote", "--bot", wiki.bot_main_user,
                         wiki.bot_main_password)
        self.maintenance(wiki.code, "createAndPromote", wiki.human.username, wiki.human.password)
        self.maintenance(wiki.code, "createBotPassword", "--appid", BOT_APPID,
                         "--grants", BOT_GRANTS, wiki.bot_main_user, wiki.bot.password)
        # Warm the localisation cache (kept outside data/, survives reset()).
        self.maintenance(wiki.code, "rebuildLocalisationCache", "--lang", f"{wiki.code},en",
                         "--no-progress", "--threads", "1", timeout=600)
        self._snapshot(wiki)

    # -- snapshot / reset -----------------------------------------------------

    @staticmethod
    def _snapshot(wiki: LocalWiki) -> None:
        snap = wiki.snapshot_dir
        if snap.exists():
            shutil.rmtree(snap)
        shutil.copytree(wiki.data_dir, snap, symlinks=True)

    def reset(self) -> None:
        """Restore every wiki's data folder from the snapshot taken by setup()."""
        if not self.is_set_up:
            raise RuntimeError("reset() before setup()")
        for wiki in self.wikis.values():
            snap, data = wiki.snapshot_dir, wiki.data_dir
            snap_files = {p.name for p in snap.iterdir() if p.is_file()}
            for p in data.iterdir():
                if p.is_file() and p.name not in snap_files:
                    p.unlink()  # e.g. stray -journal / -wal files
            for name in snap_files:
                tmp = data / f".{name}.restore"
                shutil.copyfile(snap / name, tmp)
                os.chmod(tmp, (snap / name).stat().st_mode & 0o777)
                os.replace(tmp, data / name)

    # -- servers --------------------------------------------------------------

    def start(self, ports: dict[str, int] | None = None) -> None:
        """Start one `php -S` per wiki and wait until each answers.

        Ports are free ones unless `ports` names them (the demo uses fixed ports that
        config/demo.yaml points at).
        """
        self._fixed_ports = dict(ports or {})
        if not self.is_set_up:
            self.setup()
        if self.ip is None:
            self.ensure_code()
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        t0 = time.monotonic()
        try:
            todo = [w for w in self.wikis.values()
                    if w.process is None or w.process.poll() is not None]
            if todo:
                with ThreadPoolExecutor(max_workers=len(todo)) as pool:
                    for fut in [pool.submit(self._start_one, w) for w in todo]:
                        fut.result()
            deadline = time.monotonic() + 60
            for wiki in self.wikis.values():
                self._wait_ready(wiki, deadline)
        except BaseException:
            self.stop()
            raise
        self._save_state()
        self.timings["start"] = time.monotonic() - t0

    def _start_one(self, wiki: LocalWiki, attempts: int = 5) -> None:
        last = ""
        fixed = getattr(self, "_fixed_ports", {}).get(wiki.code)
        for _ in range(1 if fixed else attempts):
            wiki.port = fixed or _free_port()
            env = self._env(wiki)
            env["PHP_CLI_SERVER_WORKERS"] = "4"
            log = open(wiki.root / "server.log", "ab")
            try:
                proc = subprocess.Popen(
                    [*_default_signals_prefix(), "php", "-q", "-S", f"127.0.0.1:{wiki.port}",
                     "-t", str(self.ip)],
                    env=env, cwd=wiki.root, stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, start_new_session=True,
                )
            finally:
                log.close()
            wiki.process = proc
            # A taken port makes php -S exit at once; otherwise probe the wiki id.
            try:
                self._wait_ready(wiki, time.monotonic() + 20)
                return
            except RuntimeError as exc:
                last = str(exc)
                self._stop_one(wiki)
        raise MediaWikiUnavailable(f"{wiki.code}: php -S did not come up: {last}")

    def _wait_ready(self, wiki: LocalWiki, deadline: float) -> None:
        params = {"action": "query", "meta": "siteinfo", "format": "json", "formatversion": "2"}
        last = "no answer"
        while time.monotonic() < deadline:
            if wiki.process is None or wiki.process.poll() is not None:
                raise RuntimeError(f"php -S exited (see {wiki.root / 'server.log'})")
            try:
                r = requests.get(wiki.api_url, params=params, timeout=10)
                if r.ok:
                    wid = r.json().get("query", {}).get("general", {}).get("wikiid")
                    if wid == wiki.dbname:
                        return
                    last = f"wikiid {wid!r}"
                else:
                    last = f"HTTP {r.status_code}"
            except (requests.RequestException, ValueError) as exc:
                last = type(exc).__name__
            time.sleep(0.05)
        raise RuntimeError(f"{wiki.api_url} not ready: {last}")

    @staticmethod
    def _stop_one(wiki: LocalWiki) -> None:
        proc = wiki.process
        if proc is None:
            return
        pgid = proc.pid  # start_new_session: the master leads its own process group
        try:
            # SIGINT to the whole group: the workers exit and the master reaps them before it
            # exits itself (SIGTERM/SIGKILL to the master alone would orphan the workers).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGINT)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                proc.wait(timeout=5)
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                left = _process_group_members(pgid)
                if not left:
                    break
                for pid in left:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                time.sleep(0.02)
        finally:
            wiki.process = None

    def stop(self) -> None:
        """Stop every server (kill its process group). Safe to call repeatedly."""
        for wiki in self.wikis.values():
            with contextlib.suppress(Exception):
                self._stop_one(wiki)

    def __enter__(self) -> "MediaWikiFarm":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- opt-in: an extension deployed from git (for deployment tests) ---------

    _GIT_EXT_MARK = "# ---- ambassador-bot git extension {name} ({state}) ----"

    def use_git_extension(self, code: str, name: str, *, commit_date: int,
                          remote: str | None = None) -> Path:
        """Give wiki `code` its own copy of the bundled extension `name` as a git checkout and load it from there.

        Opt-in; nothing else changes. The copy (``<wiki root>/git-extensions/<name>``) gets one commit
        whose author and committer date is `commit_date` (epoch seconds) and an ``origin`` remote on
        Wikimedia's Gerrit, so ``meta=siteinfo&siprop=extensions`` reports real ``vcs-version``,
        ``vcs-url`` and ``vcs-date`` for it. The wiki's LocalSettings gets a marked
        ``wfLoadExtension(name, path)`` block; `drop_git_extension` takes both away again (the
        farm's reset() restores data only, not settings).
        """
        if self.ip is None:
            self.ensure_code()
        wiki = self.wikis[code]
        source = (self.ip / "extensions" / name).resolve()
        if not (source / "extension.json").is_file():
            raise ValueError(f"no bundled extension {name!r} in {self.ip / 'extensions'}")
        self.drop_git_extension(code, name)
        target = wiki.root / "git-extensions" / name
        shutil.copytree(source, target, symlinks=False)
        remote = remote or f"https://gerrit.wikimedia.org/r/mediawiki/extensions/{name}"
        self._git(target, "init", "-q", "-b", "master")
        self._git(target, "remote", "add", "origin", remote)
        self._git(target, "add", "-A")
        self.commit_git_extension(code, name, commit_date=commit_date, message=f"Import {name}", _add=False)
        begin, end = (self._GIT_EXT_MARK.format(name=name, state=s) for s in ("begin", "end"))
        with open(wiki.settings_file, "a", encoding="utf-8") as fh:
            fh.write(f"\n{begin}\nwfLoadExtension( {_quote_php(name)}, "
                     f"{_quote_php(str(target / 'extension.json'))} );\n{end}\n")
        self._wait_for_extension(code, name, lambda ext: ext is not None and ext.get("vcs-date"))
        return target

    def commit_git_extension(self, code: str, name: str, *, commit_date: int, message: str = "Deploy",
                             _add: bool = True) -> str:
        """One more commit (empty unless files changed) dated `commit_date` in the wiki's checkout; returns its hash."""
        target = self.wikis[code].root / "git-extensions" / name
        if _add:
            self._git(target, "add", "-A")
        stamp = f"@{int(commit_date)} +0000"
        self._git(target, "-c", "user.name=Sandbox", "-c", "user.email=sandbox@example.org", "commit", "-q",
                  "--allow-empty", "-m", message,
                  env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp})
        head = self._git(target, "rev-parse", "HEAD").strip()
        if _add:
            self._wait_for_extension(code, name, lambda ext: ext is not None and ext.get("vcs-version") == head)
        return head

    def drop_git_extension(self, code: str, name: str) -> None:
        """Undo use_git_extension: the LocalSettings block and the checkout go away."""
        wiki = self.wikis[code]
        begin, end = (self._GIT_EXT_MARK.format(name=name, state=s) for s in ("begin", "end"))
        text = wiki.settings_file.read_text(encoding="utf-8")
        if begin in text:
            before, _, rest = text.partition("\n" + begin)
            _, _, after = rest.partition(end + "\n")
            wiki.settings_file.write_text(before + after, encoding="utf-8")
            self._wait_for_extension(code, name, lambda ext: ext is None)
        shutil.rmtree(wiki.root / "git-extensions" / name, ignore_errors=True)

    def _wait_for_extension(self, code: str, name: str, ready, timeout: float = 30) -> None:
        """Until the running wiki's siteinfo shows the change (a request right after a settings edit
        was seen to answer from the old settings)."""
        wiki = self.wikis[code]
        if not wiki.port:
            return
        deadline = time.monotonic() + timeout
        while True:
            exts = self.api(code).get(action="query", meta="siteinfo", siprop="extensions")["query"]["extensions"]
            if ready(next((e for e in exts if e.get("name") == name), None)):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{code}: siteinfo does not show the change to extension {name} after {timeout:g} s")
            time.sleep(0.5)

    @staticmethod
    def _git(where: Path, *args: str, env: dict[str, str] | None = None) -> str:
        full_env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(where.parent), **(env or {})}
        return subprocess.run(["git", *args], cwd=where, env=full_env, check=True, capture_output=True,
                              text=True, timeout=60).stdout

    # -- clients --------------------------------------------------------------

    def api(self, code: str, account: WikiAccount | None = None) -> "ApiClient":
        client = ApiClient(self.wikis[code].api_url)
        if account is not None:
            client.login(account)
        return client


# --------------------------------------------------------------------------- tiny API client


class ApiClient:
    """A small requests-based MediaWiki API client for tests and demo seeding."""

    def __init__(self, api_url: str, timeout: float = 60):
        self.api_url = api_url
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "ambassador-bot-sandbox/0.1 (tests)"
        self.account: WikiAccount | None = None
        self._csrf: str | None = None

    @staticmethod
    def _check(data: dict) -> dict:
        if "error" in data:
            err = data["error"]
            raise RuntimeError(f"API error {err.get('code')}: {err.get('info')}")
        return data

    def get(self, **params: Any) -> dict:
        params.update(format="json", formatversion="2")
        r = self.session.get(self.api_url, params=params, timeout=self.timeout)
        r.raise_for_status()
        return self._check(r.json())

    def post(self, **params: Any) -> dict:
        params.update(format="json", formatversion="2")
        r = self.session.post(self.api_url, data=params, timeout=self.timeout)
        r.raise_for_status()
        return self._check(r.json())

    def token(self, kind: str = "csrf") -> str:
        data = self.get(action="query", meta="tokens", type=kind)
        return data["query"]["tokens"][f"{kind}token"]

    def login(self, account: WikiAccount) -> dict:
        self.session.cookies.clear()
        self._csrf = None
        tok = self.token("login")
        data = self.post(action="login", lgname=account.username, lgpassword=account.password,
                         lgtoken=tok)
        if data.get("login", {}).get("result") != "Success":
            raise RuntimeError(f"login as {account.username} failed: {data.get('login')}")
        self.account = account
        return data["login"]

    def csrf(self) -> str:
        if self._csrf is None:
            self._csrf = self.token("csrf")
        return self._csrf

    def _write(self, **params: Any) -> dict:
        params["token"] = self.csrf()
        try:
            return self.post(**params)
        except RuntimeError as exc:
            if "badtoken" not in str(exc):
                raise
            self._csrf = None
            params["token"] = self.csrf()
            return self.post(**params)

    def edit(self, title: str, text: str, summary: str = "", **extra: Any) -> dict:
        data = self._write(action="edit", title=title, text=text, summary=summary, **extra)
        edit = data["edit"]
        if edit.get("result") != "Success":
            raise RuntimeError(f"edit of {title} failed: {edit}")
        return edit

    def page_text(self, title: str) -> str | None:
        data = self.get(action="query", prop="revisions", titles=title, rvprop="content",
                        rvslots="main")
        page = data["query"]["pages"][0]
        if page.get("missing") or page.get("invalid"):
            return None
        return page["revisions"][0]["slots"]["main"]["content"]

    def revisions(self, title: str, limit: int = 50) -> list[dict]:
        data = self.get(action="query", prop="revisions", titles=title, rvlimit=limit,
                        rvprop="ids|user|timestamp|comment|flags|tags")
        page = data["query"]["pages"][0]
        return page.get("revisions", [])

    def protect(self, title: str, level: str = "sysop") -> dict:
        return self._write(action="protect", title=title,
                           protections=f"edit={level}|move={level}", expiry="infinite")

    def block(self, user: str) -> dict:
        return self._write(action="block", user=user, expiry="infinite", reason="test")

    def unblock(self, user: str) -> dict:
        return self._write(action="unblock", user=user, reason="test")


# --------------------------------------------------------------------------- CLI


def _default_workdir() -> Path:
    return Path(os.environ.get("AMBASSADOR_MW_WORKDIR", "var/mediawiki"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sandbox.mediawiki",
                                 description="Local MediaWiki farm for tests and the demo")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p_inst = sub.add_parser("install", help="fetch MediaWiki 1.43 and PHP (and set up wikis "
                                           "with --workdir)")
    p_inst.add_argument("--workdir", type=Path, default=None)
    p_inst.add_argument("--codes", default="cs,ko,en")
    p_start = sub.add_parser("start", help="set up (if needed) and serve the wikis until Ctrl-C")
    p_start.add_argument("--workdir", type=Path, default=_default_workdir())
    p_start.add_argument("--codes", default="cs,ko,en")
    p_start.add_argument("--fresh", action="store_true", help="recreate the wikis first")
    args = ap.parse_args(argv)
    codes = tuple(c for c in args.codes.split(",") if c)
    try:
        if args.cmd == "install":
            t0 = time.monotonic()
            ip = ensure_code()
            print(f"MediaWiki {_mw_version(ip)} ready in {ip} ({time.monotonic() - t0:.1f} s)")
            if args.workdir:
                farm = MediaWikiFarm(args.workdir, codes)
                farm.setup()
                print(f"wikis set up in {farm.workdir} ({farm.timings['setup']:.1f} s)")
            return 0
        farm = MediaWikiFarm(args.workdir, codes)
        if args.fresh or not farm.is_set_up:
            farm.ensure_code()
            farm.setup()
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        farm.start()
        try:
            for w in farm.wikis.values():
                print(f"{w.code}: {w.api_url}  bot={w.bot.username}:{w.bot.password}  "
                      f"human={w.human.username}:{w.human.password}  "
                      f"admin={w.admin.username}:{w.admin.password}")
            print(f"state: {farm.state_file}  (Ctrl-C to stop)", flush=True)
            while not stop.wait(1):
                for w in farm.wikis.values():
                    if w.process is None or w.process.poll() is not None:
                        print(f"{w.code}: php -S died, see {w.root / 'server.log'}",
                              file=sys.stderr)
                        return 1
        finally:
            farm.stop()
        return 0
    except MediaWikiUnavailable as exc:
        print(f"MediaWiki unavailable: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
