"""Load and validate the YAML config into frozen dataclasses.

Every error names the file, the key path and what is wrong, in one line, because
the person reading it is an ambassador editing YAML, not a developer reading a
traceback. Secrets never live in the config: it only names the environment
variables that hold them.
"""
from __future__ import annotations

import importlib
import math
import os
import re
import reprlib
import unicodedata
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from bot.errors import ConfigError
from bot.i18n import LanguageList
from bot.domain.titles import title_problem
from bot.settings_loader import MAX_SCALAR_CHARS, Refused, load_yaml, read_config_text

STATUS_KEYS = ("open", "stalled", "progress", "resolved", "declined", "invalid", "duplicate", "wontfix", "spite")
SORT_KEYS = ("id", "priority", "status", "modified", "title", "owner")
# Every language with a message file (bot/i18n/<lang>.json, or a folder named by $AMBASSADOR_MESSAGES).
LANGUAGES = LanguageList()
TASK_RE = re.compile(r"T?([0-9]{1,9})\Z")
# The first line of the user-config.py the bot writes (bot/adapters/wiki.py USER_CONFIG).
PYWIKIBOT_MARKER = "# Written by ambassador-bot"
_short = reprlib.Repr()
_short.maxstring, _short.maxother, _short.maxlevel, _short.maxlist, _short.maxdict = 80, 80, 2, 5, 5


@dataclass(frozen=True)
class PhabricatorSettings:
    url: str
    token_env: str = "AMBASSADOR_CONDUIT_TOKEN"
    timeout: float = 20.0
    page_size: int = 100

    def token(self) -> str:
        value = os.environ.get(self.token_env, "").strip()
        if not value:
            raise ConfigError(f"missing Conduit token: set the environment variable {self.token_env}")
        return value


@dataclass(frozen=True)
class WikiSettings:
    code: str
    api_url: str
    language: str
    timezone: str
    username: str
    password_env: str
    botpassword_app: str | None = None
    throttle_seconds: float = 10.0
    maxlag: int = 5
    min_edit_interval_minutes: float = 0.0
    run_page: str | None = None
    run_value: str = "run"
    # The wiki's own words for what siteinfo does not say (issue 15, docs/languages.md): templates that
    # sign someone's unsigned text, name -> (user parameter, time parameter); templates that only
    # resize their text; the signature date format (MediaWiki letters) if the wiki's sample is unclear.
    unsigned_templates: tuple[tuple[str, tuple[int, int]], ...] = ()
    text_templates: tuple[str, ...] = ()
    signature_format: str | None = None

    @property
    def login_name(self) -> str:
        return f"{self.username}@{self.botpassword_app}" if self.botpassword_app else self.username

    def password(self) -> str:
        value = os.environ.get(self.password_env, "")
        if not value:
            raise ConfigError(f"missing password for wiki {self.code}: set the environment variable {self.password_env}")
        return value


@dataclass(frozen=True)
class TaskQuery:
    projects: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    subtypes: tuple[str, ...] = ()
    task_ids: tuple[int, ...] = ()

    @property
    def key(self) -> str:
        """A stable name for this query, used to keep one snapshot per distinct query."""
        return "|".join([",".join(sorted(self.projects)), ",".join(sorted(self.statuses)),
                         ",".join(sorted(self.subtypes)), ",".join(map(str, sorted(self.task_ids)))])


@dataclass(frozen=True)
class StatusTable:
    id: str
    query: TaskQuery
    pages: dict[str, str]
    sort: tuple[str, ...] = ("-priority", "id")
    max_rows: int = 200
    max_drop_share: float = 0.5
    # A column saying, per resolved task, whether its fix is live on the wiki and since when
    # (docs/deployment.md). Off unless asked for: it costs siteinfo and task histories.
    deployment: bool = False


@dataclass(frozen=True)
class Settings:
    path: Path
    user_agent: str
    state_url: str
    phabricator: PhabricatorSettings
    wikis: dict[str, WikiSettings]
    status_tables: tuple[StatusTable, ...] = ()
    pywikibot_dir: Path | None = None
    full_refresh_hours: float = 24.0
    # Parsed optional sections (newsletters, feedback, mentions, schedule, ...), by top-level key.
    sections: dict[str, Any] = field(default_factory=dict)

    def section(self, name: str):
        """The parsed section, or None when the config does not have it."""
        return self.sections.get(name)


