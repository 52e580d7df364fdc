"""Steps 2 and 3 for one wiki: the changed pages' new revisions, their comments, queued."""
from __future__ import annotations

from collections import defaultdict

from bot.domain.feedback import page_problem
from bot.domain.replies import normal_title
from bot.errors import PartialData, ServerError, TargetError, TransientError
from bot.jobs.base import JobContext, JobReport
from bot.jobs.feedback.comment_queue import queue_changes
from bot.jobs.feedback.parsers import page_changes
from bot.jobs.feedback.state import JOB, NS_CURSOR, NS_PAGE, log
from bot.jobs.feedback.watch import Change, WatchResult, changes_since_cursor


def collect_wiki(ctx: JobContext, conf, code: str, report: JobReport) -> None:
    wiki = ctx.wikis[code]
    pages = {normal_title(p.title): p for p in conf.pages_on(code)}
    watch = changes_since_cursor(ctx, NS_CURSOR, code, list(pages))
    if watch.first_run:
        _start_from_now(ctx, wiki, code, pages, watch, report)
        return
    by_page: dict[str, list[Change]] = defaultdict(list)
    for ch in watch.changes:
        by_page[ch.title].append(ch)
    baselines = _baselines(ctx, code, pages, watch)
    revs = _revisions(wiki, by_page, baselines)
    report.unchanged += len(pages) - len(by_page)
    for title, chs in sorted(by_page.items()):
        page = pages[title]
        base = baselines[title]
        newer = sorted((revs[c.revid] for c in chs if c.revid > base["revid"] and c.revid in revs),
                       key=lambda r: r["revid"])
        if not newer:
            continue
        if base.get("new"):
            ctx.store.put(NS_PAGE, f"{code}:{title}", {"revid": newer[-1]["revid"], "since": base["since"]})
            continue
        try:
            changes = page_changes(ctx, conf, wiki, title, revs.get(base["revid"]), newer)
        except (TransientError, TargetError, ServerError, PartialData) as exc:
            report.problems.append(page_problem(code, title, str(exc), "will retry next cycle"))
            return  # the cursor must not pass a page whose comments were not queued
        queued = queue_changes(ctx, code, page, base, changes)
        log.info("wiki %s page %r: %d revision(s), %d comment change(s), %d queued", code, title, len(newer),
                 len(changes), queued, extra={"job": JOB})
        ctx.store.put(NS_PAGE, f"{code}:{title}", {"revid": newer[-1]["revid"], "since": base["since"]})
    ctx.store.put(NS_CURSOR, code, watch.pending_cursor)


def _start_from_now(ctx: JobContext, wiki, code: str, pages: dict, watch: WatchResult, report: JobReport) -> None:
    # First cycle starts from now: the current revisions are the baseline.
    states = wiki.read_pages(list(pages))
    for title, state in states.items():
        ctx.store.put(NS_PAGE, f"{code}:{normal_title(title)}",
                      {"revid": state.revid, "since": watch.pending_cursor["timestamp"]})
    ctx.store.put(NS_CURSOR, code, watch.pending_cursor)
    report.unchanged += len(pages)


def _baselines(ctx: JobContext, code: str, pages: dict, watch: WatchResult) -> dict[str, dict]:
    baselines = {}
    for title in pages:
        base = ctx.store.get(NS_PAGE, f"{code}:{title}")
        if base is None:
            # A page added to the config later also starts from now.
            base = {"revid": 0, "since": watch.pending_cursor["timestamp"], "new": True}
        baselines[title] = base
    return baselines


def _revisions(wiki, by_page: dict[str, list[Change]], baselines: dict[str, dict]) -> dict[int, dict]:
    """The changed pages' new revisions and the last one already handled, by id (batched by the adapter)."""
    wanted: set[int] = set()
    for title, chs in by_page.items():
        base = baselines[title]
        wanted |= {c.revid for c in chs if c.revid > base["revid"]}
        if base["revid"]:
            wanted.add(base["revid"])
    return wiki.revisions_by_id(wanted) if wanted else {}
