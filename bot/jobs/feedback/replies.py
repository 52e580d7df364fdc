"""Step 5: "Forwarded to T123" under the comment on the wiki (pages with `reply: true`).

Through DiscussionTools where it knows the thread, else as one wikitext edit per page; one reply
per thread and cycle, behind its own marker; never for a private task or unsigned text.
"""
from __future__ import annotations

from collections import defaultdict

from bot.adapters.wiki_facts import wiki_facts
from bot.domain.comments import Comment, comments_from_threaditems
from bot.domain.feedback import due_replies, reply_threads
from bot.domain.replies import insert_thread_reply, normal_title, reply_hashes, reply_marker, reply_post_key
from bot.errors import (Blocked, BotError, EditConflict, NotFound, PartialData, ServerError, TargetError,
                        TransientError, UncertainWriteError)
from bot.jobs.base import JobReport
from bot.jobs.feedback.parsers import use_discussiontools
from bot.jobs.feedback.state import CONFLICT_ATTEMPTS, JOB, log
from bot.jobs.writer import NOBOTS, Writer
from bot.render import messages
from bot.render.environment import Markup


def page_conf(conf, code: str, title: str):
    t = normal_title(title)
    return next((p for p in conf.pages if p.wiki == code and normal_title(p.title) == t), None)


def wants_reply(conf, item: dict) -> bool:
    page = page_conf(conf, item["wiki"], item["title"])
    return bool(page and page.reply)


def reply_text(ctx, lang: str, item) -> str:
    """The reply as one line: localized message naming every task, hidden marker, then `~~~~`.

    `item` is one queue item or the list of a thread's items (one reply per thread per cycle). The
    marker lists each item's hash, and the signature are not in the template: an overridden template
    must not be able to drop what makes the reply happen exactly once.
    """
    items = item if isinstance(item, list) else [item]
    tasks = sorted({int(i["task"]) for i in items})
    links = [Markup(f"[[phab:T{t}|T{t}]]") for t in tasks]
    message = ctx.renderer.render("feedback_reply", lang, "wiki", task=tasks[0], task_link=links[0],
                                  task_links=links)
    hashes = ",".join(dict.fromkeys(reply_marker(i).split("=", 1)[1] for i in items))
    return f"{' '.join(message.split())} <!-- ambassador-bot:key={hashes} --> ~~~~"


def reply_summary(lang: str, tasks: str) -> str:
    # The count picks the case of "task" where the language inflects it (cs "do úkolu T1", "do úkolů T1, T2").
    return messages.msg(lang, "feedback-summary-reply", tasks, tasks.count(",") + 1)


def _task_policies(ctx, task_ids: set[int]) -> set[int] | None:
    """Public tasks among `task_ids`, or None when Phabricator could not say (then nothing is replied)."""
    try:
        return {t.id for t in ctx.phab.search_tasks(task_ids=sorted(task_ids)) if t.is_public}
    except BotError as exc:
        log.warning("Phabricator: %s; wiki replies wait for the next cycle", exc, extra={"job": JOB})
        return None


def _skip_reply(writer: Writer, item: dict, why: str) -> None:
    # Recorded so the queue can let go of the comment; the reason is the record's revision field.
    writer.found(reply_post_key(item), "reply-skipped", f"{item['wiki']}:{item['title']}", why)


def send_replies(ctx, conf, queue: dict, would_post: set[str], report: JobReport) -> None:
    due = due_replies(queue, lambda item: wants_reply(conf, item), ctx.store.has_post, would_post)
    if not due:
        return
    public = _task_policies(ctx, {int(i["task"]) for i in due.values()})
    if public is None:
        report.problems.append("Phabricator: task view policies unknown; wiki replies wait for the next cycle")
        return
    writer = Writer(ctx, report)
    by_page: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for item in due.values():
        if int(item["task"]) not in public:
            # A private task's number never reaches a wiki.
            _skip_reply(writer, item, "private task")
            continue
        if not item["comment"].get("signed", True):
            # Unsigned text has no stable place (DiscussionTools gives it no id) to reply under.
            _skip_reply(writer, item, "unsigned")
            continue
        by_page[(item["wiki"], normal_title(item["title"]))].append(item)
    for (code, title), items in sorted(by_page.items()):
        try:
            _reply_on_page(ctx, writer, conf, code, title, items, report)
        except Blocked as exc:
            report.problems.append(str(exc))
        except (TargetError, TransientError, ServerError, PartialData) as exc:
            report.problems.append(f"{exc}; replies wait for the next cycle")


