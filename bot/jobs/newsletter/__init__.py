"""Newsletters: draft from Phabricator, human approval on the wiki, publish, deliver, close the loop.

`ambassador newsletter draft|approve|publish|status --edition 2026-12 [--wiki cs]`
calls `command()`; the scheduler calls `run()` to draft last month's edition.

Exactly once. Every write has an idempotency key recorded in the store after it
succeeded; before a write whose key the store lacks, the target itself is
checked: talk pages for the hidden `<!-- ambassador-bot:key=... -->` marker the
message carries (read in the same batched request that resolves redirects), and
for a target that was being written when the process died (a "pending" mark put
in the store just before the write) also the page history for the bot's edit
with this edition's summary. Task comments are checked against the task's own
transactions by the bot. So a crash between a write and its record is repaired
on restart by recording, not by writing again.

Requests per delivered page: one batched read per 50 (500 with apihighlimits)
targets, then one edit each; no per-page reads. Missing user talk pages add one
batched `list=users` look-up per 50 (500) of them: as MassMessage does, the page
is created with the message when the account exists and skipped when it does not.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from bot.domain import newsletter as nl
from bot.errors import Blocked, BotError, ConfigError, PartialData, ServerError, TargetError, TransientError
from bot.jobs.base import JobContext, JobReport
from bot.jobs.newsletter.approval import _approve
# NS_* and Progress are read by tests and tools as `newsletter.<name>`.
from bot.jobs.newsletter.common import (ACTIONS, JOB, NS_EDITION, NS_FAILED, NS_PENDING, NS_SCHEDULE, NS_TARGET,
                                        _settings, log)
from bot.jobs.newsletter.draft import _draft
from bot.jobs.newsletter.progress import Progress
from bot.jobs.newsletter.publish import _publish
from bot.jobs.newsletter.status import _status


def command(ctx: JobContext, action: str, edition: str, wikis, *, force: bool = False) -> JobReport:
    """One CLI action on one edition for the given wikis (publish: the wikis concurrently).

    `force` (CLI `--force`): publish an edition nobody edited or that says nothing happened.
    """
    settings = _settings(ctx)
    if action not in ACTIONS:
        raise ConfigError(f"newsletter: unknown action {action!r} (known: {', '.join(ACTIONS)})")
    try:
        ed = nl.parse_edition(edition)
    except nl.EditionError as exc:
        raise ConfigError(str(exc)) from None
    codes = list(dict.fromkeys(wikis))
    unknown = [c for c in codes if c not in settings.wikis]
    if unknown:
        raise ConfigError(f"{ctx.settings.path}: newsletters.wikis: no newsletter settings for wiki "
                          f"{', '.join(unknown)} (configured: {', '.join(settings.wikis)})")
    report = JobReport(f"newsletter {action} {ed.id}")
    cache: dict = {"lock": threading.Lock()}
    step = {"draft": _draft, "approve": _approve, "publish": _publish, "status": _status}[action]

    def one(code, part):
        try:
            if action in ("approve", "publish"):
                step(ctx, settings, ed, code, part, cache, force=force)
            else:
                step(ctx, settings, ed, code, part, cache)
        except Blocked as exc:
            part.problems.append(f"{exc}; no more edits on {code}")
        except PartialData as exc:
            part.problems.append(f"wiki {code}: {exc}; nothing drafted from partial data")
        except (TransientError, ServerError, TargetError) as exc:
            # One wiki's trouble (or Conduit's, for its task comments) never stops the other wiki.
            part.problems.append(f"wiki {code}: {exc}; run the command again later")

    _per_wiki(ctx, codes, one, report, concurrent=action == "publish")
    log.info("%s", report.summary(), extra={"job": JOB})
    return report


def _per_wiki(ctx, codes, one, report, *, concurrent: bool) -> None:
    """Run `one(code, part_report)` per wiki, in threads when `concurrent`; merge the parts in wiki order.

    Each wiki has its own WikiClient (own pywikibot site, throttle and maxlag); they log in one after the
    other first, because pywikibot reads its throttle settings from module globals while a site is made.
    """
    parts = {code: JobReport(report.job) for code in codes}
    if concurrent and len(codes) > 1:
        for code in codes:
            try:
                getattr(ctx.wikis[code], "site", None)
            except BotError:
                pass   # the thread meets the same error and reports it
        with ThreadPoolExecutor(max_workers=len(codes), thread_name_prefix="newsletter") as pool:
            for future in [pool.submit(one, code, parts[code]) for code in codes]:
                future.result()
    else:
        for code in codes:
            one(code, parts[code])
    for code in codes:
        part = parts[code]
        report.saved += part.saved
        report.would_save += part.would_save
        report.unchanged += part.unchanged
        report.problems += part.problems
        report.held += part.held


def run(ctx: JobContext) -> JobReport:
    """Scheduled (the worker): per wiki, concurrently,

    * from `draft_day` of a month on, draft the previous month's edition once;
    * publish and deliver every edition approved on the wiki (by a listed approver where
      `approvers` is set) whose send time has come, and finish an interrupted delivery.
    """
    report = JobReport(JOB)
    settings = ctx.settings.newsletters
    if settings is None:
        return report
    cache: dict = {"lock": threading.Lock()}

    def one(code, part):
        tz = ctx.settings.wikis[code].timezone
        local = datetime.fromtimestamp(ctx.clock(), timezone.utc).astimezone(ZoneInfo(tz))
        ed = nl.previous_edition(ctx.clock(), tz)
        if local.day >= settings.draft_day and not ctx.store.get(NS_SCHEDULE, f"{code}:{ed.id}"):
            before = len(part.problems)
            try:
                _draft(ctx, settings, ed, code, part, cache)
            except (Blocked, PartialData, TransientError) as exc:
                part.problems.append(f"wiki {code}: {exc}")
            if len(part.problems) == before:
                ctx.store.put(NS_SCHEDULE, f"{code}:{ed.id}", ctx.clock())
        for edition in _open_editions(ctx, code, ed):
            try:
                _publish(ctx, settings, edition, code, part, cache, worker=True)
            except Blocked as exc:
                part.problems.append(f"{exc}; no more edits on {code}")
                return
            except (PartialData, TransientError, ServerError, TargetError) as exc:
                part.problems.append(f"wiki {code} edition {edition.id}: {exc}; tried again on the next run")

    _per_wiki(ctx, list(settings.wikis), one, report, concurrent=True)
    return report


def _open_editions(ctx, code: str, latest: nl.Edition) -> list[nl.Edition]:
    """Editions the worker looks at on this wiki: last month's, and every other one the bot drafted or
    began publishing that is not completely delivered yet."""
    found = {latest.id: latest}
    for key, value in ctx.store.items(NS_EDITION).items():
        wiki_code, _, edition = key.partition(":")
        if wiki_code == code and not (value or {}).get("done"):
            try:
                found.setdefault(edition, nl.parse_edition(edition))
            except nl.EditionError:
                continue
    return [found[k] for k in sorted(found)]
