"""The connection to one wiki: pywikibot set up from our settings, login, and the read choke point `api`.

pywikibot is configured entirely from our settings: we write a private
`user-config.py` into the bot's own pywikibot folder before the first import.
"""
from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
from pathlib import Path

from bot.adapters.wiki_errors import _api_error, _first_line, _partial_block, _transport_error
from bot.adapters.writes import write_method
from bot.errors import AuthError, ConfigError, TransientError
from bot.settings import WikiSettings

# The adapter's log lines kept the name they had when it was one module.
log = logging.getLogger("bot.adapters.wiki")
_setup_lock = threading.Lock()
_pywikibot = None

USER_CONFIG = """\
# Written by ambassador-bot; regenerated on every start. Edit the bot's YAML config instead.
password_file = {password_file!r}
put_throttle = 0
minthrottle = 0
maxthrottle = 60
write_maxlag = 5
max_retries = {max_retries}
retry_wait = {retry_wait}
retry_max = {retry_max}
noisysleep = 3600.0
console_encoding = 'utf-8'
user_agent_format = {user_agent!r}
socket_timeout = (6.05, 45)
"""


def pywikibot_module(workdir: Path, user_agent: str):
    """Import pywikibot once per process, configured from a private folder of ours."""
    global _pywikibot
    with _setup_lock:
        if _pywikibot is not None:
            return _pywikibot
        workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(workdir, 0o700)
        password_file = workdir / "passwords.py"
        if not password_file.exists():
            password_file.touch(mode=0o600)
        (workdir / "user-config.py").write_text(USER_CONFIG.format(
            password_file=str(password_file),
            max_retries=int(os.environ.get("AMBASSADOR_WIKI_MAX_RETRIES", 3)),
            retry_wait=int(os.environ.get("AMBASSADOR_WIKI_RETRY_WAIT", 2)),
            retry_max=int(os.environ.get("AMBASSADOR_WIKI_RETRY_MAX", 30)),
            user_agent=user_agent + " {pwb}",
        ), encoding="utf-8")
        if "pywikibot" not in sys.modules:
            os.environ["PYWIKIBOT_DIR"] = str(workdir)
        elif os.environ.get("PYWIKIBOT_DIR") != str(workdir):
            log.warning("pywikibot was imported before ambassador-bot configured it (PYWIKIBOT_DIR=%s)",
                        os.environ.get("PYWIKIBOT_DIR"))
        import pywikibot
        from pywikibot import config

        config.user_agent_format = user_agent + " {pwb}"
        config.password_file = str(password_file)
        _pywikibot = pywikibot
        return pywikibot


class WikiSession:
    """Settings, the pywikibot site (logged in on first use) and `api`, on which every read goes."""

    def __init__(self, settings: WikiSettings, user_agent: str, workdir: Path):
        self.settings = settings
        self.code = settings.code
        self._user_agent = user_agent
        self._workdir = workdir
        self._site = None
        self.request_count = 0
        self.edit_count = 0
        # Why the account cannot edit here, once a write was refused for a block or
        # block_reason() found one: later writes fail at once instead of being sent.
        self.blocked: str | None = None

    # -- set-up ----------------------------------------------------------------
    @property
    def family_name(self) -> str:
        # pywikibot makes an AutoFamily from a URL; the name must be unique per API URL.
        return "ab" + hashlib.sha1(self.settings.api_url.encode()).hexdigest()[:10]

    @property
    def site(self):
        if self._site is None:
            self._site = self._connect()
        return self._site

    def _connect(self):
        pywikibot = pywikibot_module(self._workdir, self._user_agent)
        from pywikibot import config
        from pywikibot.exceptions import APIError, NoUsernameError

        s = self.settings
        password = s.password()
        self._probe()
        name = self.family_name
        config.family_files[name] = s.api_url
        config.usernames.setdefault(name, {})[name] = s.username
        config.put_throttle = s.throttle_seconds
        config.write_maxlag = s.maxlag
        self._write_password(name, s, password)
        try:
            site = pywikibot.Site(name, name, user=s.username)
            site.login()
        except NoUsernameError as exc:
            raise AuthError(f"wiki {s.code} ({s.api_url}): login as {s.login_name} failed: {_first_line(exc)}") from None
        except APIError as exc:
            raise AuthError(f"wiki {s.code} ({s.api_url}): login failed: {exc.code}: {exc.info}") from None
        except Exception as exc:  # pywikibot raises many types while fetching siteinfo
            raise _transport_error(exc, f"wiki {s.code} ({s.api_url})") from None
        if not site.logged_in():
            raise AuthError(f"wiki {s.code} ({s.api_url}): login as {s.login_name} failed (check {s.password_env})")
        return site

    def _probe(self) -> None:
        """Fail fast on a wrong URL or a server that is down.

        pywikibot retries a refused connection with growing waits; a typo in
        `api_url` should be one clear line within seconds, not minutes of retries.
        """
        import requests

        where = f"wiki {self.code} ({self.settings.api_url})"
        try:
            response = requests.get(self.settings.api_url, params={"action": "query", "meta": "siteinfo",
                                                                   "format": "json"},
                                    headers={"User-Agent": self._user_agent}, timeout=15)
        except requests.ConnectionError as exc:
            raise TransientError(f"{where}: cannot connect ({_first_line(exc.__class__.__name__)})") from None
        except requests.RequestException as exc:
            raise TransientError(f"{where}: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise TransientError(f"{where}: server error HTTP {response.status_code}")
        try:
            response.json()["query"]["general"]
        except (ValueError, KeyError, TypeError):
            raise ConfigError(f"{where}: this URL does not answer like a MediaWiki api.php "
                              f"(HTTP {response.status_code})") from None

    def _write_password(self, family: str, s: WikiSettings, password: str) -> None:
        from pywikibot import config

        path = Path(config.password_file)
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if f"'{family}'" not in ln]
        secret = f"BotPassword({s.botpassword_app!r}, {password!r})" if s.botpassword_app else repr(password)
        lines.append(f"({family!r}, {family!r}, {s.username!r}, {secret})")
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")

    # -- the choke point ---------------------------------------------------------
    @write_method(when="write")
    def api(self, *, write: bool = False, **params) -> dict:
        """One API request through pywikibot, errors translated."""
        site = self.site  # first: connecting configures pywikibot before anything imports it
        from pywikibot.data import api
        from pywikibot.exceptions import APIError

        where = f"wiki {self.code}"
        title = params.get("title")
        if title:
            where += f" page {title!r}"
        request = api.Request(site=site, parameters={"formatversion": 2, **params})
        self.request_count += 1
        try:
            return request.submit()
        except APIError as exc:
            other = exc.other if isinstance(getattr(exc, "other", None), dict) else {}
            raise _api_error(exc.code, exc.info, where, write, partial=_partial_block(other)) from None
        except Exception as exc:
            raise _transport_error(exc, where, write) from None
