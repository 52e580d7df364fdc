"""The one writer: every write a job sends to a wiki or to Phabricator goes through here.

Jobs decide *what* to write; the writer decides *whether and how*:

* the emergency stop: the wiki's run page, read in the same batch as the job's pages
  (`run_page_titles` + `note_run_page`), or read once per wiki by the writer itself when
  the job had no batch to add it to;
* `{{nobots}}` / `{{bots}}` in the text about to be replaced;
* the minimum edit interval of the wiki (for the jobs whose policy is to keep it);
* dry run: the diff (or the job's `preview`) on the output, the page in `report.would_save`, nothing sent and
  no post recorded;
* idempotency keys: `store.record_post` after each write (`found` for one found done);
* the block memory: a wiki where the bot's account is blocked gets no write (`Blocked`, nothing
  sent); a block a write meets is remembered in the store at once (`NS_BLOCKS`), and every later
  run asks that wiki, once, whether it still holds (`run_guarded`). A partial block is the
  adapter's TargetError for that page only: the wiki goes on;
* the stop/lease guard: before each write the writer asks `ctx.may_write` (the scheduler's
  check), so the write after SIGTERM or a lost lease raises `Stopping`; the one in flight finishes.

The adapters refuse a marked write method that the writer did not issue
(bot/adapters/writes.py `issuing`), so none of the above can be skipped.

The adapters' exceptions (EditConflict, UncertainWriteError, Blocked, Stopping, ...) pass
through unchanged: what to do after a conflict or an unknown outcome is the job's call.

A block outlives the run that met it. Without a memory every cycle would send a write only
to have it refused again (and a long-running worker would log the same refusal every ten
minutes).
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from bot.adapters.writes import issuing
from bot.domain.wikitext import bot_may_edit
from bot.errors import Blocked, BotError
from bot.jobs.base import JobContext, JobReport, emergency_stop, preview_edit, run_page_titles

log = logging.getLogger(__name__)

SAVED = "saved"
UNCHANGED = "unchanged"
WOULD_SAVE = "would-save"
REFUSED = "refused"

# Why a write was refused
STOPPED = "emergency-stop"
NOBOTS = "nobots"
INTERVAL = "interval"


NS_BLOCKS = "wiki-blocks"   # wiki code -> {"reason", "since"}: the bot's account is blocked there

# an idempotency key, or one per item a single write delivers
Keys = str | Iterable[str] | None


@dataclass(frozen=True)
class Outcome:
    status: str
    revid: Any = None          # the revision (wiki) or the comment's PHID list (Phabricator)
    reason: str | None = None  # one of the refusal reasons above
    detail: str = ""

    @property
    def saved(self) -> bool:
        return self.status == SAVED

    @property
    def refused(self) -> bool:
        return self.status == REFUSED


class Writer:
    """One job run's writes. Created by the job with its report: `Writer(ctx, report)`."""

    def __init__(self, ctx: JobContext, report: JobReport):
        self.ctx = ctx
        self.report = report
        self._stops: dict[str, Any] = {}

    @property
    def dry_run(self) -> bool:
        return self.ctx.dry_run

    def _settings(self, code: str):
        # The run's settings (the scheduler narrows them to the entry's wiki); the adapters are
        # built from the same objects.
        return self.ctx.settings.wikis[code]

    # -- the emergency stop -------------------------------------------------------------------
    def run_page_titles(self, code: str) -> list[str]:
        """The run page to read in the job's own batch (none when the wiki has none)."""
        return run_page_titles(self._settings(code))

    def note_run_page(self, code: str, states: dict):
        """Take the run page from a batch the job read; the `EmergencyStop`, or None.

        From now on every edit on that wiki in this run is refused while it stands."""
        stop = emergency_stop(self._settings(code), states)
        self._stops[code] = stop
        return stop

    def stop(self, code: str):
        """The emergency stop on `code`; the run page is read (one request) only if no batch brought it."""
        if code not in self._stops:
            ws = self._settings(code)
            titles = run_page_titles(ws)
            self._stops[code] = emergency_stop(ws, self.ctx.wikis[code].read_pages(titles)) if titles else None
        return self._stops[code]

    # -- whether ------------------------------------------------------------------------------
    def refusal(self, code: str, page) -> str | None:
        """Why the bot may not edit `page` (a PageState) on `code` now, or None."""
        if self.stop(code) is not None:
            return STOPPED
        if page.exists and not bot_may_edit(page.text, self._settings(code).username):
            return NOBOTS
        return None

    def found(self, key: str | Iterable[str], kind: str, target: str, revision: Any = "found") -> None:
        """A write found already done (after a crash, or by a human): recorded so it is not sent again.

        Dry run records nothing."""
        self.record(key, kind, target, revision)

    def record(self, key: str | Iterable[str], kind: str, target: str, revision: Any) -> None:
        """Record a post whose key names the revision the write made (known only after it). Dry run: nothing."""
        if not self.dry_run:
            self._record(key, kind, target, revision)

    # -- how ----------------------------------------------------------------------------------
    def edit(self, code: str, page, new_text: str, summary: str, *, key: Keys = None, kind: str = "edit",
             merge_ok: bool = True, paced_by: tuple[str, str] | None = None,
             preview: str | None = None) -> Outcome:
        """Replace `page`'s text (a PageState read in this run) with `new_text`.

        `paced_by` (namespace, key) names where the time of the page's last edit is kept,
        for jobs that keep the wiki's minimum edit interval between their edits of a page.
        Dry run prints the diff, or `preview` (the job's words for the change) when given.
        """
        title = page.title
        why = self.refusal(code, page)
        if why is not None:
            return Outcome(REFUSED, reason=why, detail=str(self._stops.get(code) or ""))
        if page.exists and new_text == page.text:
            return Outcome(UNCHANGED, revid=page.revid)
        ws = self._settings(code)
        interval = ws.min_edit_interval_minutes * 60 if paced_by else 0
        if interval and self.ctx.clock() - self.ctx.store.get(*paced_by, 0) < interval:
            return Outcome(REFUSED, reason=INTERVAL)
        if self.dry_run:
            if preview is None:
                preview_edit(self.ctx, self.report, code, title, page.text, new_text)
            else:
                self._preview(preview, code, title)
            return Outcome(WOULD_SAVE)
        # merge_ok=False only when asked: the call stays the one the jobs made before the writer
        options = {} if merge_ok else {"merge_ok": False}
        with self._sending(code) as wiki:
            revid = wiki.save(page, new_text, summary, **options)
        self._record(key, kind, f"{code}:{title}", revid)
        if paced_by:
            self.ctx.store.put(*paced_by, self.ctx.clock())
        return Outcome(SAVED, revid=revid)

    def new_section(self, code: str, title: str, heading: str, text: str, summary: str, *, key: Keys = None,
                    kind: str = "new-section", page=None, createonly: bool = False,
                    preview: str | None = None) -> Outcome:
        """Add a section to `title`. `page`, when the job read it, is checked for `{{nobots}}`.

        Dry run prints `preview` (the job's words for what would be posted)."""
        if self.stop(code) is not None:
            return Outcome(REFUSED, reason=STOPPED, detail=str(self._stops[code]))
        if page is not None and page.exists and not bot_may_edit(page.text, self._settings(code).username):
            return Outcome(REFUSED, reason=NOBOTS)
        if self.dry_run:
            self._preview(preview, code, title)
            return Outcome(WOULD_SAVE)
        options = {"createonly": True} if createonly else {}   # the call the jobs made before the writer
        with self._sending(code) as wiki:
            revid = wiki.new_section(title, heading, text, summary, **options)
        self._record(key, kind, f"{code}:{title}", revid)
        return Outcome(SAVED, revid=revid)

    def reply(self, code: str, page, comment_id: str, text: str, summary: str, *, key: Keys = None,
              kind: str = "reply", preview: str | None = None) -> Outcome:
        """Reply under a comment of a talk page (DiscussionTools), `page` as read in this run."""
        why = self.refusal(code, page)
        if why is not None:
            return Outcome(REFUSED, reason=why, detail=str(self._stops.get(code) or ""))
        if self.dry_run:
            self._preview(preview, code, page.title)
            return Outcome(WOULD_SAVE)
        with self._sending(code) as wiki:
            revid = wiki.discussiontools_add_comment(page.title, comment_id, text, summary)
        self._record(key, kind, f"{code}:{page.title}", revid)
        return Outcome(SAVED, revid=revid)

    def task_comment(self, task_id: int, text: str, *, key: Keys = None, kind: str = "task-comment",
                     target: str | None = None, preview: str | None = None, site: str = "phabricator") -> Outcome:
        """Comment on a Phabricator task; the key is recorded with the comment's PHID.

        Whether the comment is already there (on the task, or in the store) is the job's
        question: each job recognises its own comments (a marker line, a digest)."""
        if self.dry_run:
            self.ctx.out.write(preview if preview is not None else f"--- would comment on T{task_id} ---\n{text}\n")
            self.report.would_save.append((site, target or f"T{task_id}"))
            return Outcome(WOULD_SAVE)
        with self._licensed():
            phids = self.ctx.phab.comment(task_id, text)
        self._record(key, kind, target or f"T{task_id}", phids[0] if phids else None)
        return Outcome(SAVED, revid=phids)

    # -- the block memory -----------------------------------------------------------------------
    def blocked(self, code: str) -> str | None:
        """Why no write may go to `code` at all (the bot's account is blocked there), or None.

        Known from the run's first look (`run_guarded`) or from a write this run sent there."""
        return getattr(self.ctx.wikis[code], "blocked", None)

    @contextmanager
    def _sending(self, code: str) -> Iterator[Any]:
        """The wiki's adapter, licensed for one write: none while the wiki is blocked; a block met is remembered."""
        reason = self.blocked(code)
        if reason:
            raise Blocked(f"{reason}; nothing sent")
        try:
            with self._licensed():
                yield self.ctx.wikis[code]
        except Blocked:
            _remember_block(self.ctx, code)
            raise

    @contextmanager
    def _licensed(self) -> Iterator[None]:
        """The adapters' licence for one write, once the stop/lease check (`ctx.may_write`) lets it go."""
        if self.ctx.may_write is not None:
            self.ctx.may_write()
        with issuing():
            yield

    def _record(self, key: Keys, kind: str, target: str, revision: Any) -> None:
        # One write may deliver several items (a digest, one reply for a thread): one key each.
        for k in ([key] if isinstance(key, str) else key or ()):
            self.ctx.store.record_post(k, kind, target, revision)

    def _preview(self, preview: str | None, code: str, title: str) -> None:
        if preview is not None:
            self.ctx.out.write(preview)
        self.report.would_save.append((code, title))


