"""Config sections `reports` (weekly check-in reports) and `templates` (on-wiki template overrides).

    reports:
      language: en                    # of the reports; default en (for the manager)
      ambassadors:
        - id: jana                    # stable: part of the idempotency key
          name: Jana Nováková          # optional, shown in the report
          wikis: {cs: "Jana Nováková"} # wiki username per wiki
          phabricator: jnovakova      # optional Phabricator username
          task: T4321                 # management task: the report is added as a comment
          page: {wiki: cs, title: "Wikipedista:Jana Nováková/Týdenní přehled"}  # and/or a new section
          language: cs                # optional: the wiki page's language (default: that wiki's)
          post_at: "fri 12:00"        # optional, overrides reports.post_at
          plans: {wiki: cs, title: "Wikipedista:Jana Nováková/Plány", section: "Příští týden"}
          time_spent: {budget_hours: 8}   # opt-in: estimated on-wiki time next to the budget
      week: so_far                    # so_far (default): the current ISO week up to the run; or last_complete
      post_at: "fri 12:00"            # first posted at this weekday and time (home wiki's zone); default: at once
      newcomers:                      # newcomer pulse on these wikis
        cs: {question_tags: [help-panel-question, mentorship-module-question]}

    templates:
      protection_levels: [sysop, templateeditor]  # an override is used only when its page is edit-protected
                                      # at one of these levels (default: [sysop]) ...
      template_editors: {cs: ["Jana Nováková"]}  # ... or its last revision is by one of these wiki users
      cpu_budget_seconds: 5           # override rendering per cycle; then file templates (default 5)
      cs:                             # per wiki: document -> page holding a Jinja template
        status_table: "Wikipedista:TestBot/šablony/status_table"
        weekly_report.remarkup: "Wikipedista:TestBot/šablony/weekly_report.remarkup"

A document name alone means its wikitext version; `<document>.remarkup` names
the version posted to Phabricator. When the reports are run is the `schedule`
section's business.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from bot.domain.weekly import WEEK_MODES, parse_post_at
from bot.settings.reader import LANGUAGES, Reader, non_empty, page_title, task_number, user_name

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates"
GENERIC_TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "i18n" / "templates"
_ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,40}\Z")
_DOC_RE = re.compile(r"([a-z][a-z0-9_]{0,40})(?:\.(wiki|remarkup))?\Z")


@dataclass(frozen=True)
class Ambassador:
    id: str
    name: str
    wikis: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))     # wiki code -> username
    phabricator: str | None = None
    task: int | None = None
    page: tuple[str, str] | None = None                      # (wiki code, title)
    language: str = "en"                                     # the wiki page's language
    post_at: tuple[int, int, int] | None = None              # (weekday, hour, minute)
    plans: tuple[str, str, str | None] | None = None         # (wiki code, title, section heading)
    time_spent: bool = False
    budget_hours: float | None = None

    @property
    def home_wiki(self) -> str | None:
        """The wiki whose time zone defines the ambassador's week."""
        if self.wikis:
            return next(iter(self.wikis))
        return self.page[0] if self.page else None


DEFAULT_QUESTION_TAGS = ("help-panel-question", "mentorship-module-question", "mentorship-panel-question")


@dataclass(frozen=True)
class ReportSettings:
    ambassadors: tuple[Ambassador, ...]
    language: str = "en"                                     # the manager's: the Phabricator comment's
    week: str = "so_far"                                     # or "last_complete"
    post_at: tuple[int, int, int] | None = None
    newcomers: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))   # wiki code -> question tags


@dataclass(frozen=True)
class TemplateOverrides:
    pages: Mapping[str, Mapping[str, str]]    # wiki code -> {"status_table" | "weekly_report.remarkup": title}
    protection_levels: tuple[str, ...] = ("sysop",)
    template_editors: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))   # wiki code -> usernames
    cpu_budget_seconds: float = 5.0

    def page(self, wiki: str, document: str, markup: str = "wiki") -> str | None:
        names = self.pages.get(wiki, {})
        if markup == "wiki":
            return names.get(document) or names.get(f"{document}.wiki")
        return names.get(f"{document}.{markup}")


def _language(v: str) -> str | None:
    return None if v in LANGUAGES else f"must be one of {', '.join(LANGUAGES)}"


