"""Load and validate the YAML config into frozen dataclasses.

Every error names the file, the key path and what is wrong, in one line, because
the person reading it is an ambassador editing YAML, not a developer reading a
traceback. Secrets never live in the config: it only names the environment
variables that hold them.
"""
from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from bot.errors import ConfigError

STATUS_KEYS = ("open", "stalled", "progress", "resolved", "declined", "invalid", "duplicate", "wontfix", "spite")
SORT_KEYS = ("id", "priority", "status", "modified", "title", "owner")
LANGUAGES = ("cs", "ko", "en")
TASK_RE = re.compile(r"^T?(\d+)$")


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
}


class _Reader:
    """Walks a parsed YAML tree, remembering the key path for error messages."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {problem}")

    def mapping(self, value: Any, key: str, allowed: set[str], required: set[str] = frozenset()) -> dict:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a mapping, got {type(value).__name__}")
        for k in value:
            if not isinstance(k, str):
                raise self.fail(key, f"keys must be strings, got {k!r}")
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
            raise self.fail(key, f"must be {names}, got {type(value).__name__} {value!r}"[:200])
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


def _non_empty(v: str) -> str | None:
    return None if v.strip() else "must not be empty"


def _url(v: str) -> str | None:
    return None if re.match(r"^https?://[^\s/]+", v) else f"must be an http(s) URL, got {v!r}"


def _env_name(v: str) -> str | None:
    return None if re.match(r"^[A-Z_][A-Z0-9_]*$", v) else f"must be an environment variable name, got {v!r}"


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
        raw_text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    try:
        data = yaml.safe_load(raw_text)
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
    full_refresh = float(r.typed(b.get("full_refresh_hours", 24), "bot.full_refresh_hours", (int, float),
                                 lambda v: None if v > 0 else "must be positive"))

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
    r.typed(code, key, str, lambda v: None if re.match(r"^[a-z][a-z0-9-]*$", v) else "wiki code must be like 'cs'")
    w = r.mapping(w, key, {"api_url", "language", "timezone", "username", "password_env", "botpassword_app",
                           "throttle_seconds", "maxlag", "min_edit_interval_minutes", "run_page", "run_value"},
                  {"api_url", "language", "timezone", "username"})
    number = (int, float)
    return WikiSettings(
        code=code,
        api_url=r.typed(w["api_url"], f"{key}.api_url", str,
                        lambda v: _url(v) or (None if v.endswith("api.php") else "must end with api.php")),
        language=r.typed(w["language"], f"{key}.language", str,
                         lambda v: None if v in LANGUAGES else f"must be one of {', '.join(LANGUAGES)}"),
        timezone=r.typed(w["timezone"], f"{key}.timezone", str, _timezone),
        username=r.typed(w["username"], f"{key}.username", str, _non_empty),
        password_env=r.typed(w.get("password_env", f"AMBASSADOR_{code.upper().replace('-', '_')}_PASSWORD"),
                             f"{key}.password_env", str, _env_name),
        botpassword_app=w.get("botpassword_app") and r.typed(w["botpassword_app"], f"{key}.botpassword_app", str, _non_empty),
        throttle_seconds=float(r.typed(w.get("throttle_seconds", 10), f"{key}.throttle_seconds", number,
                                       lambda v: None if v >= 0 else "must not be negative")),
        maxlag=r.typed(w.get("maxlag", 5), f"{key}.maxlag", int, lambda v: None if v > 0 else "must be positive"),
        min_edit_interval_minutes=float(r.typed(w.get("min_edit_interval_minutes", 0), f"{key}.min_edit_interval_minutes",
                                                number, lambda v: None if v >= 0 else "must not be negative")),
        run_page=w.get("run_page") and r.typed(w["run_page"], f"{key}.run_page", str, _non_empty),
        run_value=r.typed(w.get("run_value", "run"), f"{key}.run_value", str, _non_empty),
    )


def _parse_table(r: _Reader, i: int, t: Any, wikis: dict[str, WikiSettings]) -> StatusTable:
    key = f"status_tables[{i}]"
    t = r.mapping(t, key, {"id", "query", "pages", "sort", "max_rows", "max_drop_share"}, {"id", "query", "pages"})
    table_id = r.typed(t["id"], f"{key}.id", str,
                       lambda v: None if re.match(r"^[a-z0-9][a-z0-9_-]*$", v) else "must be lowercase letters, digits, - or _")
    q = r.mapping(t["query"], f"{key}.query", {"projects", "statuses", "subtypes", "tasks"})
    statuses = r.string_list(q.get("statuses", []), f"{key}.query.statuses",
                             lambda v: None if v in STATUS_KEYS else f"unknown status {v!r} (known: {', '.join(STATUS_KEYS)})")
    task_ids = tuple(int(TASK_RE.match(s).group(1)) for s in r.string_list(
        [str(x) for x in q.get("tasks", [])] if isinstance(q.get("tasks", []), list) else q.get("tasks"),
        f"{key}.query.tasks", lambda v: None if TASK_RE.match(v) else f"not a task number: {v!r}"))
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
        r.typed(title, f"{key}.pages.{code}", str, _non_empty)
    sort = r.string_list(t.get("sort", ["-priority", "id"]), f"{key}.sort",
                         lambda v: None if v.lstrip("-") in SORT_KEYS else f"unknown sort key {v!r} (known: {', '.join(SORT_KEYS)})")
    return StatusTable(
        id=table_id, query=query, pages=dict(pages), sort=sort,
        max_rows=r.typed(t.get("max_rows", 200), f"{key}.max_rows", int, lambda v: None if 1 <= v <= 5000 else "must be 1..5000"),
        max_drop_share=float(r.typed(t.get("max_drop_share", 0.5), f"{key}.max_drop_share", (int, float),
                                     lambda v: None if 0 < v <= 1 else "must be in (0, 1]")),
    )


# Public names for the section parsers in bot/settings_*.py.
Reader = _Reader
non_empty = _non_empty
env_name = _env_name
