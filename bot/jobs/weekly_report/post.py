"""Posting a composed report through the writer: one comment on the task, one section on the page.

"Nothing lost, nothing twice": skip when the store has the key; look at the target for the
report's marker; write; record.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from bot.domain.weekly import replace_marked_section, report_marker, section_digest, section_unchanged
from bot.errors import EditConflict, TargetError, TransientError, UncertainWriteError
from bot.jobs.base import JobContext, JobReport
from bot.jobs.documents import override_title, read_overrides
from bot.jobs.weekly_report.compose import _render
from bot.jobs.weekly_report.targets import DOCUMENT, JOB, NS_SECTION, _Destination, _section_key
from bot.jobs.writer import NOBOTS, Writer
from bot.render import messages
from bot.render.escape import wikitext_inline
from bot.settings.reports import Ambassador

# The job's one logger, as before it was split into modules (the log lines name it).
log = logging.getLogger("bot.jobs.weekly_report")


def _deliver(ctx: JobContext, amb: Ambassador, label: str, dest: _Destination, activity: dict,
             report: JobReport, final: bool = True) -> None:
    if dest.kind == "task":
        _post_task(ctx, amb, label, dest, activity, report)
    else:
        _post_page(ctx, amb, label, dest, activity, report, final)


def _post_task(ctx: JobContext, amb: Ambassador, label: str, dest: _Destination, activity: dict,
               report: JobReport) -> None:
    """One comment per week: Conduit cannot edit a comment, so it is posted once and never changed."""
    home = amb.home_wiki
    title = override_title(ctx, home, DOCUMENT, "remarkup") if home else None
    states = read_overrides(ctx, home, [title]) if title else {}
    marker = report_marker(amb.id, label, "remarkup")
    text = _render(ctx, amb, dest, home, states, activity, report).rstrip("\n") + "\n\n" + marker
    writer = Writer(ctx, report)
    if not writer.dry_run:  # a dry run posts nothing, so it need not ask whether the comment is there
        bot_phid = _bot_phid(ctx)
        for x in ctx.phab.transactions(dest.title, author_phids=[bot_phid]):
            if any(marker in text for text in x.texts):
                # Posted before the record was written (crash or uncertain write): record it now.
                writer.found(dest.key, "task-comment", dest.title, x.phid)
                report.unchanged += 1
                return
    try:
        outcome = writer.task_comment(
            dest.task, text, key=dest.key, target=dest.title,
            preview=f"--- weekly report {label} for {amb.id} -> {dest.title} (dry run) ---\n{text}\n\n")
    except UncertainWriteError as exc:
        raise TransientError(f"{exc}; the next run looks at {dest.title} before posting again") from None
    if outcome.saved:
        report.saved.append(("phabricator", dest.title, 0))
        log.info("weekly report %s for %s posted on %s", label, amb.id, dest.title, extra={"job": JOB})


def _bot_phid(ctx: JobContext) -> str:
    return ctx.bot_phid()


@dataclass
class _Section:
    """One week's section of one ambassador's page, composed and about to be written."""

    ctx: JobContext
    writer: Writer
    report: JobReport
    amb: Ambassador
    label: str
    code: str
    title: str
    page: object              # the PageState read in this run
    heading: str
    text: str
    summary: str
    marker: str
    section_key: str
    post_key: str | None      # recorded only with the week's last version

    def done(self, revid) -> None:
        self.ctx.store.put(NS_SECTION, self.section_key,
                           {"hash": section_digest(self.heading, self.text), "revid": revid})

    def found(self, revid) -> None:
        self.done(revid)
        if self.post_key:
            self.writer.found(self.post_key, "edit", f"{self.code}:{self.title}", revid)

    def saved(self, revid, verb: str) -> None:
        self.done(revid)
        self.report.saved.append((self.code, self.title, revid))
        log.info("weekly report %s for %s %s on %s:%s", self.label, self.amb.id, verb, self.code, self.title,
                 extra={"job": JOB})


def _post_page(ctx: JobContext, amb: Ambassador, label: str, dest: _Destination, activity: dict,
               report: JobReport, final: bool = True) -> None:
    """The week's section: added once, then edited in place while the week runs; `final` records it."""
    section = _compose_section(ctx, amb, label, dest, activity, report, final)
    if section.page.exists and section.marker in section.page.text:
        _update_section(section)
    else:
        _add_section(section)


