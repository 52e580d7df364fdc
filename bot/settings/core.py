"""Load and validate the YAML config into frozen dataclasses.

Every error names the file, the key path and what is wrong, in one line, because
the person reading it is an ambassador editing YAML, not a developer reading a
traceback. Secrets never live in the config: it only names the environment
variables that hold them.
"""
from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable

import yaml

from bot.errors import ConfigError
from bot.i18n import FALLBACK as FALLBACK_LANGUAGE
from bot.settings.deployment import DeploymentSettings, parse as parse_deployment
from bot.settings.feedback import FeedbackSettings, MentionSettings, parse as parse_feedback, parse_mentions
from bot.settings.loader import Refused, load_yaml, read_config_text
from bot.settings.newsletter import NewsletterSettings, parse as parse_newsletters
# The parsers below keep the short private names they were written with.
from bot.settings.reader import (LANGUAGES, STATUS_KEYS, Reader as _Reader, between as _between,
                                 env_name as _env_name, http_url as _url, non_empty as _non_empty, page_title,
                                 task_ids as _task_ids, time_zone as _timezone, user_name)
from bot.settings.reports import ReportSettings, TemplateOverrides, parse as parse_reports, parse_templates
from bot.settings.schedule import (Schedule, StatusPageSettings, WebhookSettings, parse as parse_schedule,
                                   parse_status_page, parse_webhook)

SORT_KEYS = ("id", "priority", "status", "modified", "title", "owner")
# The first line of the user-config.py the bot writes (bot/adapters/wiki.py USER_CONFIG).
PYWIKIBOT_MARKER = "# Written by ambassador-bot"


@dataclass(frozen=True)
class PhabricatorSettings:
    url: str
    token_env: str = "AMBASSADOR_CONDUIT_TOKEN"
    timeout: float = 20.0
    page_size: int = 100
    language: str = FALLBACK_LANGUAGE   # the team's language: comments, digests and mentions on Phabricator

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
    pages: Mapping[str, str]
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
    wikis: Mapping[str, WikiSettings]
    status_tables: tuple[StatusTable, ...] = ()
    pywikibot_dir: Path | None = None
    full_refresh_hours: float = 24.0
    # The optional top-level sections: None when the config does not have one.
    newsletters: NewsletterSettings | None = None
    feedback: FeedbackSettings | None = None
    mentions: MentionSettings | None = None
    schedule: Schedule | None = None
    webhook: WebhookSettings | None = None
    status_page: StatusPageSettings | None = None
    reports: ReportSettings | None = None
    templates: TemplateOverrides | None = None
    deployment: DeploymentSettings | None = None


# The optional top-level keys; each is an attribute of Settings, None when the config leaves it out.
SECTIONS = ("newsletters", "feedback", "mentions", "schedule", "webhook", "status_page", "reports", "templates",
            "deployment")


def load_settings(path: str | os.PathLike, *, job_names: Collection[str] | None = None) -> Settings:
    """`job_names`: the jobs `schedule` and `webhook` may name (bot.jobs.registry.JOBS); None takes any name."""
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
    return parse_settings(data, path, job_names=job_names)



def _parse_phabricator(r: _Reader, raw: Any) -> "PhabricatorSettings":
    p = r.mapping(raw, "phabricator", {"url", "token_env", "timeout", "page_size", "language"},
                  {"url"})
    phab_url = r.typed(p["url"], "phabricator.url", str, _url)
    return PhabricatorSettings(
        url=phab_url if phab_url.endswith("/") else phab_url + "/",
        token_env=r.typed(p.get("token_env", "AMBASSADOR_CONDUIT_TOKEN"), "phabricator.token_env", str, _env_name),
        timeout=float(r.typed(p.get("timeout", 20), "phabricator.timeout", (int, float),
                              lambda v: None if 0 < v <= 300 else "must be between 0 and 300 seconds")),
        page_size=r.typed(p.get("page_size", 100), "phabricator.page_size", int,
                          lambda v: None if 1 <= v <= 100 else "must be between 1 and 100 (Conduit's maximum)"),
        language=r.typed(p.get("language", FALLBACK_LANGUAGE), "phabricator.language", str,
                         lambda v: None if v in LANGUAGES else f"must be one of {', '.join(LANGUAGES)}"),
    )


def parse_settings(data: Any, path: Path, *, job_names: Collection[str] | None = None) -> Settings:
    r = _Reader(path)
    if data is None:
        raise r.fail("(top)", "the file is empty")
    top = r.mapping(data, "", {"bot", "phabricator", "wikis", "status_tables", *SECTIONS},
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

    phab = _parse_phabricator(r, top["phabricator"])

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

    # All a section parser needs of the wikis: their codes, each with its language.
    languages = {code: w.language for code, w in wikis.items()}

    def section(name: str, parse: Callable[..., Any], *context: Any) -> Any:
        return parse(r, top[name], *context) if name in top else None

    # Of several bad sections, the first in this order is the one reported.
    return Settings(
        path=path, user_agent=user_agent, state_url=_sqlite_relative(path, state_url), phabricator=phab,
        wikis=MappingProxyType(wikis), status_tables=tables, pywikibot_dir=pywikibot_dir, full_refresh_hours=full_refresh,
        newsletters=section("newsletters", parse_newsletters, languages),
        feedback=section("feedback", parse_feedback, languages),
        mentions=section("mentions", parse_mentions, languages),
        schedule=section("schedule", parse_schedule, languages, job_names),
        webhook=section("webhook", parse_webhook, job_names),
        status_page=section("status_page", parse_status_page, languages),
        reports=section("reports", parse_reports, languages),
        templates=section("templates", parse_templates, languages),
        deployment=section("deployment", parse_deployment),
    )


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
        id=table_id, query=query, pages=MappingProxyType(dict(pages)), sort=sort,
        max_rows=r.typed(t.get("max_rows", 200), f"{key}.max_rows", int, lambda v: None if 1 <= v <= 5000 else "must be 1..5000"),
        max_drop_share=float(r.typed(t.get("max_drop_share", 0.5), f"{key}.max_drop_share", (int, float),
                                     lambda v: None if 0 < v <= 1 else "must be in (0, 1]")),
        deployment=r.typed(t.get("deployment", False), f"{key}.deployment", bool),
    )