def run_guarded(func: Callable[[JobContext], JobReport], ctx: JobContext) -> JobReport:
    """Run one job after asking each wiki the store remembers as blocked whether it still is (one request)."""
    problems = _look_again(ctx)
    report = func(ctx)
    report.problems[:0] = problems
    return report


def _look_again(ctx: JobContext) -> list[str]:
    problems = []
    for code, wiki in ctx.wikis.items():
        mark = ctx.store.get(NS_BLOCKS, code)
        if mark is None and not getattr(wiki, "blocked", None):
            continue
        try:
            reason = wiki.block_reason()
        except BotError as exc:
            # Cannot tell now: stay careful, the block is assumed to hold.
            wiki.blocked = wiki.blocked or (mark or {}).get("reason") or f"wiki {code}: blocked"
            problems.append(f"wiki {code}: cannot check whether the bot is still blocked ({exc}); "
                            f"no edits on {code} this cycle")
            continue
        if reason:
            problems.append(f"{reason}; no edits on {code} until the block ends")
            if mark is None:
                ctx.store.put(NS_BLOCKS, code, {"reason": reason, "since": ctx.clock()})
        elif mark is not None:
            ctx.store.delete(NS_BLOCKS, code)
            log.info("wiki %s: the bot is no longer blocked; editing again", code,
                     extra={"wiki": code, "outcome": "unblocked"})
    return problems


def _remember_block(ctx: JobContext, code: str) -> None:
    """Keep a block the wiki's adapter met (a whole-wiki block: a partial one is a TargetError) for later runs."""
    reason = getattr(ctx.wikis[code], "blocked", None)
    try:
        if reason and ctx.store.get(NS_BLOCKS, code) is None:
            ctx.store.put(NS_BLOCKS, code, {"reason": reason, "since": ctx.clock()})
    except BotError as exc:  # the next write is refused again and tells the same
        log.error("wiki %s: cannot remember the block: %s", code, exc, extra={"wiki": code, "outcome": "error"})
