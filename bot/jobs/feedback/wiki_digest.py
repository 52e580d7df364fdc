"""Step 4 on the wiki: the digest page gets the same comments, each behind its hidden marker."""
from __future__ import annotations

import re
from collections import defaultdict

from bot.domain.feedback import WIKI_POST, digest_threads
from bot.domain.replies import marker_hash
from bot.errors import BotError, EditConflict, NotFound, TargetError, TransientError, UncertainWriteError
from bot.jobs.base import JobReport
from bot.jobs.feedback.entries import digest_entry
from bot.jobs.feedback.state import CONFLICT_ATTEMPTS
from bot.jobs.writer import NOBOTS, Writer
from bot.render import messages
from bot.render.environment import Markup
from bot.render.escape import wikitext_inline
from bot.render.feedback_words import wiki_name

DIGEST_WIKI_MARKER = "<!-- ambassador-bot:digest-wiki={code} -->"
_TOP_HEADING = re.compile(r"^=(?:=)?[^=].*?=(?:=)?\s*$")


def public_tasks(ctx, task_ids: set[int], report: JobReport) -> set[int]:
    """Tasks whose number may appear on a wiki: only public ones (never a private task's title)."""
    try:
        return {t.id for t in ctx.phab.search_tasks(task_ids=sorted(task_ids)) if t.is_public}
    except BotError as exc:
        report.problems.append(f"Phabricator: {exc}; task links left out of the digest page")
        return set()


def append_digest_page(ctx, conf, code: str, title: str, items, public: set[int], report: JobReport) -> None:
    wiki = ctx.wikis[code]
    lang = wiki.settings.language
    label = f"wiki {code} page {title!r}"
    writer = Writer(ctx, report)
    for attempt in range(CONFLICT_ATTEMPTS):
        states = wiki.read_pages([title] + writer.run_page_titles(code))
        page = states[title]
        stop = writer.note_run_page(code, states)
        if stop:
            raise TargetError(f"{stop}; digest page {title!r} not written")
        if writer.refusal(code, page) == NOBOTS:
            raise TargetError(f"{label}: the page excludes the bot ({{{{nobots}}}}); digest not written")
        todo = _entries_to_add(ctx, conf, writer, code, title, page, items, public)
        if not todo:
            return
        new_text = digest_page_text(ctx, lang, page.text, todo)
        summary = messages.msg(lang, "feedback-summary-digest", len(todo))
        try:
            outcome = writer.edit(code, page, new_text, summary, key=[WIKI_POST + e["key"] for e in todo])
        except EditConflict:
            continue
        except NotFound:
            continue
        except UncertainWriteError as exc:
            raise TransientError(f"{label}: {exc}") from None
        if outcome.saved:
            report.saved.append((code, title, outcome.revid))
        return
    raise TargetError(f"{label}: still in edit conflict after {CONFLICT_ATTEMPTS} attempts")


def _entries_to_add(ctx, conf, writer: Writer, code: str, title: str, page, items, public: set[int]) -> list[dict]:
    """The items whose marker is not on the page yet, as entries for the reader of the page's wiki."""
    lang = ctx.wikis[code].settings.language
    todo = []
    for key, item in items:
        if f"ambassador-bot:key={marker_hash(key)}" in page.text:
            writer.found(WIKI_POST + key, "edit", f"{code}:{title}", page.revid)
            continue
        e = digest_entry(ctx, conf, key, item, reader=lang)
        e["text_wiki"] = Markup(wikitext_inline(e["text"], max_chars=conf.max_quote_chars))
        e["task_link"] = Markup(f"[[phab:T{e['task']}|T{e['task']}]]") if e["task"] in public else None
        todo.append(e)
    return todo


def digest_page_text(ctx, lang: str, text: str, entries: list[dict]) -> str:
    """`text` with `entries` added, in the reader's language (`lang`, the digest page's wiki), each source
    wiki's comments under that wiki's own heading (`== Korean Wikipedia ==`, created once, found again by
    its hidden marker), threads in reading order."""
    by_wiki: dict[str, list[dict]] = defaultdict(list)
    for e in entries:
        by_wiki[e["wiki"]].append(e)
    for code, wiki_entries in sorted(by_wiki.items()):
        threads = digest_threads(wiki_entries)
        for e in wiki_entries:
            e["stars"] = Markup("*" * min(e["depth"], 4))
        marker = DIGEST_WIKI_MARKER.format(code=code)
        lines = text.split("\n")
        at = next((i for i, ln in enumerate(lines) if ln.strip() == marker), None)
        block = ctx.renderer.render("digest", lang, "wiki", threads=threads, comments=wiki_entries,
                                    heading=None if at is not None else wiki_name(lang, code),
                                    wiki_code=Markup(code)).strip("\n")
        if at is None:
            text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + block + "\n"
            continue
        end = next((i for i in range(at + 1, len(lines)) if _TOP_HEADING.match(lines[i])), len(lines))
        while end > at + 1 and not lines[end - 1].strip():
            end -= 1
        text = "\n".join(lines[:end] + ["", block, ""] + lines[end:]) if end < len(lines) \
            else "\n".join(lines[:end] + ["", block, ""])
    return text
