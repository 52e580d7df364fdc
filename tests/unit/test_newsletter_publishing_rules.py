"""The newsletter's decisions around the draft and its publication (bot/domain/publishing.py), without a wiki."""
from __future__ import annotations

import pytest

from bot.domain import newsletter as nl
from bot.domain import publishing


def draft(status: str, body: str = "== Co je nového ==\n* T1 hotovo\n") -> str:
    return nl.STATUS_MARKER.format(status=status) + "\n" + body


NEW = draft(nl.DRAFT, "== Co je nového ==\n* T2 hotovo\n")


@pytest.mark.parametrize("exists, text, revid, drafted, verdict", [
    (False, "", None, None, publishing.WRITE),                         # no draft yet
    (True, NEW, 7, None, publishing.SAME),                             # our lost save: adopted, not rewritten
    (True, draft(nl.READY), 7, 7, publishing.MARKED_READY),            # ready wins even over our own revision
    (True, draft(nl.DRAFT), 8, 7, publishing.EDITED),                  # a person's revision since ours
    (True, draft(nl.DRAFT), 8, None, publishing.EDITED),               # a page the bot never wrote
    (True, draft(nl.DRAFT), 7, 7, publishing.WRITE),                   # still the bot's own text: regenerated
])
def test_whether_the_draft_is_written_again(exists, text, revid, drafted, verdict):
    assert publishing.redraft(exists=exists, text=text, revid=revid, new_text=NEW, drafted_revid=drafted) == verdict


@pytest.mark.parametrize("exists, text, looks", [
    (False, "", False), (True, draft(nl.DRAFT), False), (True, "no marker at all", False),
    (True, draft("readyish"), False), (True, draft(nl.READY), True),
])
def test_the_worker_reads_the_history_only_of_a_draft_marked_ready(exists, text, looks):
    assert publishing.worker_looks_further(exists=exists, text=text) is looks


@pytest.mark.parametrize("send_at, now, waits", [(None, 100, False), (200, 100, True), (200, 200, False),
                                                 (200, 300, False)])
def test_an_approved_edition_waits_only_until_its_send_time(send_at, now, waits):
    assert publishing.waits(send_at, now) is waits


def test_the_frozen_text_is_the_approving_revisions_body_without_the_bots_comments():
    text = draft(nl.READY)
    frozen = publishing.frozen_text(nl.Revision(42, "Jana", "2026-12-01T10:00:00Z", text, "ready"), 1234.5)
    assert frozen == {"revid": 42, "hash": nl.body_hash(text), "body": nl.draft_body(text), "approved_by": "Jana",
                      "at": 1234.5}
    assert "ambassador-bot" not in frozen["body"]
    # Only the body counts: setting the marker back to draft is no change of the edition's text.
    assert not publishing.changed_since_frozen(exists=True, text=draft(nl.DRAFT), frozen=frozen)
    assert publishing.changed_since_frozen(exists=True, text=NEW, frozen=frozen)
    assert not publishing.changed_since_frozen(exists=False, text="", frozen=frozen)


def test_what_the_help_counts_as_not_delivered():
    counts = {"delivered": 5, "skipped": 2, "failed": 1, "interrupted": 3, "pending": 4}
    assert publishing.not_delivered(counts) == 8