# Optional top-level sections, each parsed by its own module: "module:function".
# The function gets (reader, raw_value, settings_so_far) and returns a frozen object.
SECTION_PARSERS = {
    "newsletters": "bot.settings_newsletter:parse",
    "feedback": "bot.settings_feedback:parse",
    "mentions": "bot.settings_feedback:parse_mentions",
    "schedule": "bot.settings_schedule:parse",
    "webhook": "bot.settings_schedule:parse_webhook",
    "status_page": "bot.settings_schedule:parse_status_page",
    "reports": "bot.settings_reports:parse",
    "templates": "bot.settings_reports:parse_templates",
    "deployment": "bot.settings_deployment:parse",
}


class _Reader:
    """Walks a parsed YAML tree, remembering the key path for error messages."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, problem: str) -> ConfigError:
        # A key is the config's own text: a newline or control character in it must not break the
        # one-line message, so it is shown escaped (and a very long key cut).
        shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in key)
        return ConfigError(f"{self.path}: {shown[:120]}: {problem}")

    def mapping(self, value: Any, key: str, allowed: set[str], required: set[str] = frozenset()) -> dict:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a mapping, got {type(value).__name__}")
        for k in value:
            if not isinstance(k, str):
                raise self.fail(key, f"keys must be strings, got {_short.repr(k)}")
            if k not in allowed:
                raise self.fail(f"{key}.{k}" if key else k, f"unknown key (allowed: {', '.join(sorted(allowed))})")
        for k in sorted(required):
            if k not in value:
                raise self.fail(f"{key}.{k}" if key else k, "is required")
        return value

    def typed(self, value: Any, key: str, kind: type | tuple[type, ...], check: Callable[[Any], str | None] | None = None):
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            raise self.fail(key, f"must be a number, got {value!r}")
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(key, f"must be {names}, got {type(value).__name__} {_short.repr(value)}"[:200])
        problem = _scalar_problem(value)
        if problem:
            raise self.fail(key, problem)
        if check:
            problem = check(value)
            if problem:
                raise self.fail(key, problem)
        return value

    def string_list(self, value: Any, key: str, check: Callable[[str], str | None] | None = None) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list, got {type(value).__name__}")
        return tuple(self.typed(v, f"{key}[{i}]", str, check) for i, v in enumerate(value))


def _scalar_problem(value: Any) -> str | None:
    """What no value of the config may be: a non-finite or absurd number, a huge or multi-line string."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value!r}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**12:
        return "is out of range"
    if isinstance(value, str):
        if len(value) > MAX_SCALAR_CHARS:
            return f"is {len(value)} characters long (at most {MAX_SCALAR_CHARS})"
        bad = next((ch for ch in value if unicodedata.category(ch) in ("Cc", "Cs")), None)
        if bad is not None:
            return f"holds a control character (U+{ord(bad):04X}); write it on one line, without control characters"
    return None


def _between(low: float, high: float, unit: str = "", *, low_open: bool = False) -> Callable[[Any], str | None]:
    """A finite range check: `low <= v <= high` (`low < v` with low_open)."""
    def check(v) -> str | None:
        ok = (low < v if low_open else low <= v) and v <= high
        return None if ok else f"must be {'more than' if low_open else 'at least'} {low:g} and at most {high:g}{unit}"
    return check


def _non_empty(v: str) -> str | None:
    return None if v.strip() else "must not be empty"


def page_title(v: str) -> str | None:
    """The one check of every page-title key: what MediaWiki would refuse, or change, is refused."""
    problem = title_problem(v)
    if problem:
        return f"not a valid page title: {problem}"
    if v != v.strip():
        return "must not start or end with spaces"
    return None


def user_name(v: str) -> str | None:
    """A wiki user name: a valid title without / (subpage) or : @ > = (MediaWiki's invalid user-name characters)."""
    problem = page_title(v)
    if problem:
        return problem.replace("page title", "user name")
    bad = next((ch for ch in "/:@>=" if ch in v), None)
    return f"not a valid user name: holds {bad!r}" if bad else None


_SECRET_QUERY = re.compile(r"(?i)(token|password|passwd|secret|key|auth|sig|session)")


def _url(v: str) -> str | None:
    # The value is never echoed: it may hold a password.
    if not re.fullmatch(r"https?://[^\s/?#]+(?:[/?#][^\s]*)?", v):
        return "must be an http(s) URL like https://host/path (no spaces)"
    try:
        parts = urllib.parse.urlsplit(v)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "is not a valid URL"
    if "@" in parts.netloc:
        return ("must not hold credentials (user:password@); secrets come from the environment "
                "(phabricator.token_env, wikis.<code>.password_env)")
    if parts.query or parts.fragment or "?" in v or "#" in v:
        if _SECRET_QUERY.search(parts.query + parts.fragment):
            return ("must not hold a token or password in its query; secrets come from the environment "
                    "(phabricator.token_env, wikis.<code>.password_env)")
        return "must not have a query (?...) or fragment (#...)"
    if not parts.hostname:
        return "must be an http(s) URL like https://host/path"
    return None


