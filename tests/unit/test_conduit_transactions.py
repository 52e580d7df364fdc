"""`transaction.search` rows -> `Transaction`s, from an answer recorded from a real Phorge.

Edited and removed comments are read back from the live server in
tests/integration/test_conduit_adapter.py; here the recorded rows and rows of the wrong shape.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.adapters.phab import comments_of, transaction_from_conduit
from bot.domain.tasks import CommentVersion, Transaction
from bot.errors import ServerError

SAMPLE = Path(__file__).parents[1] / "contract" / "conduit_samples" / "11-pyphab-transaction.search-T1.json"


def recorded_rows():
    return json.loads(SAMPLE.read_text())["response"]["body_json"]["result"]["data"]


def test_recorded_history_newest_first():
    rows = recorded_rows()
    history = [transaction_from_conduit(r) for r in rows]
    assert [x.type for x in history] == [r["type"] for r in rows]
    assert [x.phid for x in history] == [r["phid"] for r in rows]
    closing = history[0]
    assert (closing.author_phid, closing.object_phid, closing.date_created) == (
        rows[0]["authorPHID"], rows[0]["objectPHID"], rows[0]["dateCreated"])
    assert closing.text == "Fixed by shortening the confirmation flow. Closing." and not closing.removed
    status = history[1]
    assert (status.type, status.versions, status.texts, status.text, status.removed) == ("status", (), (), "", False)
    assert [c.text for c in comments_of(history)] == [
        "Fixed by shortening the confirmation flow. Closing.",
        "I can reproduce this: 38% drop at the email confirmation step."]


def test_a_removed_comment_says_nothing_and_says_it_is_removed():
    # Phorge's answer after "Remove Comment": a removed newest version, every version blanked.
    removed = transaction_from_conduit({"phid": "PHID-XACT-TASK-r", "type": "comment", "comments": [
        {"removed": True, "content": {"raw": ""}}, {"removed": False, "content": {"raw": ""}}]})
    assert (removed.text, removed.removed) == ("", True)
    [comment] = comments_of([removed])
    assert comment.removed and comment.text == ""


def test_an_edited_comment_says_its_newest_words_and_keeps_the_older_ones():
    edited = Transaction("PHID-XACT-TASK-e", "comment", versions=(CommentVersion("now"), CommentVersion("before")))
    assert (edited.text, edited.texts, edited.removed) == ("now", ("now", "before"), False)


def test_missing_optional_keys_have_defaults():
    x = transaction_from_conduit({"phid": "PHID-XACT-TASK-x"})
    assert x == Transaction("PHID-XACT-TASK-x")
    assert transaction_from_conduit({"phid": "PHID-XACT-TASK-x", "comments": None}).versions == ()
    assert transaction_from_conduit({"phid": "PHID-XACT-TASK-x", "comments": [{"content": None}]}).texts == ("",)


@pytest.mark.parametrize("row", [{"type": "comment"}, "PHID-XACT-TASK-x", None,
                                 {"phid": "PHID-XACT-TASK-x", "comments": ["words"]},
                                 {"phid": "PHID-XACT-TASK-x", "comments": 3},
                                 {"phid": "PHID-XACT-TASK-x", "dateCreated": "yesterday"}])
def test_a_row_of_the_wrong_shape_is_a_server_error(row):
    with pytest.raises(ServerError, match=r"^transaction.search: a transaction has an unexpected shape \("):
        transaction_from_conduit(row)
