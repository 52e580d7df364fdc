"""Which comment changes the feedback job queues: once per page, moves are not new."""
from __future__ import annotations

from types import SimpleNamespace

from bot.domain.comments import Comment, CommentChange
from bot.jobs import feedback
from bot.settings.feedback import FeedbackPage
from bot.store.memory import MemoryStore

BASE = {"revid": 1, "since": "2026-11-20T00:00:00Z"}


def change(text="Ahoj.", cid="c-A-20261124061500-S", kind="new", ts="2026-11-24T06:15:00Z"):
    return CommentChange(kind, Comment(cid, "A", ts, "S", text), 5, "A", ts)


def test_same_id_on_two_pages_is_two_comments_but_a_moved_comment_is_not():
    ctx = SimpleNamespace(store=MemoryStore())
    p1, p2 = FeedbackPage("cs", "Stránka 1", 1), FeedbackPage("cs", "Stránka 2", 2)
    assert feedback.queue_changes(ctx, "cs", p1, BASE, [change("Jeden.")]) == 1
    assert feedback.queue_changes(ctx, "cs", p2, BASE, [change("Dva.")]) == 1
    # the first comment moved (archived) to page 2: same author, time and text
    assert feedback.queue_changes(ctx, "cs", p2, BASE, [change("Jeden.", cid="c-A-20261124061500-S-1")]) == 0
    # the same change seen again (a re-run after a crash) is not queued twice
    assert feedback.queue_changes(ctx, "cs", p1, BASE, [change("Jeden.")]) == 0
    assert len(ctx.store.items(feedback.NS_QUEUE)) == 2


def test_edits_once_per_text_and_old_signatures_are_moves():
    ctx = SimpleNamespace(store=MemoryStore())
    page = FeedbackPage("cs", "Stránka", 1)
    feedback.queue_changes(ctx, "cs", page, BASE, [change("V1.")])
    assert feedback.queue_changes(ctx, "cs", page, BASE, [change("V2.", kind="edit")]) == 1
    assert feedback.queue_changes(ctx, "cs", page, BASE, [change("V1.", kind="edit")]) == 0   # reverted to a known text
    assert feedback.queue_changes(ctx, "cs", page, BASE, [change("Staré.", cid="c-B-x", ts="2026-01-01T00:00:00Z")]) == 0
