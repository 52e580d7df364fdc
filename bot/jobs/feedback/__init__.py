"""Forward on-wiki feedback to Phabricator, each comment exactly once.

A cycle, per wiki:

1. *What changed*: one `list=recentchanges` request since the stored cursor
   (a quiet cycle costs exactly this, and nothing on Phabricator). A cursor older
   than `RC_MAX_AGE` (Wikimedia keeps 30 days of recent changes) is not trusted:
   the bot catches up from each watched page's history instead.
2. *Which comments*: the changed pages' new revisions (plus the last revision
   already handled) are fetched by id, 50 a request, and compared revision by
   revision (`bot.domain.comments.changes_in_history`). Signed comments come from
   DiscussionTools where the wiki has it and the page is a discussion page, else
   from the wikitext; unsigned text always from the wikitext diff (and the
   `{{Unsigned}}`-signed comments DiscussionTools does not see, from the wikitext).
3. *Queue*: each new or edited comment gets a stable key (wiki, comment id, text
   hash) and is put in the store's queue and "seen" index *before* the page's
   baseline and the cursor move on, so a crash loses nothing and a re-run finds
   nothing new. An edited unsigned comment gets back the id, author and time it was
   forwarded with from the store (`NS_UNSIGNED`, by page, section and text).
4. *Deliver*: one Phabricator comment per target task, with a marker line listing
   the comment keys' hashes; before posting, the task's transactions by the bot are
   searched for those hashes, so a crash between posting and recording never posts
   twice. Then the on-wiki digest page gets the same comments, each behind a hidden
   `<!-- ambassador-bot:key=… -->` marker, checked in the page text before appending.
5. *Reply* (pages with `reply: true`): once a comment's digest is recorded on its
   task, a short localized "Forwarded to T123" goes under the comment on the wiki --
   through DiscussionTools where it knows the comment, else as a wikitext edit --
   one per comment and task, behind its own marker; never for a private task.

The steps' modules: `watch` (1), `parsers` and `collect` (2), `comment_queue` (3), `phab_digest`,
`wiki_digest` and `deliver` (4), `replies` (5); the store's namespaces in `state`; the pure
decisions (keys, batches, threads) in `bot.domain.feedback`.
"""
from __future__ import annotations

from bot.domain.feedback import comment_key, unsigned_key, wiki_problem
from bot.domain.replies import marker_hash, normal_title
from bot.errors import Blocked, PartialData, ServerError, TargetError, TransientError
from bot.jobs.base import JobContext, JobReport
from bot.jobs.feedback.collect import collect_wiki
from bot.jobs.feedback.comment_queue import MOVED_SLACK, queue_changes, unsigned_identity
from bot.jobs.feedback.deliver import deliver
from bot.jobs.feedback.entries import digest_entry
from bot.jobs.feedback.parsers import discussiontools_parser, page_changes, revision_from_api, use_discussiontools
from bot.jobs.feedback.phab_digest import posted_markers, render_digest
from bot.jobs.feedback.replies import page_conf, reply_summary, reply_text
from bot.jobs.feedback.state import (CONFLICT_ATTEMPTS, JOB, MARKER_PREFIX, NS_CURSOR, NS_KNOWN, NS_PAGE,
                                     NS_PARKED, NS_QUEUE, NS_SEEN, NS_UNSIGNED, log)
from bot.jobs.feedback.watch import RC_MAX_AGE, WatchResult, changes_since_cursor
from bot.jobs.feedback.wiki_digest import DIGEST_WIKI_MARKER, digest_page_text

# What other jobs (mentions), the benches and the tests use, under the package's name.
__all__ = [
    "CONFLICT_ATTEMPTS", "DIGEST_WIKI_MARKER", "JOB", "MARKER_PREFIX", "MOVED_SLACK", "NS_CURSOR", "NS_KNOWN",
    "NS_PAGE", "NS_PARKED", "NS_QUEUE", "NS_SEEN", "NS_UNSIGNED", "RC_MAX_AGE", "WatchResult",
    "changes_since_cursor", "comment_key", "digest_entry", "digest_page_text", "discussiontools_parser",
    "marker_hash", "normal_title", "page_changes", "page_conf", "posted_markers", "queue_changes",
    "render_digest", "reply_summary", "reply_text", "revision_from_api", "run", "unsigned_identity",
    "unsigned_key", "use_discussiontools",
]


def run(ctx: JobContext) -> JobReport:
    report = JobReport(JOB)
    conf = ctx.settings.feedback
    if conf is None:
        return report
    for code in sorted({p.wiki for p in conf.pages}):
        try:
            collect_wiki(ctx, conf, code, report)
        except Blocked as exc:
            report.problems.append(str(exc))
        except (TransientError, TargetError, ServerError, PartialData) as exc:
            report.problems.append(wiki_problem(code, str(exc), "will retry next cycle"))
    deliver(ctx, conf, report)
    log.info("%s", report.summary(), extra={"job": JOB})
    return report
