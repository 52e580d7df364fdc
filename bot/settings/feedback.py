"""The `feedback:` and `mentions:` config sections (see docs/feedback.md).

    feedback:
      parser: auto              # auto | discussiontools | wikitext
      max_quote_chars: 800      # longer comments are cut, with a link to the full one
      digest_page: {wiki: en, title: "Wikipedia:Growth team/Feedback digest"}
      pages:
        - {wiki: cs, title: "Wikipedie:Growth/Zpětná vazba", task: T123}
        - {wiki: ko, title: "위키백과:성장/피드백", task: T124, reply: true, digest_page: false}

    mentions:
      pages: {cs: ["Wikipedie:Growth"], ko: ["위키백과:성장"]}
      namespaces: {cs: [4, 5]}
      ignore_users: ["SomeOtherBot"]
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from bot.settings.reader import Reader, non_empty, page_title, task_number

PARSERS = ("auto", "discussiontools", "wikitext")


@dataclass(frozen=True)
class DigestPage:
    wiki: str
    title: str


@dataclass(frozen=True)
class FeedbackPage:
    wiki: str
    title: str
    task: int                       # default target; a section heading with T123 overrides it
    digest_page: DigestPage | None = None
    reply: bool = False             # post "Forwarded to T123" under each forwarded comment


@dataclass(frozen=True)
class FeedbackSettings:
    pages: tuple[FeedbackPage, ...]
    parser: str = "auto"
    max_quote_chars: int = 800

    def pages_on(self, wiki: str) -> list[FeedbackPage]:
        return [p for p in self.pages if p.wiki == wiki]


@dataclass(frozen=True)
class MentionSettings:
    pages: Mapping[str, tuple[str, ...]]          # wiki -> titles
    namespaces: Mapping[str, tuple[int, ...]]     # wiki -> namespace numbers
    ignore_users: tuple[str, ...] = ()

    def wikis(self) -> list[str]:
        return sorted(set(self.pages) | set(self.namespaces))


_title = page_title      # one title check for the whole config (reader.py)
_task = task_number


def _wiki(reader: Reader, value, key: str, known_wikis: Mapping[str, str]) -> str:
    return reader.typed(value, key, str, lambda v: None if v in known_wikis else
                        f"unknown wiki {v!r} (configured: {', '.join(sorted(known_wikis))})")


def _digest(reader: Reader, value, key: str, known_wikis: Mapping[str, str]) -> DigestPage | None:
    if value is False or value is None:
        return None
    d = reader.mapping(value, key, {"wiki", "title"}, {"wiki", "title"})
    return DigestPage(_wiki(reader, d["wiki"], f"{key}.wiki", known_wikis),
                      reader.typed(d["title"], f"{key}.title", str, _title))


def parse(reader: Reader, raw, known_wikis: Mapping[str, str]) -> FeedbackSettings:
    key = "feedback"
    f = reader.mapping(raw, key, {"pages", "parser", "max_quote_chars", "digest_page"}, {"pages"})
    parser = reader.typed(f.get("parser", "auto"), f"{key}.parser", str,
                          lambda v: None if v in PARSERS else f"must be one of {', '.join(PARSERS)}")
    max_quote = reader.typed(f.get("max_quote_chars", 800), f"{key}.max_quote_chars", int,
                             lambda v: None if 50 <= v <= 10000 else "must be between 50 and 10000")
    default_digest = _digest(reader, f.get("digest_page"), f"{key}.digest_page", known_wikis)
    pages_raw = reader.typed(f["pages"], f"{key}.pages", list, lambda v: None if v else "must list at least one page")
    pages = []
    seen = set()
    for i, p in enumerate(pages_raw):
        pk = f"{key}.pages[{i}]"
        p = reader.mapping(p, pk, {"wiki", "title", "task", "digest_page", "reply"}, {"wiki", "title", "task"})
        wiki = _wiki(reader, p["wiki"], f"{pk}.wiki", known_wikis)
        title = reader.typed(p["title"], f"{pk}.title", str, _title)
        if (wiki, title) in seen:
            raise reader.fail(f"{pk}.title", f"page {title!r} on {wiki} is listed twice")
        seen.add((wiki, title))
        digest = _digest(reader, p["digest_page"], f"{pk}.digest_page", known_wikis) if "digest_page" in p else default_digest
        pages.append(FeedbackPage(wiki, title, _task(reader, p["task"], f"{pk}.task"), digest,
                                  reader.typed(p.get("reply", False), f"{pk}.reply", bool)))
    return FeedbackSettings(tuple(pages), parser, max_quote)


def parse_mentions(reader: Reader, raw, known_wikis: Mapping[str, str]) -> MentionSettings:
    key = "mentions"
    m = reader.mapping(raw, key, {"pages", "namespaces", "ignore_users"})
    pages: dict[str, tuple[str, ...]] = {}
    for wiki, titles in reader.mapping(m.get("pages", {}) or {}, f"{key}.pages", set(known_wikis)).items():
        pages[wiki] = reader.string_list(titles, f"{key}.pages.{wiki}", _title)
    namespaces: dict[str, tuple[int, ...]] = {}
    for wiki, numbers in reader.mapping(m.get("namespaces", {}) or {}, f"{key}.namespaces", set(known_wikis)).items():
        if isinstance(numbers, int):
            numbers = [numbers]
        reader.typed(numbers, f"{key}.namespaces.{wiki}", list)
        namespaces[wiki] = tuple(reader.typed(n, f"{key}.namespaces.{wiki}[{i}]", int,
                                              lambda v: None if 0 <= v < 2**31 else "must be a namespace number (0 or more)")
                                 for i, n in enumerate(numbers))
    if not any(pages.values()) and not any(namespaces.values()):
        raise reader.fail(key, "needs pages or namespaces to watch on at least one wiki")
    ignore = reader.string_list(m.get("ignore_users", []), f"{key}.ignore_users", non_empty)
    return MentionSettings(MappingProxyType(pages), MappingProxyType(namespaces), ignore)