def _env_name(v: str) -> str | None:
    return None if re.fullmatch(r"[A-Z_][A-Z0-9_]*", v) else f"must be an environment variable name, got {_short.repr(v)}"


def _timezone(v: str) -> str | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {v!r}"
    return None


def load_settings(path: str | os.PathLike) -> Settings:
    path = Path(path)
    try:
        raw_text = read_config_text(path)
        data = load_yaml(raw_text)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except Refused as exc:
        raise ConfigError(exc.one_line(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = str(getattr(exc, "problem", None) or exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    return parse_settings(data, path)


def parse_settings(data: Any, path: Path) -> Settings:
    r = _Reader(path)
    if data is None:
        raise r.fail("(top)", "the file is empty")
    top = r.mapping(data, "", {"bot", "phabricator", "wikis", "status_tables", *SECTION_PARSERS},
                    {"bot", "phabricator", "wikis"})

    b = r.mapping(top["bot"], "bot", {"user_agent", "state_url", "pywikibot_dir", "full_refresh_hours"}, {"user_agent"})
    user_agent = r.typed(b["user_agent"], "bot.user_agent", str, _user_agent)
    state_url = os.environ.get("AMBASSADOR_STATE_URL") or r.typed(
        b.get("state_url", "sqlite:///var/state.sqlite"), "bot.state_url", str, _non_empty
    )
    pywikibot_dir = b.get("pywikibot_dir")
    if pywikibot_dir is not None:
        pywikibot_dir = _relative_to(path, r.typed(pywikibot_dir, "bot.pywikibot_dir", str, _non_empty))
        problem = pywikibot_dir_problem(pywikibot_dir)
        if problem:
            raise r.fail("bot.pywikibot_dir", problem)
    full_refresh = float(r.typed(b.get("full_refresh_hours", 24), "bot.full_refresh_hours", (int, float),
                                 _between(0, 24 * 366, " hours", low_open=True)))

    p = r.mapping(top["phabricator"], "phabricator", {"url", "token_env", "timeout", "page_size"}, {"url"})
    phab_url = r.typed(p["url"], "phabricator.url", str, _url)
    phab = PhabricatorSettings(
        url=phab_url if phab_url.endswith("/") else phab_url + "/",
        token_env=r.typed(p.get("token_env", "AMBASSADOR_CONDUIT_TOKEN"), "phabricator.token_env", str, _env_name),
        timeout=float(r.typed(p.get("timeout", 20), "phabricator.timeout", (int, float),
                              lambda v: None if 0 < v <= 300 else "must be between 0 and 300 seconds")),
        page_size=r.typed(p.get("page_size", 100), "phabricator.page_size", int,
                          lambda v: None if 1 <= v <= 100 else "must be between 1 and 100 (Conduit's maximum)"),
    )

    wikis_raw = r.typed(top["wikis"], "wikis", dict, lambda v: None if v else "must name at least one wiki")
    wikis = {code: _parse_wiki(r, code, w) for code, w in wikis_raw.items()}

    tables_raw = top.get("status_tables") or []
    r.typed(tables_raw, "status_tables", list)
    tables = tuple(_parse_table(r, i, t, wikis) for i, t in enumerate(tables_raw))
    seen: set[str] = set()
    for t in tables:
        if t.id in seen:
            raise r.fail("status_tables", f"duplicate table id {t.id!r}")
        seen.add(t.id)

    settings = Settings(path=path, user_agent=user_agent, state_url=_sqlite_relative(path, state_url),
                        phabricator=phab, wikis=wikis, status_tables=tables, pywikibot_dir=pywikibot_dir,
                        full_refresh_hours=full_refresh)
    for name, target in SECTION_PARSERS.items():
        if name in top:
            module_name, func_name = target.split(":")
            parser = getattr(importlib.import_module(module_name), func_name)
            settings.sections[name] = parser(r, top[name], settings)
    return settings


def _user_agent(v: str) -> str | None:
    # Wikimedia's User-Agent policy: name/version plus a way to reach the operator.
    if not re.search(r"(@|https?://|User:)", v):
        return "must include a contact (an e-mail address, a URL or a User: page), per Wikimedia's User-Agent policy"
    if "{" in v or "}" in v:
        return "must not contain braces"
    return None


def pywikibot_dir_problem(folder: Path) -> str | None:
    """The bot makes this folder private (mode 0700) and writes passwords.py into it, so it
    must be the bot's own: absent (the bot creates it), empty, or holding the user-config.py
    the bot wrote there before (its first line is PYWIKIBOT_MARKER)."""
    if not folder.exists() and not folder.is_symlink():
        return None
    own = ("must be a folder of the bot's own (absent, empty, or one it set up before): the bot makes it "
           "private and writes its password file into it")
    if folder.is_symlink() or not folder.is_dir():
        return f"{folder} is not a plain folder; {own}"
    try:
        if hasattr(os, "getuid") and folder.stat().st_uid != os.getuid():
            return f"{folder} belongs to another user; {own}"
        if not any(folder.iterdir()):
            return None
        with open(folder / "user-config.py", encoding="utf-8", errors="replace") as f:
            if f.read(len(PYWIKIBOT_MARKER)) == PYWIKIBOT_MARKER:
                return None
    except OSError:
        pass
    return f"{folder} holds files the bot did not write; {own}"


def _relative_to(config_path: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (config_path.parent.parent / p).resolve()


def _sqlite_relative(config_path: Path, url: str) -> str:
    # A relative sqlite path is taken from the project root (the config folder's parent),
    # so `make demo` and the Procfile agree on where the state lives.
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str(_relative_to(config_path, url[len(prefix):]))
    return url


def _parse_wiki(r: _Reader, code: Any, w: Any) -> WikiSettings:
    key = f"wikis.{code}"
    r.typed(code, key, str, lambda v: None if re.fullmatch(r"[a-z][a-z0-9-]{0,30}", v) else "wiki code must be like 'cs'")
    w = r.mapping(w, key, {"api_url", "language", "timezone", "username", "password_env", "botpassword_app",
                           "throttle_seconds", "maxlag", "min_edit_interval_minutes", "run_page", "run_value",
                           "unsigned_templates", "text_templates", "signature_format"},
                  {"api_url", "language", "timezone", "username"})
    number = (int, float)
    return WikiSettings(
        code=code,
        api_url=r.typed(w["api_url"], f"{key}.api_url", str,
                        lambda v: _url(v) or (None if v.endswith("api.php") else "must end with api.php")),
        language=r.typed(w["language"], f"{key}.language", str,
                         lambda v: None if v in LANGUAGES else f"must be one of {', '.join(LANGUAGES)}"),
        timezone=r.typed(w["timezone"], f"{key}.timezone", str, _timezone),
        username=r.typed(w["username"], f"{key}.username", str, user_name),
        password_env=r.typed(w.get("password_env", f"AMBASSADOR_{code.upper().replace('-', '_')}_PASSWORD"),
                             f"{key}.password_env", str, _env_name),
        botpassword_app=w.get("botpassword_app") and r.typed(
            w["botpassword_app"], f"{key}.botpassword_app", str,
            lambda v: None if re.fullmatch(r"[A-Za-z0-9_. -]{1,32}", v) else "must be a BotPassword app id (letters, digits)"),
        throttle_seconds=float(r.typed(w.get("throttle_seconds", 10), f"{key}.throttle_seconds", number,
                                       _between(0, 3600, " seconds"))),
        maxlag=r.typed(w.get("maxlag", 5), f"{key}.maxlag", int, _between(1, 120, " seconds")),
        min_edit_interval_minutes=float(r.typed(w.get("min_edit_interval_minutes", 0), f"{key}.min_edit_interval_minutes",
                                                number, _between(0, 31 * 24 * 60, " minutes"))),
        run_page=w.get("run_page") and r.typed(w["run_page"], f"{key}.run_page", str, page_title),
        run_value=r.typed(w.get("run_value", "run"), f"{key}.run_value", str,
                          lambda v: _non_empty(v) or (None if v == v.strip() else "must not start or end with spaces")),
        unsigned_templates=_unsigned_templates(r, w.get("unsigned_templates", {}), f"{key}.unsigned_templates"),
        text_templates=r.string_list(w.get("text_templates", []), f"{key}.text_templates", _template_title),
        signature_format=w.get("signature_format") and r.typed(
            w["signature_format"], f"{key}.signature_format", str,
            lambda v: None if re.search(r"Y", v) and re.search(r"H|G", v) and "i" in v
            else "must be MediaWiki date letters with Y, H (or G) and i, e.g. 'j. n. Y, H:i'"),
    )


def _template_title(v: str) -> str | None:
    if not v.strip() or v != v.strip() or re.search(r"[#<>\[\]|{}]", v):
        return "must be a template name (no namespace needed), e.g. 'Unsigned'"
    return None


def _unsigned_templates(r: _Reader, value: Any, key: str) -> tuple[tuple[str, tuple[int, int]], ...]:
    """`{name: [user parameter, time parameter]}`, e.g. `{Unsigned: [1, 2], Unsigned2: [2, 1]}`."""
    if not isinstance(value, dict):
        raise r.fail(key, "must be a mapping of template name to [user parameter, time parameter]")
    out = []
    for name, spec in value.items():
        r.typed(name, f"{key}", str, _template_title)
        if not (isinstance(spec, list) and all(type(p) is int for p in spec) and sorted(spec) == [1, 2]):
            raise r.fail(f"{key}.{name}", "must be [1, 2] (user first) or [2, 1] (time first)")
        canonical = " ".join(name.replace("_", " ").split())     # as comments.template_name writes it
        out.append((canonical[:1].upper() + canonical[1:], (spec[0], spec[1])))
    return tuple(out)


def _parse_table(r: _Reader, i: int, t: Any, wikis: dict[str, WikiSettings]) -> StatusTable:
    key = f"status_tables[{i}]"
    t = r.mapping(t, key, {"id", "query", "pages", "sort", "max_rows", "max_drop_share", "deployment"},
                  {"id", "query", "pages"})
    table_id = r.typed(t["id"], f"{key}.id", str,
                       lambda v: None if re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", v)
                       else "must be lowercase letters, digits, - or _ (1-64 of them)")
    q = r.mapping(t["query"], f"{key}.query", {"projects", "statuses", "subtypes", "tasks"})
    statuses = r.string_list(q.get("statuses", []), f"{key}.query.statuses",
                             lambda v: None if v in STATUS_KEYS else f"unknown status {v!r} (known: {', '.join(STATUS_KEYS)})")
    task_ids = _task_ids(r, q.get("tasks", []), f"{key}.query.tasks")
    query = TaskQuery(
        projects=r.string_list(q.get("projects", []), f"{key}.query.projects",
                               lambda v: "write the project slug without '#'" if v.startswith("#") else _non_empty(v)),
        statuses=statuses,
        subtypes=r.string_list(q.get("subtypes", []), f"{key}.query.subtypes", _non_empty),
        task_ids=task_ids,
    )
    if not query.projects and not query.task_ids:
        raise r.fail(f"{key}.query", "needs projects or tasks")
    pages = r.mapping(t["pages"], f"{key}.pages", set(wikis))
    if not pages:
        raise r.fail(f"{key}.pages", "must name a page on at least one wiki")
    for code, title in pages.items():
        r.typed(title, f"{key}.pages.{code}", str, page_title)
    sort = r.string_list(t.get("sort", ["-priority", "id"]), f"{key}.sort",
                         lambda v: None if v.lstrip("-") in SORT_KEYS else f"unknown sort key {v!r} (known: {', '.join(SORT_KEYS)})")
    return StatusTable(
        id=table_id, query=query, pages=dict(pages), sort=sort,
        max_rows=r.typed(t.get("max_rows", 200), f"{key}.max_rows", int, lambda v: None if 1 <= v <= 5000 else "must be 1..5000"),
        max_drop_share=float(r.typed(t.get("max_drop_share", 0.5), f"{key}.max_drop_share", (int, float),
                                     lambda v: None if 0 < v <= 1 else "must be in (0, 1]")),
        deployment=r.typed(t.get("deployment", False), f"{key}.deployment", bool),
    )


def task_number(r: _Reader, value: Any, key: str) -> int:
    """`T123` or `123` (a YAML number or text) -> 123; each item checked as it is, never converted first."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise r.fail(key, f"must be a task number like T4321, got {type(value).__name__}")
    text = r.typed(value, key, str, lambda v: None if TASK_RE.match(v.strip())
                   else f"must be a task number like T4321, got {_short.repr(v)}")
    return int(TASK_RE.match(text.strip()).group(1))


def _task_ids(r: _Reader, raw: Any, key: str) -> tuple[int, ...]:
    if isinstance(raw, (str, int)) and not isinstance(raw, bool):
        raw = [raw]         # one task may be written without a list
    items = r.typed(raw, key, list, lambda v: None if len(v) <= 5000 else "lists more than 5000 tasks")
    return tuple(task_number(r, v, f"{key}[{i}]") for i, v in enumerate(items))


# Public names for the section parsers in bot/settings_*.py.
Reader = _Reader
non_empty = _non_empty
env_name = _env_name
