"""Weekly check-in report per ambassador: the week's work, what is pending, plans, time, newcomers.

For each ambassador the week is, by default, the current ISO week up to the run
(`reports.week: so_far`), or the last complete one (`last_complete`), in their home
wiki's time zone (the first wiki of their `wikis`); each wiki's edits are counted
over that same ISO week in that wiki's own time zone.

Week so far: from `post_at` on, the wiki section is written and then edited in place
at every run while the week lasts (found by its hidden key marker), and once more
by the first run after the week ended (with the complete week). Conduit cannot edit
a comment, so the Phabricator comment is posted once per week, at the first run
from `post_at` on.

Requests: per wiki, one continued `list=usercontribs` for all ambassadors due
(50 names a request); per ambassador with a Phabricator name, three
`maniphest.search` (created, closed, subscribed-and-modified) and one
`transaction.search` per task they are subscribed to that changed in the week
(commenting subscribes you). Nothing at all once every report of the week is
recorded.

Posting follows "nothing lost, nothing twice": key `weekly:<id>:<week>:<target>`;
skip when the store has it; look at the target for the key's marker (the hidden
comment in the wiki section, the marker line in the bot's own comments on the
task); write; record.

The job in pieces: `targets` (which weeks are due, where each goes, the store's keys),
`gather` and `pending` (reading the week from Conduit, the wikis and the store),
`compose` (the template's context and text; the decisions are pure, bot/domain/weekly.py),
`post` (writing through the writer). This module runs them for every ambassador.
"""
from __future__ import annotations

import logging

from bot.domain.weekly import week_bounds, week_until
from bot.errors import PartialData, ServerError, TargetError, TransientError
from bot.jobs.base import JobContext, JobReport
from bot.jobs.weekly_report.compose import _context, sample_context
from bot.jobs.weekly_report.gather import _contributions, _extras, _phab_activity
from bot.jobs.weekly_report.pending import failed_deliveries, newsletter_pending, parked_feedback, run_report_open
from bot.jobs.weekly_report.post import _deliver
from bot.jobs.weekly_report.targets import DOCUMENT, JOB, _Destination, _due, _tz
from bot.settings.reports import Ambassador

__all__ = ["DOCUMENT", "JOB", "failed_deliveries", "newsletter_pending", "parked_feedback", "run",
           "run_report_open", "sample_context"]

log = logging.getLogger(__name__)


def run(ctx: JobContext) -> JobReport:
    report = JobReport(JOB)
    section = ctx.settings.reports
    if section is None:
        return report
    now = ctx.clock()
    due: list[tuple[Ambassador, str, list[_Destination]]] = []
    for amb in section.ambassadors:
        for label, pending in _due(ctx, section, amb, now):
            due.append((amb, label, pending))
    if not due:
        report.unchanged += len(section.ambassadors)
        return report

    contributions, failed = _contributions(ctx, due, report, now)
    posts = ctx.store.posts()
    pulse_cache: dict = {}
    for amb, label, pending in due:
        where = f"weekly report {label} for {amb.id}"
        broken = sorted(set(amb.wikis) & failed)
        if broken:
            report.problems.append(f"{where}: contributions on {', '.join(broken)} could not be read; not posted")
            continue
        try:
            week = week_until(week_bounds(label, _tz(ctx, amb.home_wiki)), now)
            tasks = _phab_activity(ctx, amb, week)
            extra = _extras(ctx, section, amb, label, now, contributions, report, pulse_cache)
            for dest in pending:
                activity = _context(ctx, amb, label, contributions, posts, tasks, dest, now=now, extra=extra)
                _deliver(ctx, amb, label, dest, activity, report, final=now >= week_bounds(
                    label, _tz(ctx, amb.home_wiki)).end)
        except (TargetError, TransientError, PartialData, ServerError) as exc:
            # One ambassador's trouble never stops the others' reports.
            report.problems.append(f"{where}: {exc}")
    log.info("%s", report.summary(), extra={"job": JOB})
    return report

