"""Step 4 on Phabricator: one digest comment per task, its marker line found again after a crash."""
from __future__ import annotations

from bot.domain.feedback import PHAB_POST, digest_threads
from bot.domain.replies import marker_hash
from bot.domain.tasks import Transaction
from bot.errors import TransientError, UncertainWriteError
from bot.jobs.base import JobReport
from bot.jobs.feedback.entries import digest_entry
from bot.jobs.feedback.state import MARKER_PREFIX
from bot.jobs.writer import WOULD_SAVE, Writer
from bot.render.environment import Markup
from bot.render.escape import remarkup_sparing_inline, remarkup_sparing_quote


def render_digest(ctx, conf, entries: list[dict]) -> str:
    """The Phabricator digest (English, the team's language): threads in reading order, every name and
    label escaped sparingly (no invisible character where nothing needs one), quotes inert."""
    for e in entries:
        e["quote"] = Markup(remarkup_sparing_quote(e["text"], max_chars=conf.max_quote_chars))
        for field in ("author", "wiki_name", "title", "section", "in_reply_to", "time"):
            e[field + "_rm"] = Markup(remarkup_sparing_inline(e[field])) if e[field] else ""
    groups = digest_threads(entries)
    for e in entries:
        e["arrow"] = Markup("↳ " * e["depth"])
    for g in groups:
        g["heading"] = Markup(" / ".join(x for x in (g["comments"][0]["wiki_name_rm"], g["comments"][0]["title_rm"],
                                                     g["comments"][0]["section_rm"]) if x))
    marker = MARKER_PREFIX + " " + " ".join(e["marker"] for e in entries)
    return ctx.renderer.render("digest", ctx.settings.phabricator.language, "remarkup", comments=entries,
                               threads=groups, marker=Markup(marker),
                               count=Markup(str(len(entries))))


def posted_markers(transactions: list[Transaction]) -> set[str]:
    """Marker hashes found in the bot's own comments on a task."""
    found: set[str] = set()
    for x in transactions:
        for raw in x.texts:
            for line in raw.splitlines():
                if line.startswith(MARKER_PREFIX):
                    found.update(line[len(MARKER_PREFIX):].split())
    return found


def post_digest(ctx, conf, task_id: int, items, bot_phid: str, report: JobReport) -> set[str]:
    """Post one digest comment; returns the keys a dry run would have posted (recorded ones are in the store)."""
    # The target itself is the truth: a digest posted before a crash shows its markers there.
    already = posted_markers(ctx.phab.transactions(f"T{task_id}", author_phids=[bot_phid]))
    writer = Writer(ctx, report)
    todo = []
    for key, item in items:
        if marker_hash(key) in already:
            writer.found(PHAB_POST + key, "task-comment", f"T{task_id}")
            continue
        todo.append(digest_entry(ctx, conf, key, item, ctx.settings.phabricator.language))
    if not todo:
        return set()
    text = render_digest(ctx, conf, todo)
    try:
        outcome = writer.task_comment(task_id, text, key=[PHAB_POST + e["key"] for e in todo])
    except UncertainWriteError as exc:
        # Next cycle looks at the task's transactions before posting again.
        raise TransientError(f"T{task_id}: {exc}") from None
    if outcome.status == WOULD_SAVE:
        return {e["key"] for e in todo}
    report.saved.append(("phabricator", f"T{task_id}", 0))
    return set()