def _reply_on_page(ctx, writer: Writer, conf, code: str, title: str, items: list[dict], report: JobReport) -> None:
    """One reply per thread: after the thread's last comment, naming every task its new comments went to."""
    wiki = ctx.wikis[code]
    label = f"wiki {code} page {title!r}"
    for attempt in range(CONFLICT_ATTEMPTS):
        states = wiki.read_pages([title] + writer.run_page_titles(code))
        stop = writer.note_run_page(code, states)
        if stop:
            raise TargetError(f"{stop}; no reply on {title!r}")
        page = states[title]
        if not page.exists:
            raise NotFound(f"{label}: the page does not exist")
        if writer.refusal(code, page) == NOBOTS:
            raise TargetError(f"{label}: the page excludes the bot ({{{{nobots}}}}); no reply written")
        done = reply_hashes(page.text)
        todo = []
        for item in items:
            # The page itself is the truth: a reply saved before a crash carries its marker.
            if reply_marker(item).split("=", 1)[1] in done:
                writer.found(reply_post_key(item), "reply", f"{code}:{title}", page.revid)
                continue
            todo.append(item)
        if not todo:
            return
        via_text = _reply_where_discussiontools_can(ctx, writer, conf, wiki, title, page, reply_threads(todo), report)
        if not via_text or _reply_wikitext(ctx, writer, wiki, page, via_text, report):
            return
    raise TargetError(f"{label}: still in edit conflict after {CONFLICT_ATTEMPTS} attempts; no reply written")


def _reply_where_discussiontools_can(ctx, writer: Writer, conf, wiki, title: str, page, threads: list[list[dict]],
                                     report: JobReport) -> list[list[dict]]:
    """Replies through DiscussionTools to the threads it knows; returns the others (for a wikitext edit)."""
    dt_items: list[Comment] = []
    if use_discussiontools(conf, wiki):
        # DiscussionTools only reads discussion pages: a thread it knows is replied to through it.
        dt_items = comments_from_threaditems(wiki.discussion_items(title),
                                             wiki_facts(wiki, ctx.memo, ctx.store))
    via_text = []
    for thread in threads:
        ids = {i["comment"]["id"] for i in thread}
        section = thread[0]["comment"].get("section", "")
        in_thread = [c for c in dt_items if c.section == section]
        if in_thread and ids & {c.id for c in in_thread}:
            # The thread's last comment in page order (also one written after an {{od}} outdent).
            _reply_discussiontools(ctx, writer, wiki, page, thread, in_thread[-1].id, report)
        else:
            via_text.append(thread)
    return via_text


def _reply_discussiontools(ctx, writer: Writer, wiki, page, thread: list[dict], last_id: str,
                           report: JobReport) -> None:
    code, lang, title = wiki.code, wiki.settings.language, page.title
    text = reply_text(ctx, lang, thread)
    tasks = ", ".join(dict.fromkeys(f"T{int(i['task'])}" for i in thread))
    try:
        outcome = writer.reply(
            code, page, last_id, text, reply_summary(lang, tasks),
            key=[reply_post_key(item) for item in thread],
            preview=f"--- would reply on {code}:{title} under {last_id} (DiscussionTools) ---\n{text}\n")
    except UncertainWriteError as exc:
        # The next cycle looks for the marker on the page before replying again.
        raise TransientError(f"wiki {code} page {title!r}: {exc}") from None
    except ServerError as exc:
        if exc.code == "discussiontools-commentid-notfound":
            report.problems.append(f"wiki {code} page {title!r}: comment {last_id} is no longer on the page; "
                                   f"the reply waits for the next cycle")
            return
        raise
    if outcome.saved:
        report.saved.append((code, title, outcome.revid))


def _reply_wikitext(ctx, writer: Writer, wiki, page, threads: list[list[dict]], report: JobReport) -> bool:
    """All threads' replies for one page in one edit; False on an edit conflict (the caller reads again)."""
    code, lang, title = wiki.code, wiki.settings.language, page.title
    new_text, placed = page.text, []
    for thread in threads:
        comments = [Comment.from_json(i["comment"]) for i in thread]
        text = insert_thread_reply(new_text, comments, reply_text(ctx, lang, thread), bot_user=wiki.settings.username,
                                   facts=wiki_facts(wiki, ctx.memo, ctx.store))
        if text is None:
            report.problems.append(f"wiki {code} page {title!r}: comments {', '.join(c.id for c in comments)} are "
                                   f"no longer on the page; no reply")
            for item in thread:
                _skip_reply(writer, item, "comment gone")
            continue
        new_text = text
        placed.extend(thread)
    if not placed:
        return True
    tasks = ", ".join(dict.fromkeys(f"T{int(i['task'])}" for i in placed))
    try:
        outcome = writer.edit(code, page, new_text, reply_summary(lang, tasks),
                              key=[reply_post_key(item) for item in placed], kind="reply")
    except (EditConflict, NotFound):
        return False
    except UncertainWriteError as exc:
        raise TransientError(f"wiki {code} page {title!r}: {exc}") from None
    if outcome.saved:
        report.saved.append((code, title, outcome.revid))
    return True
