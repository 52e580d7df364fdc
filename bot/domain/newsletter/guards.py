"""What is not published without an explicit `force`: an edition nobody touched, or one that
still says nothing happened."""
from __future__ import annotations

from typing import Collection, Iterable, Sequence

from bot.domain.newsletter.approvals import Revision
from bot.domain.newsletter.body import body_hash
from bot.domain.newsletter.markers import marker_options
from bot.domain.newsletter.names import normal_user


def _plain(text: str) -> str:
    return " ".join(text.replace("&nbsp;", " ").replace("\xa0", " ").split())


def says_nothing_happened(body: str, sentences: Iterable[str]) -> bool:
    """Whether the text still carries the "nothing changed" sentence of an empty period
    (`sentences`: that sentence in every language, the message `newsletter-nothing-happened`)."""
    plain = _plain(body)
    return any(_plain(sentence) in plain for sentence in sentences if sentence.strip())


def untouched(history: Sequence[Revision], text: str, bot_user: str) -> bool:
    """Whether `text`'s body is one the bot itself wrote: no person changed what it generated.

    A person's edit that was reverted to the bot's text counts as untouched, since the text is the bot's.
    """
    bot = normal_user(bot_user)
    target = body_hash(text)
    hashes = [body_hash(r.text) for r in history]
    # Only the bot's revisions that wrote a body count (a draft); its marker and help edits keep a person's body.
    return any(normal_user(r.user) == bot and hashes[i] == target and (i + 1 == len(history) or hashes[i + 1] != target)
               for i, r in enumerate(history))


def forced(history: Sequence[Revision], approving: Revision | None, approvers: Collection[str] = ()) -> bool:
    """Whether the approver said `force` in the marker, from the approving revision to the current one.

    With `approvers`, only a revision by one of them counts.
    """
    if approving is None or approving not in history:
        return False
    allowed = {normal_user(a) for a in approvers}
    run = history[:history.index(approving) + 1]
    return any(marker_options(r.text).force and (not allowed or normal_user(r.user) in allowed) for r in run)