def _compose_section(ctx: JobContext, amb: Ambassador, label: str, dest: _Destination, activity: dict,
                     report: JobReport, final: bool) -> _Section:
    """Read the page (with the run page and the override), check that the bot may write there, compose."""
    code, page_title = dest.wiki, dest.title
    writer = Writer(ctx, report)
    override = override_title(ctx, code, DOCUMENT, "wiki")
    states = read_overrides(ctx, code, [override], also=[page_title] + writer.run_page_titles(code))
    stop = writer.note_run_page(code, states)
    if stop:
        raise TargetError(f"{stop}; not posted on {code}")
    page = states[page_title]
    if writer.refusal(code, page) == NOBOTS:
        raise TargetError(f"wiki {code} page {page_title!r}: "
                          "the page excludes the bot ({{nobots}} or {{bots}})")
    text = _render(ctx, amb, dest, code, states, activity, report).rstrip("\n")
    lang = amb.language
    name = re.sub(r"[\[\]{}|<>]", "", amb.name)
    week = messages.week_title(label, lang)
    return _Section(ctx, writer, report, amb, label, code, page_title, page,
                    heading=messages.msg(lang, "wr-heading", week, wikitext_inline(amb.name)), text=text,
                    summary=messages.msg(lang, "wr-summary", week, name),
                    marker=report_marker(amb.id, label, "wiki"), section_key=_section_key(amb, label, dest),
                    post_key=dest.key if final else None)


def _update_section(s: _Section) -> None:
    """Edit the week's section in place (found by its marker), unless it already says the same."""
    page = s.page
    new_text = replace_marked_section(page.text, s.marker, s.heading, s.text)
    stored = s.ctx.store.get(NS_SECTION, s.section_key) or {}
    if section_unchanged(page.text, new_text, stored.get("hash"), section_digest(s.heading, s.text)):
        s.found(page.revid)
        s.report.unchanged += 1
        return
    try:
        outcome = s.writer.edit(
            s.code, page, new_text, s.summary, key=s.post_key, merge_ok=False,
            preview=f"--- weekly report {s.label} for {s.amb.id} -> {s.code}:{s.title}, section updated "
                    f"(dry run) ---\n== {s.heading} ==\n{s.text}\n\n")
    except EditConflict as exc:
        if exc.saved_revid:
            s.found(exc.saved_revid)
            s.report.saved.append((s.code, s.title, exc.saved_revid))
            return
        raise TransientError(f"wiki {s.code} page {s.title!r}: edited meanwhile; "
                             "the section is updated on the next run") from None
    except UncertainWriteError as exc:
        raise TransientError(f"{exc}; the next run compares the section before editing again") from None
    if outcome.saved:
        s.saved(outcome.revid, "updated")


def _add_section(s: _Section) -> None:
    """Add the week's section, its marker last, so that later runs find it and edit it in place."""
    body = s.text + "\n" + s.marker
    try:
        outcome = s.writer.new_section(
            s.code, s.title, s.heading, body, s.summary, key=s.post_key, kind="edit", page=s.page,
            preview=f"--- weekly report {s.label} for {s.amb.id} -> {s.code}:{s.title} (dry run) ---\n"
                    f"== {s.heading} ==\n{body}\n\n")
    except UncertainWriteError as exc:
        raise TransientError(f"{exc}; the next run looks for the report's marker before posting again") from None
    if outcome.saved:
        s.saved(outcome.revid, "saved")
