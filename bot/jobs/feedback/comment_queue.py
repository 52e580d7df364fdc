"""Step 3: each new or edited comment into the store's queue and "seen" index, exactly once."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.domain.comments import Comment, CommentChange, normalize, text_hash
from bot.domain.feedback import comment_key, known_key, seen_key, unsigned_key
from bot.jobs.base import JobContext
from bot.jobs.feedback.state import NS_KNOWN, NS_QUEUE, NS_SEEN, NS_UNSIGNED
from bot.jobs.feedback.watch import parse_ts

# A comment signed this long before the bot started watching its page was moved there, not written there.
MOVED_SLACK = timedelta(days=1)


def unsigned_identity(ctx: JobContext, code: str, title: str, ch: CommentChange) -> Comment | None:
    """The forwarded comment an unsigned edit changed, under the id, author and time it was forwarded
    with; None when the bot never forwarded its previous text or someone else changed it."""
    c = ch.comment
    known = ctx.store.get(NS_UNSIGNED, unsigned_key(code, title, c.section, ch.previous_text or ""))
    if not known:
        return None
    # Unsigned text belongs to whoever saved it: another user's words added to the chunk are theirs.
    if not c.by_template and known["author"] != ch.rev_user:
        return None
    return replace(c, id=known["id"], author=known["author"], timestamp=known["timestamp"])


def queue_changes(ctx: JobContext, code: str, page, base: dict, changes: list[CommentChange]) -> int:
    """Queue the page's comment changes not queued before; returns how many were queued."""
    since = parse_ts(base["since"]) - MOVED_SLACK
    queued = 0
    for ch in changes:
        c, kind = ch.comment, ch.kind
        if kind == "edit" and not c.signed:
            original = unsigned_identity(ctx, code, page.title, ch)
            if original is not None:
                c = original
            elif normalize(c.text) in normalize(ch.previous_text or ""):
                continue   # text taken out of a comment never forwarded: nothing new was written
            else:
                kind = "new"   # as before this store: the changed text as a new unsigned comment
        seen_at = seen_key(code, page.title, c.id)
        seen = ctx.store.get(NS_SEEN, seen_at, [])
        h = text_hash(c.text)
        # The same author, time and text already seen anywhere on this wiki: a section moved or archived.
        known_at = known_key(code, c)
        if h in seen or (kind == "new" and (seen or (c.signed and ctx.store.get(NS_KNOWN, known_at)))):
            continue
        if kind == "new" and c.signed and parse_ts(c.timestamp) < since:
            continue  # signed long before we watched: moved or archived here, not new feedback
        _record(ctx, code, page, ch, c, kind)
        # "Seen" is written last: a crash before it repeats this comment's records (the same values),
        # a crash after it would skip them for good, and an unsigned comment's later edit would go out
        # as new without the identity record.
        if c.signed:
            ctx.store.put(NS_KNOWN, known_at, True)
        else:
            # Every forwarded text of an unsigned comment (the first and each edit) leads back to it.
            ctx.store.put(NS_UNSIGNED, unsigned_key(code, page.title, c.section, c.text),
                          {"id": c.id, "author": c.author, "timestamp": c.timestamp})
        ctx.store.put(NS_SEEN, seen_at, seen + [h])
        queued += 1
    return queued


def _record(ctx: JobContext, code: str, page, ch: CommentChange, c: Comment, kind: str) -> None:
    ctx.store.put(NS_QUEUE, comment_key(code, page.title, c), {
        "wiki": code, "title": page.title, "kind": kind, "comment": c.to_json(), "revid": ch.revid,
        "rev_user": ch.rev_user, "rev_timestamp": ch.rev_timestamp,
        "task": c.section_task or page.task,
        "digest": [page.digest_page.wiki, page.digest_page.title] if page.digest_page else None,
    })
