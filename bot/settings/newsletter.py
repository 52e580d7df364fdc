"""The `newsletters:` config section (see docs/newsletters.md).

Page names may contain `{edition}` (e.g. `Wikipedie:Growth/Zpravodaj/{edition}`);
every problem names the file and the key, like the core settings.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bot.settings.reader import LANGUAGES, STATUS_KEYS, Reader, non_empty, page_title

SECTION_KINDS = ("resolved", "progress", "opened")
_PAGE_KEYS = {"draft_page", "page", "subscribers", "archive_page", "intro_page", "optout_category", "report_page"}
_BAD_TITLE = re.compile(r"[\[\]<>|#]|\{(?!edition\})|(?<!\{edition)\}")


@dataclass(frozen=True)
class NewsletterWiki:
    code: str
    draft_page: str            # where the bot drafts and humans approve ({edition} placeholder)
    page: str                  # the published edition
    subscribers: str           # MassMessage-style delivery list
    archive_page: str | None = None
    intro_page: str | None = None
    optout_category: str | None = None
    # The delivery report of an edition; default: the edition page's subpage (…/Doručení, …/배달 보고, …/Delivery report).
    report_page: str | None = None
    # Who may approve by setting `ready` (user names); empty: anyone who can edit the draft.
    approvers: tuple[str, ...] = ()

    def title(self, which: str, edition: str) -> str | None:
        value = getattr(self, which)
        return None if value is None else value.replace("{edition}", edition)


@dataclass(frozen=True)
class NewsletterSettings:
    projects: tuple[str, ...]
    wikis: Mapping[str, NewsletterWiki]
    sections: tuple[str, ...] = SECTION_KINDS
    progress_statuses: tuple[str, ...] = ("progress",)
    resolved_statuses: tuple[str, ...] = ("resolved",)
    max_tasks_per_section: int = 30
    draft_day: int = 1
    comment_tasks: bool = True
    names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))   # language -> newsletter name
    # When an approved edition without its own `send=` goes out: None = at the next run after approval,
    # else (weekday or None for every day, hour, minute) in the wiki's zone, from `send_at: "next monday 09:00"`.
    send_at: tuple | None = None


def _title(v: str) -> str | None:
    if not v.strip():
        return "must not be empty"
    if _BAD_TITLE.search(v):
        return f"not a valid page title (no [ ] < > | # or braces other than {{edition}}): {v!r}"
    return page_title(v.replace("{edition}", "2026-01"))


def _user_name(v: str) -> str | None:
    if not v.strip():
        return "must not be empty"
    try:
        ipaddress.ip_address(v.strip())
        return f"{v!r} is an IP address: anyone editing from it could approve; name an account"
    except ValueError:
        pass
    if re.search(r"[\[\]<>|#{}:@]", v):
        return f"write the user name alone, without a namespace or link: {v!r}"
    return None


def _parse_wiki(reader: Reader, wkey: str, code: str, w, known_wikis: Mapping[str, str]) -> NewsletterWiki:
    if code not in known_wikis:
        raise reader.fail(wkey, f"no such wiki in 'wikis' (known: {', '.join(sorted(known_wikis))})")
    w = reader.mapping(w, wkey, _PAGE_KEYS | {"approvers"}, {"draft_page", "page", "subscribers"})
    w_keys = set(w)
    approvers = reader.string_list(w.pop("approvers", []), f"{wkey}.approvers", _user_name)
    if "approvers" in w_keys and not approvers:
        raise reader.fail(f"{wkey}.approvers", "is empty; leave the key out to let anyone approve")
    values = {k: reader.typed(v, f"{wkey}.{k}", str, _title) for k, v in w.items()}
    if values["draft_page"] == values["page"]:
        raise reader.fail(f"{wkey}.page", "must differ from draft_page (the draft keeps its approval marker)")
    for k in ("draft_page", "page", "report_page"):
        if k in values and "{edition}" not in values[k]:
            raise reader.fail(f"{wkey}.{k}", "must contain {edition}, so every edition has its own page")
    return NewsletterWiki(code=code, approvers=tuple(approvers), **values)


def parse(reader: Reader, raw, known_wikis: Mapping[str, str]) -> NewsletterSettings:
    key = "newsletters"
    n = reader.mapping(raw, key, {"projects", "wikis", "sections", "progress_statuses", "resolved_statuses",
                                  "max_tasks_per_section", "draft_day", "comment_tasks", "names", "send_at"},
                       {"projects", "wikis"})
    projects = reader.string_list(n["projects"], f"{key}.projects",
                                  lambda v: "write the project slug without '#'" if v.startswith("#") else non_empty(v))
    if not projects:
        raise reader.fail(f"{key}.projects", "must name at least one project")
    sections = reader.string_list(n.get("sections", list(SECTION_KINDS)), f"{key}.sections",
                                  lambda v: None if v in SECTION_KINDS
                                  else f"unknown section {v!r} (known: {', '.join(SECTION_KINDS)})")
    if len(set(sections)) != len(sections) or not sections:
        raise reader.fail(f"{key}.sections", "must list each section at most once, and at least one")
    status_check = (lambda v: None if v in STATUS_KEYS else f"unknown status {v!r} (known: {', '.join(STATUS_KEYS)})")
    wikis_raw = reader.typed(n["wikis"], f"{key}.wikis", dict, lambda v: None if v else "must name at least one wiki")
    wikis = {code: _parse_wiki(reader, f"{key}.wikis.{code}", code, w, known_wikis)
             for code, w in wikis_raw.items()}
    names = reader.mapping(n.get("names", {}), f"{key}.names", set(LANGUAGES))
    for lang, name in names.items():
        # That the name is plain text in wikitext and Remarkup is checked by the jobs, which know the
        # markup (bot.jobs.registry.check_settings).
        reader.typed(name, f"{key}.names.{lang}", str, non_empty)
    send_at = None
    if n.get("send_at") is not None:
        from bot.domain.newsletter import SendTimeError, parse_default_send
        raw = reader.typed(n["send_at"], f"{key}.send_at", str, non_empty)
        try:
            send_at = parse_default_send(raw)
        except SendTimeError as exc:
            raise reader.fail(f"{key}.send_at", str(exc)) from None
    return NewsletterSettings(
        projects=projects,
        wikis=MappingProxyType(wikis),
        sections=sections,
        progress_statuses=reader.string_list(n.get("progress_statuses", ["progress"]), f"{key}.progress_statuses",
                                             status_check),
        resolved_statuses=reader.string_list(n.get("resolved_statuses", ["resolved"]), f"{key}.resolved_statuses",
                                             status_check),
        max_tasks_per_section=reader.typed(n.get("max_tasks_per_section", 30), f"{key}.max_tasks_per_section", int,
                                           lambda v: None if 1 <= v <= 500 else "must be 1..500"),
        draft_day=reader.typed(n.get("draft_day", 1), f"{key}.draft_day", int,
                               lambda v: None if 1 <= v <= 28 else "must be a day of the month, 1..28"),
        comment_tasks=reader.typed(n.get("comment_tasks", True), f"{key}.comment_tasks", bool),
        names=MappingProxyType(dict(names)),
        send_at=send_at,
    )
