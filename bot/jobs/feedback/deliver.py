"""Step 4 and 5 for the whole queue: digests on tasks and pages, replies, then the queue lets go."""
from __future__ import annotations

from bot.domain.feedback import delivered, digest_batches
from bot.errors import Blocked, BotError, TargetError, TransientError
from bot.jobs.base import JobContext, JobReport, reachable_tasks
from bot.jobs.feedback.phab_digest import post_digest
from bot.jobs.feedback.replies import send_replies, wants_reply
from bot.jobs.feedback.state import NS_PARKED, NS_QUEUE
from bot.jobs.feedback.wiki_digest import append_digest_page, public_tasks


def deliver(ctx: JobContext, conf, report: JobReport) -> None:
    queue = ctx.store.items(NS_QUEUE)
    if not queue:
        return
    by_task, by_digest = digest_batches(queue, ctx.store.has_post)
    would_post = _post_task_digests(ctx, conf, by_task, report) if by_task else set()
    if by_digest:
        public = public_tasks(ctx, {int(i["task"]) for items in by_digest.values() for _, i in items}, report)
        for (code, title), items in sorted(by_digest.items()):
            try:
                append_digest_page(ctx, conf, code, title, items, public, report)
            except Blocked as exc:
                report.problems.append(str(exc))
            except (TargetError, TransientError) as exc:
                report.problems.append(f"{exc}; the digest page waits for the next cycle")
    send_replies(ctx, conf, queue, would_post, report)
    for key, item in queue.items():
        if delivered(key, item, ctx.store.has_post, wants_reply(conf, item)):
            ctx.store.delete(NS_QUEUE, key)


def _post_task_digests(ctx: JobContext, conf, by_task: dict, report: JobReport) -> set[str]:
    """One digest per reachable task; returns the keys a dry run would have posted (they count as
    posted for the replies)."""
    would_post: set[str] = set()
    try:
        bot_phid = ctx.phab.whoami().phid
    except BotError as exc:
        report.problems.append(f"Phabricator: {exc}; digests wait for the next cycle")
        by_task = {}
    reachable = reachable_tasks(ctx, NS_PARKED, set(by_task), report, "feedback") if by_task else set()
    by_task = {t: items for t, items in by_task.items() if t in (reachable or ())}
    for task_id, items in sorted(by_task.items()):
        try:
            would_post |= post_digest(ctx, conf, task_id, items, bot_phid, report)
        except BotError as exc:
            report.problems.append(f"T{task_id}: {exc}; the digest waits for the next cycle")
    return would_post