def parse(reader: Reader, raw, known_wikis: Mapping[str, str]) -> ReportSettings:
    r = reader
    data = r.mapping(raw, "reports", {"language", "ambassadors", "week", "post_at", "newcomers"}, {"ambassadors"})
    language = r.typed(data.get("language", "en"), "reports.language", str, _language)
    week = r.typed(data.get("week", "so_far"), "reports.week", str,
                   lambda v: None if v in WEEK_MODES else f"must be one of {', '.join(WEEK_MODES)}")
    post_at = _post_at(r, data["post_at"], "reports.post_at") if "post_at" in data else None
    newcomers: dict[str, tuple[str, ...]] = {}
    for code, conf in r.mapping(data.get("newcomers", {}) or {}, "reports.newcomers", set(known_wikis)).items():
        conf = r.mapping(conf if conf is not None else {}, f"reports.newcomers.{code}", {"question_tags"})
        tags = conf.get("question_tags", list(DEFAULT_QUESTION_TAGS))
        newcomers[code] = tuple(t.strip() for t in r.string_list(tags, f"reports.newcomers.{code}.question_tags",
                                                                   non_empty)) if tags else ()
    items = r.typed(data["ambassadors"], "reports.ambassadors", list,
                    lambda v: None if v else "must list at least one ambassador")
    ambassadors = tuple(_ambassador(r, f"reports.ambassadors[{i}]", a, known_wikis, post_at, language)
                        for i, a in enumerate(items))
    seen: set[str] = set()
    for a in ambassadors:
        if a.id in seen:
            raise r.fail("reports.ambassadors", f"duplicate ambassador id {a.id!r}")
        seen.add(a.id)
    return ReportSettings(ambassadors=ambassadors, language=language, week=week, post_at=post_at,
                          newcomers=MappingProxyType(newcomers))


def _post_at(r: Reader, raw, key: str) -> tuple[int, int, int]:
    value = r.typed(raw, key, str, non_empty)
    try:
        return parse_post_at(value)
    except ValueError as exc:
        raise r.fail(key, str(exc)) from None


def _ambassador(r: Reader, key: str, raw, known_wikis: Mapping[str, str], post_at, language: str) -> Ambassador:
    a = r.mapping(raw, key, {"id", "name", "wikis", "phabricator", "task", "page", "language", "post_at", "plans",
                             "time_spent"}, {"id"})
    amb_id = r.typed(a["id"], f"{key}.id", str,
                     lambda v: None if _ID_RE.match(v) else "must be 1-41 lowercase letters, digits, - or _")
    wikis_raw = r.mapping(a.get("wikis", {}), f"{key}.wikis", set(known_wikis))
    wikis = {code: r.typed(name, f"{key}.wikis.{code}", str, user_name) for code, name in wikis_raw.items()}
    phab = a.get("phabricator")
    if phab is not None:
        phab = r.typed(phab, f"{key}.phabricator", str,
                       lambda v: "write the username without '@'" if v.startswith("@") else non_empty(v)).strip()
    if not wikis and phab is None:
        raise r.fail(key, "needs wikis or phabricator (there is nothing to report otherwise)")
    task = task_number(r, a["task"], f"{key}.task") if "task" in a else None
    page = None
    if "page" in a:
        p = r.mapping(a["page"], f"{key}.page", {"wiki", "title"}, {"wiki", "title"})
        wiki = r.typed(p["wiki"], f"{key}.page.wiki", str,
                       lambda v: None if v in known_wikis else f"unknown wiki {v!r} (configured: "
                                                                    f"{', '.join(known_wikis)})")
        page = (wiki, r.typed(p["title"], f"{key}.page.title", str, page_title))
    if task is None and page is None:
        raise r.fail(key, "needs a destination: task (the management task) and/or page")
    plans = _plans(r, a["plans"], f"{key}.plans", page, known_wikis) if "plans" in a else None
    time_on, budget = _time_spent(r, a["time_spent"], f"{key}.time_spent") if "time_spent" in a else (False, None)
    # The wiki page is in the ambassador's language (default: the page's wiki's); without a page, the manager's.
    default_lang = known_wikis[page[0]] if page is not None else language
    return Ambassador(
        id=amb_id,
        name=r.typed(a.get("name", amb_id), f"{key}.name", str, non_empty),
        wikis=MappingProxyType(wikis), phabricator=phab, task=task, page=page,
        language=r.typed(a.get("language", default_lang), f"{key}.language", str, _language),
        post_at=_post_at(r, a["post_at"], f"{key}.post_at") if "post_at" in a else post_at,
        plans=plans, time_spent=time_on, budget_hours=budget,
    )


