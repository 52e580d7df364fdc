"""A real Phorge (the maintained Phabricator fork) on 127.0.0.1 for the test suite.

The pinned sources come from ``../shared/phorge/`` (checked against its SHA256SUMS) or, on a
machine that has no such folder, from the same commits upstream. Each test session unpacks
them into its own folder, gives Phorge its own database namespace on the machine's MariaDB,
and serves it with ``php -S`` and a router (what the nginx rewrite rule does). Users and
Conduit tokens are made with Phorge's own classes (``phorge_admin.php``), because Phorge
has no CLI for them.

In front of ``php -S`` sits a small forwarding front door on its own port: it records each
Conduit call (method and decoded parameters) so that tests and benchmarks count requests at
the wire, and it can delay or fail chosen calls, the faults a real network adds. Everything
behind it is the real server: visibility, Spaces, project constraints, transactions and
errors are Phorge's own.

``PhorgeServer`` offers the helpers tests need (users, projects, tasks, Spaces, comments),
each done as a real user through Conduit. ``reset()`` returns the database to the state after
seeding in well under a second: only the tables changed since the last reset (by MariaDB's
UPDATE_TIME or a checksum against the seed) are emptied and refilled from the seed snapshot.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
PHORGE_COMMIT = "07c1a51310cff4d17ab727ee80fca6418cd17124"
ARCANIST_COMMIT = "3b6004a3ccbddf6c5225a38b7eb76ae26ad79704"
ARCHIVES = {  # folder name -> (archive file in shared/phorge, upstream repository, commit)
    "phorge": (f"phorge-{PHORGE_COMMIT[:12]}.tar.gz", "https://github.com/phorgeit/phorge", PHORGE_COMMIT),
    "arcanist": (f"arcanist-{ARCANIST_COMMIT[:12]}.tar.gz", "https://github.com/phorgeit/arcanist", ARCANIST_COMMIT),
}
PHP_MODULES = {"mysqli": "php-mysql", "curl": "php-curl", "mbstring": "php-mbstring", "gd": "php-gd",
               "zip": "php-zip", "dom": "php-xml", "intl": "php-intl"}
PHP_PACKAGES = ("php-cli", "php-mysql", "php-curl", "php-mbstring", "php-gd", "php-zip", "php-xml", "php-intl")
# Wikimedia-like statuses, plus Phorge's own defaults that older configs name.
STATUSES = {
    "open": {"name": "Open", "special": "default"},
    "progress": {"name": "In Progress"},
    "stalled": {"name": "Stalled"},
    "resolved": {"name": "Resolved", "closed": True, "special": "closed"},
    "declined": {"name": "Declined", "closed": True},
    "invalid": {"name": "Invalid", "closed": True},
    "duplicate": {"name": "Duplicate", "closed": True, "special": "duplicate"},
    "wontfix": {"name": "Wontfix", "closed": True},
    "spite": {"name": "Spite", "closed": True},
}
SEED_USERS = (("admin", "admin"), ("GrowthBot", "bot"), ("alice", "user"), ("bob", "user"))
NAMESPACE_PREFIX = "ambt"


class PhorgeUnavailable(RuntimeError):
    """The real Phorge cannot run on this machine; the message says why and what to install."""


# --- sources, PHP and MariaDB -----------------------------------------------------------------

def shared_folder() -> Path | None:
    env = os.environ.get("AMBASSADOR_PHORGE_SOURCES")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT.parent / "shared" / "phorge")
    return next((c for c in candidates if (c / "SHA256SUMS").is_file()), None)


def unpack_sources(dest: Path) -> Path:
    """Put `phorge/` and `arcanist/` side by side under `dest`; returns the Phorge root."""
    folder = shared_folder()
    if folder is not None:
        sums = {}
        for line in (folder / "SHA256SUMS").read_text().splitlines():
            digest, _, name = line.strip().partition("  ")
            sums[name.strip()] = digest
        for name, (archive, _, _) in ARCHIVES.items():
            path = folder / archive
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if sums.get(archive) != digest:
                raise PhorgeUnavailable(f"{path}: checksum does not match {folder / 'SHA256SUMS'}")
            # GNU tar unpacks the 56 MB tree about ten times faster than the tarfile module.
            try:
                _run(["tar", "-xzf", str(path), "-C", str(dest)], timeout=300)
            except (OSError, subprocess.SubprocessError):
                with tarfile.open(path) as tar:
                    tar.extractall(dest, filter="tar")
    else:
        for name, (_, repo, commit) in ARCHIVES.items():
            target = dest / name
            try:
                _run(["git", "init", "-q", str(target)])
                _run(["git", "-C", str(target), "fetch", "-q", "--depth", "1", repo, commit], timeout=600)
                _run(["git", "-C", str(target), "checkout", "-q", "FETCH_HEAD"])
            except (OSError, subprocess.SubprocessError) as exc:
                raise PhorgeUnavailable(f"no ../shared/phorge/ and fetching {repo}@{commit[:12]} failed: {exc}") from None
    return dest / "phorge"


def ensure_php() -> str:
    php = shutil.which("php")
    have = set()
    if php:
        out = subprocess.run([php, "-m"], capture_output=True, text=True, timeout=60).stdout
        have = {line.strip().lower() for line in out.splitlines()}
    missing = sorted({pkg for mod, pkg in PHP_MODULES.items() if mod not in have} | (set() if php else {"php-cli"}))
    if not missing:
        return php  # type: ignore[return-value]
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise PhorgeUnavailable("PHP for Phorge is missing (" + ", ".join(missing) + "): run as root "
                                "`apt-get install -y --no-install-recommends " + " ".join(PHP_PACKAGES) + "`")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        _run(["apt-get", "update", "-q"], env=env, timeout=600)
        _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *PHP_PACKAGES], env=env, timeout=1200)
    except subprocess.SubprocessError as exc:
        raise PhorgeUnavailable(f"installing PHP for Phorge failed: {exc}") from None
    return shutil.which("php")  # type: ignore[return-value]


def mariadb_settings() -> dict[str, Any]:
    """Host, port, user and password from AMBASSADOR_TEST_MARIADB_URL (default: root on 127.0.0.1:3306)."""
    url = os.environ.get("AMBASSADOR_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
    parts = urllib.parse.urlsplit(url)
    return {"host": parts.hostname or "127.0.0.1", "port": parts.port or 3306,
            "user": urllib.parse.unquote(parts.username or "root"),
            "password": urllib.parse.unquote(parts.password or "")}


def ensure_mariadb(db: dict[str, Any]) -> None:
    """Reach MariaDB; as root on a machine without a running server, install or start one."""
    if _mariadb_answers(db):
        return
    if os.geteuid() != 0 or db["host"] not in ("127.0.0.1", "localhost"):
        raise PhorgeUnavailable(f"MariaDB does not answer at {db['host']}:{db['port']}: start it, or set "
                                "AMBASSADOR_TEST_MARIADB_URL (mysql+pymysql://USER:PASS@HOST:PORT/test)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        if not shutil.which("mariadbd") and not Path("/usr/sbin/mariadbd").exists():
            _run(["apt-get", "update", "-q"], env=env, timeout=600)
            _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "mariadb-server"], env=env, timeout=1200)
        Path("/run/mysqld").mkdir(exist_ok=True)
        shutil.chown("/run/mysqld", "mysql", "mysql")
        _run(["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"])
    except (OSError, subprocess.SubprocessError, LookupError) as exc:
        raise PhorgeUnavailable(f"starting MariaDB failed: {exc}") from None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if _mariadb_answers(db):
            return
        time.sleep(0.5)
    raise PhorgeUnavailable(f"MariaDB was started but does not answer at {db['host']}:{db['port']}")


def _mariadb_answers(db) -> bool:
    import pymysql
    try:
        pymysql.connect(**db, connect_timeout=3).close()
        return True
    except pymysql.MySQLError:
        return False


def _run(cmd, *, env=None, timeout: float = 300, cwd=None) -> str:
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip())[-1500:]
        raise subprocess.SubprocessError(f"{' '.join(map(str, cmd[:3]))} exited {proc.returncode}: {tail}")
    return proc.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


ROUTER = """<?php
// Real files under webroot/ pass through; every other path goes to index.php with __path__,
// as the nginx rule `rewrite ^/(.*)$ /index.php?__path__=/$1` does.
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if ($path !== '/' && is_file($_SERVER['DOCUMENT_ROOT'] . $path)) {
  return false;
}
$_GET['__path__'] = $path;
$_REQUEST['__path__'] = $path;
require $_SERVER['DOCUMENT_ROOT'] . '/index.php';
"""


# --- the server -------------------------------------------------------------------------------

class PhorgeServer:
    """A real Phorge with a recording front door; ``url`` is the front door's address."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.clock = time.time          # a test may freeze it: helper-made changes are then backdated
        self.requests: list[tuple[str, dict]] = []
        self.users: dict[str, dict[str, str]] = {}
        self.bot_token = ""
        self.url = ""
        self._db = mariadb_settings()
        self.namespace = f"{NAMESPACE_PREFIX}{os.getpid()}x{secrets.token_hex(3)}"
        self._proc: subprocess.Popen | None = None
        self._front: ThreadingHTTPServer | None = None
        self._lock = threading.RLock()
        self._faults: dict[str, list[str]] = {}
        self._delays: dict[str, float] = {}
        self._session = requests.Session()
        self._seed_rows: dict[str, tuple[list[str], list[tuple]]] = {}
        self._reset_mark = 0
        self._spaces: dict[str, str] = {}
        self._conn = None

    # -- lifecycle --

    def start(self) -> "PhorgeServer":
        php = ensure_php()
        ensure_mariadb(self._db)
        self._drop_stale_namespaces()
        self.root = unpack_sources(self.workdir)
        self._php_port = _free_port()
        self._configure()
        try:
            _run([str(self.root / "bin" / "storage"), "upgrade", "--force"], timeout=600)
        except subprocess.SubprocessError as exc:
            raise PhorgeUnavailable(f"Phorge storage upgrade failed: {exc}") from None
        self._serve(php)
        self._start_front()
        self.users = json.loads(self._admin("users", ",".join(f"{n}:{r}" for n, r in SEED_USERS)))
        self.bot_token = self.users["GrowthBot"]["token"]
        self._snapshot_seed()
        return self

    def _configure(self) -> None:
        local = {
            "mysql.host": self._db["host"], "mysql.port": str(self._db["port"]),
            "mysql.user": self._db["user"], "mysql.pass": self._db["password"],
            "storage.default-namespace": self.namespace,
            "phabricator.base-uri": f"http://127.0.0.1:{self._php_port}/",
            "policy.allow-public": True,
            "security.outbound-blacklist": [],
            "maniphest.statuses": STATUSES,
            "phabricator.timezone": "UTC",
            "pygments.enabled": False,
            # Daemons (webhook deliveries) of this install only, with their logs in its folder.
            "phd.log-directory": str(self.workdir / "phd-log"),
            "phd.taskmasters": 1,
        }
        conf = self.root / "conf" / "local" / "local.json"
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(json.dumps(local, indent=1))

    def _serve(self, php: str) -> None:
        router = self.workdir / "router.php"
        router.write_text(ROUTER)
        log = open(self.workdir / "php-server.log", "ab")
        env = dict(os.environ, PHP_CLI_SERVER_WORKERS="4")
        # Own process group: the workers outlive the master unless the whole group is killed.
        self._proc = subprocess.Popen([php, "-d", "apc.enabled=0", "-S", f"127.0.0.1:{self._php_port}",
                                       "-t", str(self.root / "webroot"), str(router)],
                                      stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env,
                                      start_new_session=True)
        self._php_url = f"http://127.0.0.1:{self._php_port}/"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                answer = self._session.post(self._php_url + "api/conduit.ping", timeout=5).json()
                if answer.get("error_code") is None:
                    return
            except (requests.RequestException, ValueError):
                pass
            if self._proc.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise PhorgeUnavailable(f"php -S did not serve Phorge on port {self._php_port} "
                                f"(see {self.workdir / 'php-server.log'})")

    def stop(self) -> None:
        self.stop_daemons()
        if self._front is not None:
            self._front.shutdown()
            self._front.server_close()
            self._front = None
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, signal.SIGTERM)
                self._proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
            self._proc = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._drop_namespace(self.namespace)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- the database --

    def _sql(self):
        import pymysql
        if self._conn is None:
            self._conn = pymysql.connect(**self._db, autocommit=True, charset="utf8mb4")
        return self._conn

    def execute(self, query: str, args=()) -> list[tuple]:
        with self._lock:
            cur = self._sql().cursor()
            cur.execute(query, args)
            return list(cur.fetchall())

    def _tables(self) -> list[tuple[str, str]]:
        return self.execute("SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES "
                            "WHERE TABLE_SCHEMA LIKE %s", (self.namespace.replace("_", r"\_") + r"\_%",))

    def _drop_namespace(self, namespace: str) -> None:
        try:
            for (schema,) in self.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
                                          (namespace + r"\_%",)):
                self.execute(f"DROP DATABASE `{schema}`")
        except Exception:  # best effort at shutdown; a later session drops what is left
            pass
        finally:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _drop_stale_namespaces(self) -> None:
        """Drop the databases of earlier test sessions whose process is gone (a killed run)."""
        rows = self.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
                            (NAMESPACE_PREFIX + "%",))
        for (schema,) in rows:
            match = re.match(rf"{NAMESPACE_PREFIX}(\d+)x[0-9a-f]+_", schema)
            if match and not _pid_alive(int(match.group(1))):
                self.execute(f"DROP DATABASE `{schema}`")

    def _snapshot_seed(self) -> None:
        time.sleep(max(0.0, 1.05 - (time.time() % 1)))   # UPDATE_TIME has 1-second resolution
        self._seed_rows = {}
        for schema, table in self._tables():
            rows = self.execute(f"SELECT * FROM `{schema}`.`{table}`")
            if rows:
                cols = [c for (c,) in self.execute(
                    "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s "
                    "ORDER BY ORDINAL_POSITION", (schema, table))]
                self._seed_rows[f"`{schema}`.`{table}`"] = (cols, rows)
        self._seed_checksums = self._checksums()
        self._reset_mark = int(self.execute("SELECT UNIX_TIMESTAMP()")[0][0])

    def _checksums(self) -> dict[str, int | None]:
        """CHECKSUM TABLE of every table of the namespace, in one statement (about 0.03 s for 500)."""
        names = [f"`{schema}`.`{table}`" for schema, table in self._tables()]
        rows = self.execute("CHECKSUM TABLE " + ",".join(names))
        return {".".join(f"`{part}`" for part in name.split(".", 1)): value for name, value in rows}

    def _dirty_tables(self) -> set[str]:
        """Tables written since the last reset: MariaDB's UPDATE_TIME, and a checksum against the
        seed, because UPDATE_TIME lives in memory only and is forgotten when a table leaves the
        table-definition cache (400 by default; a namespace has about 500 tables)."""
        recent = self.execute(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA LIKE %s "
            "AND UPDATE_TIME >= FROM_UNIXTIME(%s)", (self.namespace.replace("_", r"\_") + r"\_%", self._reset_mark))
        dirty = {f"`{schema}`.`{table}`" for schema, table in recent}
        dirty |= {name for name, value in self._checksums().items() if value != self._seed_checksums.get(name)}
        return dirty

    def reset(self) -> None:
        """Back to the seeded state: users admin/GrowthBot/alice/bob with their tokens, nothing else."""
        self.stop_daemons()
        with self._lock:
            mark = int(self.execute("SELECT UNIX_TIMESTAMP()")[0][0])
            dirty = self._dirty_tables()
            self.execute("SET FOREIGN_KEY_CHECKS=0")
            for name in sorted(dirty):
                self.execute(f"DELETE FROM {name}")
                if name in self._seed_rows:
                    cols, rows = self._seed_rows[name]
                    marks = ",".join(["%s"] * len(cols))
                    self._sql().cursor().executemany(
                        f"INSERT INTO {name} ({','.join(f'`{c}`' for c in cols)}) VALUES ({marks})", rows)
                self.execute(f"ALTER TABLE {name} AUTO_INCREMENT = 1")
            self.execute("SET FOREIGN_KEY_CHECKS=1")
            self._reset_mark = mark
            self._spaces.clear()
            self._faults.clear()
            self._delays.clear()
            self.clock = time.time
            self.requests = []

    # -- the front door: request log, delays and faults --

    def _start_front(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                server._forward(self)

            def do_GET(self):
                server._forward(self)

            def log_message(self, *args):
                pass

        self._front = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._front.daemon_threads = True
        threading.Thread(target=self._front.serve_forever, name="phorge-front", daemon=True).start()
        self.url = f"http://127.0.0.1:{self._front.server_address[1]}/"

    def _forward(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        method = handler.path.split("?")[0].rsplit("/api/", 1)[-1] if "/api/" in handler.path else handler.path
        with self._lock:
            self.requests.append((method, _decode_params(body)))
            fault = self._faults.get(method, [None]).pop(0) if self._faults.get(method) else None
            delay = self._delays.get(method, 0.0)
        if fault == "drop":
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "http500":
            return _reply(handler, 500, b"<html><body>Internal Server Error</body></html>", "text/html")
        if fault == "error":
            return _reply(handler, 200, json.dumps({"result": None, "error_code": "ERR-CONDUIT-CORE",
                                                    "error_info": "injected fault"}).encode(), "application/json")
        headers = {k: v for k, v in handler.headers.items() if k.lower() in ("content-type", "user-agent", "x-phabricator-webhook-signature")}
        answer = self._session.request(handler.command, self._php_url.rstrip("/") + handler.path,
                                       data=body, headers=headers, timeout=120)
        if delay:
            time.sleep(delay)
        _reply(handler, answer.status_code, answer.content, answer.headers.get("Content-Type", "application/json"))

    def set_delay(self, method: str, seconds: float) -> None:
        """Answer ``method`` only after ``seconds`` (the server does the call at once)."""
        with self._lock:
            if seconds:
                self._delays[method] = float(seconds)
            else:
                self._delays.pop(method, None)

    def fail_next(self, method: str, count: int = 1, mode: str = "http500") -> None:
        """Fail the next ``count`` calls of ``method`` before they reach the server:
        ``http500``, ``drop`` (close the connection, no answer) or ``error`` (HTTP 200 with an error)."""
        if mode not in ("http500", "drop", "error"):
            raise ValueError(mode)
        with self._lock:
            self._faults.setdefault(method, []).extend([mode] * count)

    def clear_request_log(self) -> None:
        with self._lock:
            self.requests = []

    # -- Conduit as a named user --

    def call(self, method: str, params: dict | None = None, *, as_user: str = "admin") -> Any:
        """Call Conduit directly on the server (not through the front door: not logged)."""
        payload = dict(params or {})
        payload["__conduit__"] = {"token": self.users[as_user]["token"]}
        answer = self._session.post(self._php_url + "api/" + method, timeout=60,
                                    data={"params": json.dumps(payload), "output": "json", "__conduit__": "1"}).json()
        if answer.get("error_code"):
            raise RuntimeError(f"{method} as {as_user}: {answer['error_code']}: {answer['error_info']}")
        return answer["result"]

    def ping(self) -> bool:
        return self.call("conduit.ping") is not None

    def _admin(self, *args: str) -> str:
        try:
            return _run(["php", str(ROOT / "sandbox" / "phorge_admin.php"), str(self.root), *args], timeout=120)
        except subprocess.SubprocessError as exc:
            raise RuntimeError(f"phorge_admin.php {args[0]}: {exc}") from None

    # -- test helpers, as in sandbox.conduit.ConduitSandbox --

    def create_user(self, username: str, realname: str | None = None, bot: bool = False, admin: bool = False) -> str:
        role = "admin" if admin else "bot" if bot else "user"
        self.users.update(json.loads(self._admin("users", f"{username}:{role}")))
        return self.users[username]["phid"]

    def user_phid(self, ref: str) -> str:
        return ref if ref.startswith("PHID-") else self.users[ref]["phid"]

    def create_project(self, name: str, slug: str | None = None, *, members=(), description: str = "",
                       icon: str = "project", color: str = "blue", parent: str | None = None,
                       milestone: str | None = None) -> str:
        xactions = project_transactions(name, slug, members=[self.user_phid(m) for m in members],
                                        description=description, icon=icon, color=color,
                                        parent=parent and self._project_phid(parent),
                                        milestone=milestone and self._project_phid(milestone))
        result = self.call("project.edit", {"transactions": xactions})
        return result["object"]["phid"]

    def _project_phid(self, ref: str) -> str:
        if ref.startswith("PHID-"):
            return ref
        rows = self.call("project.search", {"constraints": {"slugs": [ref.lstrip("#")]}})["data"]
        if not rows:
            raise ValueError(f"unknown project {ref!r}")
        return rows[0]["phid"]

    def create_task(self, title: str, *, description: str = "", status: str = "open", priority: str = "normal",
                    projects=(), owner=None, author: str = "alice", view_policy: str = "public",
                    subtype: str = "default", date_modified: int | None = None, subscribers=(),
                    space: str | None = None) -> int:
        """Create a task as ``author`` with ``maniphest.edit``. ``date_modified`` (or a frozen
        ``clock``) backdates the whole creation, dateCreated = dateModified."""
        xactions = [{"type": "title", "value": title}]
        if description:
            xactions.append({"type": "description", "value": description})
        xactions += [{"type": "priority", "value": priority}, {"type": "status", "value": status}]
        if projects:
            xactions.append({"type": "projects.add", "value": [self._project_phid(p) for p in projects]})
        if owner is not None:
            xactions.append({"type": "owner", "value": self.user_phid(owner)})
        if subscribers:
            xactions.append({"type": "subscribers.add", "value": [self.user_phid(s) for s in subscribers]})
        # A policy that would lock the author out (e.g. "admin") is refused to the author:
        # an administrator sets it in a second edit, as a person would.
        restricted = view_policy not in ("public", "users")
        xactions.append({"type": "view", "value": "users" if restricted else view_policy})
        if space:
            xactions.append({"type": "space", "value": self._spaces.get(space, space)})
        if subtype != "default":
            xactions.append({"type": "subtype", "value": subtype})
        result = self.call("maniphest.edit", {"transactions": xactions}, as_user=author)
        task_id = int(result["object"]["id"])
        if restricted:
            result["transactions"] += [{"phid": p} for p in self.update_task(task_id, actor="admin", view_policy=view_policy)]
        self._backdate(task_id, result, date_modified, created=True)
        return task_id

    def update_task(self, task_id: int, *, actor: str = "alice", **changes) -> list[str]:
        """Edit like maniphest.edit: title, status, priority, owner, view_policy, description, comment,
        subtype, space, projects_add/projects_remove (PHIDs or slugs), subscribers_add."""
        mapping = {"title": "title", "status": "status", "priority": "priority", "owner": "owner",
                   "view_policy": "view", "description": "description", "comment": "comment",
                   "subtype": "subtype", "projects_add": "projects.add", "projects_remove": "projects.remove",
                   "subscribers_add": "subscribers.add", "space": "space"}
        xactions = []
        for key, value in changes.items():
            if key not in mapping:
                raise TypeError(f"update_task() got an unexpected change {key!r}")
            if key == "owner" and value is not None:
                value = self.user_phid(value)
            elif key in ("projects_add", "projects_remove"):
                value = [self._project_phid(p) for p in value]
            elif key == "subscribers_add":
                value = [self.user_phid(s) for s in value]
            elif key == "view_policy":
                value = self._policy(value)
            elif key == "space":
                value = self._spaces.get(value, value)
            xactions.append({"type": mapping[key], "value": value})
        result = self.call("maniphest.edit", {"objectIdentifier": f"T{int(task_id)}", "transactions": xactions},
                           as_user=actor)
        phids = [x["phid"] for x in result.get("transactions", [])]
        self._backdate(task_id, result, None, created=False)
        return phids

    def _policy(self, policy: str) -> str:
        # Tests name a project by slug ("#growth-team") for "members of project".
        return self._project_phid(policy[1:]) if policy.startswith("#") else policy

    def _backdate(self, task_id: int, result: dict, when: int | None, *, created: bool) -> None:
        if when is None and self.clock is time.time:
            return
        when = int(when if when is not None else self.clock())
        ns = self.namespace
        if created:
            self.execute(f"UPDATE `{ns}_maniphest`.maniphest_task SET dateCreated=%s, dateModified=%s WHERE id=%s",
                         (when, when, task_id))
        else:
            self.execute(f"UPDATE `{ns}_maniphest`.maniphest_task SET dateModified=%s WHERE id=%s", (when, task_id))
        phids = [x["phid"] for x in result.get("transactions", [])]
        if phids:
            marks = ",".join(["%s"] * len(phids))
            self.execute(f"UPDATE `{ns}_maniphest`.maniphest_transaction SET dateCreated=%s, dateModified=%s "
                         f"WHERE phid IN ({marks})", (when, when, *phids))

    def create_webhook(self, name: str, uri: str) -> str:
        """A firehose webhook (every change to every object, no Herald rule); returns its HMAC key.
        Deliveries are sent by the daemons: see start_daemons()."""
        return json.loads(self._admin("webhook", name, uri))["key"]

    def start_daemons(self) -> None:
        """`bin/phd start`: the task queue that sends webhooks and writes feed stories."""
        self._daemons = True
        _run([str(self.root / "bin" / "phd"), "start"], timeout=120)

    def stop_daemons(self) -> None:
        if getattr(self, "_daemons", False):
            self._daemons = False
            try:
                _run([str(self.root / "bin" / "phd"), "stop", "--force"], timeout=120)
            except (OSError, subprocess.SubprocessError):
                pass

    def create_space(self, name: str, view_policy: str, *, actor: str = "admin") -> str:
        """A Space whose view policy is ``view_policy`` (``public``, ``users``, ``admin``, a PHID or
        ``#slug``), made by ``actor``, who must be able to see it. The first Space made also makes a
        public default Space, as an install would have."""
        if not self._spaces:
            self._spaces["default"] = json.loads(self._admin("space", "Public", "public", "default", "admin"))["phid"]
        phid = json.loads(self._admin("space", name, self._policy(view_policy), "other", actor))["phid"]
        self._spaces[name] = phid
        return phid

    def comments(self, task_id: int) -> list[dict]:
        """Every comment on the task, oldest first: author (username), text, date."""
        rows = self.call("transaction.search", {"objectIdentifier": f"T{int(task_id)}", "limit": 100})["data"]
        names = {u["phid"]: name for name, u in self.users.items()}
        out = []
        for row in reversed(rows):
            for comment in row.get("comments") or []:
                out.append({"author": names.get(row["authorPHID"], row["authorPHID"]),
                            "text": comment["content"]["raw"], "date": row["dateCreated"]})
        return out

    def edit_comment(self, xact_phid: str, text: str, *, actor: str) -> int:
        """Edit a comment as its author would in the web UI (Conduit cannot); returns the new version."""
        return json.loads(self._admin("comment", xact_phid, actor, "edit", text))["version"]

    def remove_comment(self, xact_phid: str, *, actor: str) -> int:
        """Remove a comment as in the web UI (Conduit cannot); returns the new version."""
        return json.loads(self._admin("comment", xact_phid, actor, "remove"))["version"]

    def transaction_phids(self, task_id: int) -> list[str]:
        rows = self.call("transaction.search", {"objectIdentifier": f"T{int(task_id)}", "limit": 100})["data"]
        return [row["phid"] for row in reversed(rows)]

    def task(self, task_id: int) -> dict:
        """The task as maniphest.search shows it to an administrator (projects and subscribers attached)."""
        rows = self.call("maniphest.search", {"constraints": {"ids": [int(task_id)]},
                                              "attachments": {"projects": True, "subscribers": True}})["data"]
        if not rows:
            raise KeyError(f"T{task_id} is not visible to admin")
        return rows[0]


def project_transactions(name: str, slug: str | None, *, members=(), description: str = "", icon: str = "project",
                         color: str = "blue", parent: str | None = None, milestone: str | None = None) -> list[dict]:
    """`project.edit` transactions for a new project, subproject (`parent`) or milestone: the
    primary hashtag comes from the name, `slug` is an extra one; a milestone has neither, nor an icon."""
    xactions = [{"type": "name", "value": name}]
    if parent:
        xactions.append({"type": "parent", "value": parent})
    if milestone:
        xactions.append({"type": "milestone", "value": milestone})
    if slug and not milestone:
        xactions.append({"type": "slugs", "value": [slug]})
    if description:
        xactions.append({"type": "description", "value": description})
    if not milestone:
        xactions += [{"type": "icon", "value": icon}, {"type": "color", "value": color}]
    if members:
        xactions.append({"type": "members.add", "value": list(members)})
    return xactions


def _decode_params(body: bytes) -> dict:
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    try:
        params = json.loads(form["params"][0]) if "params" in form else {}
    except (ValueError, IndexError):
        params = {}
    if isinstance(params, dict):
        params.pop("__conduit__", None)
        return params
    return {}


def _reply(handler, status: int, body: bytes, content_type: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
