"""Tell a task when a watched wiki page starts mentioning it ("mentioned in", like Gerrit).

Per wiki and cycle: one `list=recentchanges` request for every watched page and
namespace (history catch-up when the cursor is older than recent changes keep),
then the changed revisions and their parents by id, 50 a request. A mention is
new when the revision's text mentions the task and its parent's did not.

Each (wiki, page, task) gets one comment ever (`mention_key`): a re-save, or a
revert and re-add, does not comment again. Before posting, the task's comments by
the bot are searched for the key's marker, so a crash between posting and
recording never posts twice. Nothing is written to a wiki, so a private task's
title cannot leak; the comment on a private task goes to Phabricator only.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timezone

from bot.domain.mentions import added_mentions, mention_key
from bot.errors import (Blocked, BotError, PartialData, ServerError, TargetError, TransientError,
                        UncertainWriteError)
from bot.jobs.base import JobContext, JobReport, reachable_tasks
from bot.jobs.feedback import changes_since_cursor, marker_hash, normal_title
from bot.jobs.writer import Writer
from bot.render.environment import Markup

log = logging.getLogger(__name__)

JOB = "mentions"
NS_CURSOR = "mention-rc"
NS_QUEUE = "mention-queue"     # key -> mention waiting to be posted
NS_PARKED = "mention-parked"   # per task T<id> the bot cannot reach: when first met (reported once)
MARKER_PREFIX = "ambassador-bot mention:"


def run(ctx: JobContext) -> JobReport:
    report = JobReport(JOB)
    conf = ctx.settings.mentions
    if conf is None:
        return report
    for code in conf.wikis():
        if code not in ctx.wikis:
            continue
        try:
            _collect(ctx, conf, code, report)
        except Blocked as exc:
            report.problems.append(str(exc))
        except (TransientError, TargetError, ServerError, PartialData) as exc:
            report.problems.append(f"wiki {code}: {exc}; will retry next cycle")
    _deliver(ctx, report)
    log.info("%s", report.summary(), extra={"job": JOB})
    return report


def _collect(ctx: JobContext, conf, code: str, report: JobReport) -> None:
    wiki = ctx.wikis[code]
    titles = list(conf.pages.get(code, ()))
    namespaces = conf.namespaces.get(code, ())
    watch = changes_since_cursor(ctx, NS_CURSOR, code, titles, namespaces)
    ignored = {wiki.settings.username, *conf.ignore_users}
    edits = [c for c in watch.changes if c.user not in ignored]
    if edits:
        revs = wiki.revisions_by_id({c.revid for c in edits} | {c.old_revid for c in edits if c.old_revid})
        for c in edits:
            after = revs.get(c.revid)
            if after is None:
                continue  # deleted or suppressed since: nothing to point at
            before = revs.get(c.old_revid, {}).get("text", "") if c.old_revid else ""
            for task_id in sorted(added_mentions(before, after["text"])):
                key = mention_key(code, c.title, task_id)
                if ctx.store.has_post(key) or ctx.store.get(NS_QUEUE, key):
                    continue
                ctx.store.put(NS_QUEUE, key, {"wiki": code, "title": normal_title(after["title"] or c.title),
                                              "task": task_id, "revid": c.revid, "user": c.user,
                                              "timestamp": c.timestamp})
    report.unchanged += max(0, len(titles) - len({c.title for c in edits}))
    ctx.store.put(NS_CURSOR, code, watch.pending_cursor)


def _deliver(ctx: JobContext, report: JobReport) -> None:
    queue = {k: v for k, v in ctx.store.items(NS_QUEUE).items() if not ctx.store.has_post(k)}
    if not queue:
        return
    try:
        bot_phid = ctx.phab.whoami().phid
    except BotError as exc:
        report.problems.append(f"Phabricator: {exc}; mentions wait for the next cycle")
        return
    reachable = reachable_tasks(ctx, NS_PARKED, {int(v["task"]) for v in queue.values()}, report, "a mention notice")
    if reachable is None:
        return
    by_task: dict[int, list[tuple[str, dict]]] = defaultdict(list)
    for key, item in sorted(queue.items()):
        if item["task"] in reachable:     # the others stay queued until the task can be reached
            by_task[item["task"]].append((key, item))
    for task_id, items in sorted(by_task.items()):
        try:
            _post(ctx, task_id, items, bot_phid, report)
        except BotError as exc:
            report.problems.append(f"T{task_id}: {exc}; the mention waits for the next cycle")


def _post(ctx: JobContext, task_id: int, items, bot_phid: str, report: JobReport) -> None:
    already = set()
    for x in ctx.phab.transactions(f"T{task_id}", author_phids=[bot_phid]):
        for text in x.texts:
            for line in text.splitlines():
                if line.startswith(MARKER_PREFIX):
                    already.update(line[len(MARKER_PREFIX):].split())
    writer = Writer(ctx, report)
    for key, item in items:
        if marker_hash(key) in already:
            writer.found(key, "task-comment", f"T{task_id}")
            ctx.store.delete(NS_QUEUE, key)    # a dry run's store is an overlay: nothing is lost
            continue
        wiki = ctx.wikis[item["wiki"]]
        when = datetime.strptime(item["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        text = ctx.renderer.render(
            "mention", ctx.settings.phabricator.language, "remarkup", wiki=item["wiki"], title=item["title"], user=item["user"],
            time=when.strftime("%Y-%m-%d %H:%M UTC"),
            diff_url=Markup(f"{wiki.index_url()}?title=Special:Diff/{int(item['revid'])}"),
            marker=Markup(f"{MARKER_PREFIX} {marker_hash(key)}"))
        try:
            outcome = writer.task_comment(task_id, text, key=key)
        except UncertainWriteError as exc:
            raise TransientError(f"T{task_id}: {exc}") from None
        if outcome.saved:
            ctx.store.delete(NS_QUEUE, key)
            report.saved.append(("phabricator", f"T{task_id}", 0))
