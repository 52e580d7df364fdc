"""The newsletter's decisions around the draft and its publication (pure; the job reads and writes).

Whether the bot may write the draft again, whether the worker has anything to look at, whether an
approved edition waits for its send time, and the text an edition is frozen to.
"""
from __future__ import annotations

from collections.abc import Mapping

from bot.domain import newsletter as nl

# What becomes of an existing draft when the bot drafts again.
WRITE = "write"              # missing, or only the bot's own text: (re)write it
SAME = "same"                # already says exactly this
MARKED_READY = "ready"       # someone set it to ready: never regenerated under them
EDITED = "edited"            # people edited it since the bot wrote it


def redraft(*, exists: bool, text: str, revid, new_text: str, drafted_revid) -> str:
    """WRITE, SAME, MARKED_READY or EDITED for a draft page read as (`exists`, `text`, `revid`);
    `drafted_revid` is the revision the bot's last draft made (None when the store has none)."""
    if not exists:
        return WRITE
    if text == new_text:
        return SAME
    if nl.draft_status(text) == nl.READY:
        return MARKED_READY
    if revid != drafted_revid:
        return EDITED
    return WRITE


def worker_looks_further(*, exists: bool, text: str) -> bool:
    """Whether the worker reads the draft's history: only a draft marked ready can be approved, so
    anything else costs one batched read and nothing more."""
    return exists and nl.draft_status(text) == nl.READY


def waits(send_at: int | None, now: float) -> bool:
    """Whether an approved edition waits for its send time (None: it goes out now)."""
    return send_at is not None and now < send_at


def frozen_text(approving: nl.Revision, now: float) -> dict:
    """What the edition is from the moment publication begins, whatever happens to the draft later."""
    return {"revid": approving.revid, "hash": nl.body_hash(approving.text), "body": nl.draft_body(approving.text),
            "approved_by": approving.user, "at": now}


def changed_since_frozen(*, exists: bool, text: str, frozen: Mapping) -> bool:
    """Whether the draft's body differs from the frozen one (deliveries keep the frozen text)."""
    return exists and nl.body_hash(text) != frozen["hash"]


def not_delivered(counts: Mapping[str, int]) -> int:
    """Entries the draft's help text counts as not delivered (yet): failed, interrupted and pending."""
    return counts["failed"] + counts["interrupted"] + counts["pending"]