def _plans(r: Reader, raw, key: str, page, known_wikis: Mapping[str, str]) -> tuple[str, str, str | None]:
    """(wiki, title, section) of an ambassador's plans; wiki and title default to the report page's."""
    p = r.mapping(raw or {}, key, {"wiki", "title", "section"})
    if "wiki" in p:
        pwiki = r.typed(p["wiki"], f"{key}.wiki", str,
                        lambda v: None if v in known_wikis else f"unknown wiki {v!r}")
    elif page is not None:
        pwiki = page[0]
    else:
        raise r.fail(key, "needs wiki and title (there is no report page to take them from)")
    if "title" in p:
        ptitle = r.typed(p["title"], f"{key}.title", str, page_title)
    elif page is not None and page[0] == pwiki:
        ptitle = page[1]
    else:
        raise r.fail(key, "needs title (the report page is on another wiki or not set)")
    section = r.typed(p["section"], f"{key}.section", str, non_empty).strip() if "section" in p else None
    return pwiki, ptitle, section


def _time_spent(r: Reader, raw, key: str) -> tuple[bool, float | None]:
    """(shown, budget in hours): `time_spent: true`, or a mapping with an optional `budget_hours`."""
    if isinstance(raw, bool):
        return raw, None
    ts = r.mapping(raw or {}, key, {"budget_hours"})
    if "budget_hours" not in ts:
        return True, None
    return True, float(r.typed(ts["budget_hours"], f"{key}.budget_hours", (int, float),
                               lambda v: None if not isinstance(v, bool) and 0 < v <= 168
                               else "must be a number of hours between 0 and 168"))


def known_documents() -> set[str]:
    """Documents that have a file template (`templates/<document>.<lang>.<markup>.j2`, or a
    message-keyed `bot/i18n/templates/<document>.<markup>.j2` for every language)."""
    return {p.name.split(".")[0] for folder in (TEMPLATE_DIR, GENERIC_TEMPLATE_DIR) for p in folder.glob("*.j2")}


def parse_templates(reader: Reader, raw, known_wikis: Mapping[str, str]) -> TemplateOverrides:
    r = reader
    data = dict(r.mapping(raw, "templates", set(known_wikis) | _TRUST_KEYS))
    trust = {k: data.pop(k) for k in _TRUST_KEYS if k in data}
    known = known_documents()
    pages: dict[str, dict[str, str]] = {}
    for code, names in data.items():
        names = r.mapping(names if names is not None else {}, f"templates.{code}", _AnyKey())
        pages[code] = {}
        for name, title in names.items():
            key = f"templates.{code}.{name}"
            m = _DOC_RE.match(name)
            if not m:
                raise r.fail(key, "must be a document name like status_table or weekly_report.remarkup")
            if m.group(1) not in known:
                raise r.fail(key, f"no file template for {m.group(1)!r} (known: {', '.join(sorted(known))})")
            pages[code][name] = r.typed(title, key, str, page_title)
    return TemplateOverrides(MappingProxyType({code: MappingProxyType(names) for code, names in pages.items()}),
                             **_trust(r, trust, known_wikis))


_TRUST_KEYS = {"protection_levels", "template_editors", "cpu_budget_seconds"}


def _trust(r: Reader, raw: dict, known_wikis: Mapping[str, str]) -> dict:
    """Who may write an override the bot uses (see docs/operations.md), and its CPU per cycle."""
    out: dict = {}
    if "protection_levels" in raw:
        out["protection_levels"] = tuple(x.strip() for x in r.string_list(
            raw["protection_levels"], "templates.protection_levels", non_empty))
    if "template_editors" in raw:
        editors = r.mapping(raw["template_editors"], "templates.template_editors", set(known_wikis))
        out["template_editors"] = MappingProxyType({
            code: frozenset(_username(n) for n in r.string_list(names, f"templates.template_editors.{code}",
                                                                 non_empty))
            for code, names in editors.items()})
    if "cpu_budget_seconds" in raw:
        out["cpu_budget_seconds"] = float(r.typed(
            raw["cpu_budget_seconds"], "templates.cpu_budget_seconds", (int, float),
            lambda v: None if not isinstance(v, bool) and v > 0 else "must be a positive number of seconds"))
    return out


def _username(name: str) -> str:
    name = " ".join(name.replace("_", " ").split())
    return name[:1].upper() + name[1:]


class _AnyKey(set):
    """`allowed` for Reader.mapping when keys are checked afterwards."""

    def __contains__(self, item) -> bool:
        return True
