"""When a newsletter draft is approved, from its history.

Approval, precisely. A draft page carries one marker
`<!-- ambassador-bot:newsletter status=draft -->`; a human approves by changing
`draft` to `ready`. The *approving revision* is the oldest revision of the newest
unbroken run of revisions whose marker says `ready` (the edit that switched it to
ready). The draft is approved when the current revision says `ready` and its body
(the text without the bot's own `<!-- ambassador-bot:... -->` comments, trailing
space ignored) is identical to the approving revision's body. Any later change of
the body, by anyone, means nobody approved the current text: it is "changed after
approval" and must be approved again (the bot sets the marker back to `draft` so
one edit to `ready` re-approves). Once publication of an edition has begun, the
approved body is frozen in the state store and later draft edits change nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Sequence

from bot.domain.newsletter.body import body_hash
from bot.domain.newsletter.markers import READY, draft_status
from bot.domain.newsletter.names import normal_user


@dataclass(frozen=True)
class Revision:
    revid: int
    user: str
    timestamp: str
    text: str
    comment: str = ""


@dataclass(frozen=True)
class Approval:
    state: str                         # missing | no-marker | draft | approved | changed | not-approver
    current: Revision | None = None
    approving: Revision | None = None  # the revision that set `ready`
    changed_by: tuple[str, ...] = ()   # who changed the body after approval

    @property
    def approved(self) -> bool:
        return self.state == "approved"


def approval(history: Sequence[Revision], *, complete: bool = True, approvers: Collection[str] = ()) -> Approval:
    """Decide approval from the draft's history, newest revision first.

    `complete` says the history reaches the page's first revision; when it does
    not and every revision shown says `ready`, the oldest shown is taken as the
    approving one only if it is the page's creation (else the caller fetches more).
    With `approvers` (user names; the bot itself belongs there, for CLI approval),
    `ready` set by anyone else approves nothing: state `not-approver`.
    """
    if not history:
        return Approval("missing")
    current = history[0]
    status = draft_status(current.text)
    if status is None:
        return Approval("no-marker", current)
    if status != READY:
        return Approval("draft", current)
    approving = current
    for rev in history[1:]:
        if draft_status(rev.text) != READY:
            break
        approving = rev
    else:
        if not complete:
            raise ValueError("history too short to find the approving revision")
    if approvers and normal_user(approving.user) not in {normal_user(a) for a in approvers}:
        return Approval("not-approver", current, approving)
    newer = list(history[:history.index(approving)])
    if body_hash(approving.text) == body_hash(current.text):
        return Approval("approved", current, approving)
    changed = tuple(dict.fromkeys(r.user for r in reversed(newer)
                                  if body_hash(r.text) != body_hash(approving.text)))
    return Approval("changed", current, approving, changed)
