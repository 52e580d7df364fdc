"""Comments on the tasks an edition mentions."""
from __future__ import annotations

from bot.domain import newsletter as nl
from bot.domain.tasks import Transaction, publishable
from bot.errors import PartialData, ServerError, TargetError, TransientError, UncertainWriteError
from bot.jobs.writer import Writer
from bot.render import messages
from bot.render.environment import Markup
from bot.jobs.newsletter.common import _name


def _comment_tasks(ctx, writer: Writer, settings, ed, code, page_title, frozen, report, cache) -> None:
    ids = nl.mentioned_task_ids(frozen["body"])
    if not ids:
        return
    tasks = publishable(ctx.phab.search_tasks(task_ids=ids))   # never announce a private task
    url = nl.page_url(ctx.settings.wikis[code].api_url, page_title)
    lang = ctx.settings.wikis[code].language
    # Our own words and a URL we built: trusted, so no Remarkup breakers inside them.
    team = ctx.settings.phabricator.language
    text = ctx.renderer.render("newsletter_comment", team, "remarkup",
                               language=Markup(messages.language_name(team, lang)),
                               name=Markup(_name(settings, team)), edition=Markup(ed.id), url=Markup(url))
    bot_phid = None
    for task in sorted(tasks, key=lambda t: t.id):
        key = nl.comment_key(ed.id, code, task.id)
        if ctx.store.has_post(key):
            continue
        try:
            if not writer.dry_run:    # a dry run posts nothing, so it need not look on the task
                if bot_phid is None:
                    bot_phid = _bot_phid(ctx)
                # The task itself is the witness: a comment of ours with this edition's link means done.
                found = _own_comment(ctx.phab.transactions(f"T{task.id}", author_phids=[bot_phid]), url)
                if found is not None:
                    writer.found(key, "task-comment", f"T{task.id}", found.phid)
                    continue
            outcome = writer.task_comment(task.id, text, key=key, site="phab",
                                          preview=f"would comment on T{task.id}: {text.strip()}\n")
            if outcome.saved:
                report.saved.append(("phab", f"T{task.id}", None))   # a comment, not a revision
        except (UncertainWriteError, PartialData, TransientError, ServerError, TargetError) as exc:
            report.problems.append(f"T{task.id}: comment for {code} edition {ed.id}: {exc}; checked on the next run")


def _own_comment(transactions, url: str) -> Transaction | None:
    return next((xact for xact in transactions
                 if any(url in text for text in xact.texts)), None)


def _bot_phid(ctx) -> str:
    return ctx.bot_phid()
