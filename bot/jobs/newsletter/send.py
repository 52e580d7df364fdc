"""Posting one message exactly once, and finding a delivery already made."""
from __future__ import annotations

from dataclasses import dataclass, replace

from bot.domain import newsletter as nl
from bot.domain import delivery
from bot.domain.delivery import Target
from bot.errors import Blocked, BotError, Protected, ServerError, TargetError, TransientError, UncertainWriteError
from bot.jobs.writer import NOBOTS, Writer
from bot.jobs.newsletter.common import NS_FAILED, NS_PENDING


@dataclass
class _Outcome:
    kind: str                    # saved | found (already there) | held (skipped) | failed
    revid: int | None = None
    created: bool = False
    why: str = ""
    code: str = ""               # held: optout | nobots (for the report)


def _send(ctx, writer: Writer, wiki, target: Target, heading, message, summary, username, optout, ed,
          code) -> _Outcome:
    """Post one message, exactly once; a page missing at the read is created only if it is still missing.

    Raises Blocked (the wiki's delivery stops).
    """
    ctx.store.put(NS_PENDING, target.key, {"title": target.title, "at": ctx.clock()})
    try:
        sent = writer.new_section(code, target.title, heading, message, summary, createonly=not target.exists)
        if sent.refused:      # the emergency stop: nothing was sent, the next run delivers
            ctx.store.delete(NS_PENDING, target.key)
            return _Outcome("failed", why=f"{sent.detail or sent.reason}; retried on the next run")
        return _Outcome("saved", sent.revid, created=not target.exists)
    except Blocked:
        ctx.store.delete(NS_PENDING, target.key)
        raise
    except UncertainWriteError as exc:
        # Keep the pending mark: the next run looks at the page's history before writing.
        found, revid = _delivered_now(wiki, target, username, summary)
        if found:
            return _Outcome("found", revid)
        return _Outcome("failed", why=f"{exc}; checked on the next run")
    except (TargetError, TransientError, ServerError) as exc:
        if target.exists or getattr(exc, "code", None) != "articleexists":
            # Refused by the server (protected, abuse filter, spam blacklist, maxlag): nothing was written.
            return _refused(ctx, target, str(exc), "protected" if isinstance(exc, Protected) else None)
    # Created since our read, by a person or by an earlier attempt of ours whose answer was lost:
    # look at it as at any existing page (and its history) before posting to it.
    try:
        state = wiki.read_targets([target.title], category=optout)[target.title]
    except BotError as exc:
        return _Outcome("failed", why=f"created meanwhile, then not readable ({exc}); checked on the next run")
    what = delivery.created_meanwhile_as(state, target)
    if what:
        return _refused(ctx, target, f"created meanwhile as {what}")
    revid = _delivery_revision(wiki, target.title, username, summary)
    # Now an existing page, decided by the same rules as at the read; sent with createonly off, so a
    # second "articleexists" cannot bring it back here.
    existing = replace(target, exists=True, text=state["text"])
    decision = delivery.decide(existing, delivered=bool(revid), edition=ed.id, code=code,
                               optout=bool(state["in_category"]),
                               excludes_bot=lambda page: writer.refusal(code, page) == NOBOTS)
    if decision in (delivery.ALREADY, delivery.ON_PAGE):
        return _Outcome("found", revid)
    if decision == delivery.OPTED_OUT:
        ctx.store.delete(NS_PENDING, target.key)
        return _Outcome("held", why="created meanwhile, in the opt-out category; skipped", code="optout")
    if decision == delivery.EXCLUDES_BOT:
        ctx.store.delete(NS_PENDING, target.key)
        return _Outcome("held", why="created meanwhile, excluding the bot ({{nobots}}/{{bots}}); skipped",
                        code="nobots")
    return _send(ctx, writer, wiki, existing, heading, message, summary, username, optout, ed, code)


def _refused(ctx, target: Target, error: str, why: str | None = None) -> _Outcome:
    ctx.store.delete(NS_PENDING, target.key)
    ctx.store.put(NS_FAILED, target.key, {"title": target.title, "error": error, "why": why, "at": ctx.clock()})
    return _Outcome("failed", why=f"{error}; retried on the next run")


def _record_delivery(ctx, code, target: Target, revid) -> None:
    ctx.store.record_post(target.key, "newsletter-message", f"{code}:{target.title}", revid)
    ctx.store.delete(NS_PENDING, target.key)
    ctx.store.delete(NS_FAILED, target.key)


def _delivery_revision(wiki, title: str, username: str, summary: str) -> int | None:
    """The bot's revision of `title` with this edition's summary (newest of the last 50), or None."""
    revisions, _ = wiki.page_history(title, limit=50)
    return next((r["revid"] for r in revisions if r["user"] == username and summary in r["comment"]), None)


def _delivered_now(wiki, target: Target, username: str, summary: str) -> tuple[bool, int | None]:
    """Whether the message is on the page now, and the bot's revision that put it there (when the history shows it)."""
    try:
        revid = _delivery_revision(wiki, target.title, username, summary)
        if revid:
            return True, revid
        return nl.has_key_marker(wiki.read_targets([target.title])[target.title]["text"], target.key), None
    except BotError:
        return False, None
