"""The feedback job with unsigned comments: an edit goes out once under the comment's first identity,
and {{Unsigned}}-style templates name the author. Fakes only (no servers)."""
from __future__ import annotations

import io
from datetime import datetime, timezone
from types import SimpleNamespace

from bot.domain.comments import Revision, changes_in_history, parse_comments
from bot.domain.replies import insert_reply
from bot.jobs import feedback
from bot.jobs.base import JobContext
from bot.render.feedback_words import local_time
from bot.settings.core import SECTIONS
from bot.settings.feedback import FeedbackPage, FeedbackSettings
from bot.store.memory import MemoryStore
from tests.wiki_facts import facts
from tests.fakes import FakePhab, FakeWiki, task

CS = facts("cs")   # the local cs wiki's recorded answers and its config words

PAGE = "Wikipedie:Growth/Zpětná vazba"
TASK = 7
CS_SIG = "[[Wikipedista:Jiný|Jiný]] ([[Diskuse s wikipedistou:Jiný|diskuse]]) 24. 11. 2026, 01:15 (CET)"


class FeedbackWiki(FakeWiki):
    """FakeWiki with DiscussionTools and these thread items (revid -> items), or without it (items=None)."""

    def __init__(self, pages=None, items=None):
        super().__init__(pages=pages)
        if items is not None:
            self.extensions.add("DiscussionTools")
            self.discussion = items


def context(wiki, store=None):
    conf = FeedbackSettings(pages=(FeedbackPage("cs", PAGE, TASK),))
    settings = SimpleNamespace(**{**dict.fromkeys(SECTIONS), "feedback": conf,
                                  "phabricator": SimpleNamespace(language="en")})
    return JobContext(settings=settings, store=store or MemoryStore(), phab=FakePhab([task(TASK)]), wikis={"cs": wiki},
                      out=io.StringIO(), clock=lambda: datetime(2026, 11, 24, 1, tzinfo=timezone.utc).timestamp())


def world(text="Úvod.\n\n== Nápady ==\n", items=None):
    wiki = FeedbackWiki({PAGE: text}, items)
    ctx = context(wiki)
    assert feedback.run(ctx).problems == []        # the baseline
    return wiki, ctx


def append(wiki, text, user):
    return wiki.edit(PAGE, wiki.text(PAGE) + text, user=user)


def replace_text(wiki, old, new, user):
    assert old in wiki.text(PAGE)
    return wiki.edit(PAGE, wiki.text(PAGE).replace(old, new), user=user)


def posted(ctx):
    return [text.replace("\u2060", "") for task_id, text in ctx.phab.comments if task_id == TASK]


def test_edited_unsigned_comment_goes_out_once_as_an_edit_of_the_original():
    wiki, ctx = world()
    append(wiki, "Chtěla bych filtr podle data.\n", user="Anna")
    assert feedback.run(ctx).problems == []
    [first] = posted(ctx)
    assert "**Anna** (unsigned)" in first and "**edited**" not in first
    [original] = [v for k, v in ctx.store.items(feedback.NS_UNSIGNED).items()]

    replace_text(wiki, "filtr podle data.", "filtr podle data a autora.", user="Anna")
    assert feedback.run(ctx).problems == []
    assert len(posted(ctx)) == 2
    edit = posted(ctx)[1]
    assert "**Anna** (unsigned)" in edit and "**edited**" in edit and "filtr podle data a autora." in edit
    # Under the first identity: the same author and time (not the edit's) ...
    when = local_time(original["timestamp"], wiki.settings.timezone, "en")
    assert when in edit
    # ... and the same comment id: the idempotency keys differ only by the text's hash.
    keys = [p.key for p in ctx.store.posts("task-comment")]
    assert len(keys) == 2 and keys[0] != keys[1]
    assert all(k.startswith(f"fb-phab:cs:{PAGE}:{original['id']}:") for k in keys)
    seen = ctx.store.items(feedback.NS_SEEN)
    assert list(seen) == [f"cs:{PAGE}:{original['id']}"] and len(seen[f"cs:{PAGE}:{original['id']}"]) == 2

    assert feedback.run(ctx).saved == []          # a rerun posts nothing
    assert len(posted(ctx)) == 2

    # Each further text once; going back to a text already forwarded is not forwarded again.
    replace_text(wiki, "a autora.", "a podle autora.", user="Anna")
    feedback.run(ctx)
    assert len(posted(ctx)) == 3 and "**edited**" in posted(ctx)[2] and "**Anna** (unsigned)" in posted(ctx)[2]
    replace_text(wiki, "a podle autora.", "a autora.", user="Anna")
    feedback.run(ctx)
    assert len(posted(ctx)) == 3


def test_edit_without_a_known_original_is_new_as_before_and_a_cut_is_nothing():
    # Unsigned text already there when the bot started watching: never forwarded, so no identity.
    wiki, ctx = world("== Nápady ==\nStarý nepodepsaný nápad na filtr.\n")
    replace_text(wiki, "nápad na filtr.", "nápad na filtr podle data.", user="Anna")
    feedback.run(ctx)
    [msg] = posted(ctx)
    assert "**Anna** (unsigned)" in msg and "**edited**" not in msg and "podle data" in msg
    # Text only taken out of a comment the bot never forwarded: nothing new was written.
    wiki2, ctx2 = world("== Nápady ==\nStarý nápad na filtr. A taky na třídění.\n")
    replace_text(wiki2, " A taky na třídění.", "", user="Anna")
    feedback.run(ctx2)
    assert posted(ctx2) == []


def test_someone_else_writing_into_an_unsigned_comment_is_their_new_comment():
    wiki, ctx = world()
    append(wiki, "Chtěla bych filtr podle data.\n", user="Anna")
    feedback.run(ctx)
    append(wiki, "A já třídění.\n", user="Bedřich")      # same indentation: the same chunk of text
    feedback.run(ctx)
    second = posted(ctx)[1]
    assert "**Bedřich** (unsigned)" in second and "**edited**" not in second


def test_unsigned_edit_is_queued_once_even_when_the_cycle_is_repeated():
    wiki, ctx = world()
    append(wiki, "Chtěla bych filtr podle data.\n", user="Anna")
    feedback.run(ctx)
    page = FeedbackPage("cs", PAGE, TASK)
    base = {"revid": 0, "since": "2026-11-24T00:00:00Z"}
    rev_before = Revision(1, "Anna", "2026-11-24T00:00:10Z", wiki.text(PAGE))
    rev_after = Revision(2, "Anna", "2026-11-24T00:00:20Z", wiki.text(PAGE).replace("data.", "data a autora."))
    changes = changes_in_history(rev_before, [rev_after], bot_user="TestBot", facts=CS)
    assert [c.kind for c in changes] == ["edit"]
    assert feedback.queue_changes(ctx, "cs", page, base, changes) == 1
    assert feedback.queue_changes(ctx, "cs", page, base, changes) == 0      # a re-run after a crash
    [item] = [i for i in ctx.store.items(feedback.NS_QUEUE).values() if i["kind"] == "edit"]
    assert item["comment"]["author"] == "Anna" and item["comment"]["id"].endswith("-unsigned")
    assert item["comment"]["timestamp"] != "2026-11-24T00:00:20Z"


def test_unsigned_template_names_the_author_and_its_time():
    wiki, ctx = world()
    append(wiki, "Přidejte filtr. {{Nepodepsáno|Alice|24. 11. 2026, 01:15 (CET)}}\n", user="Patrolář")
    append(wiki, "Přidejte třídění. {{Nepodepsáno|Bob}}\n", user="Patrolář")
    feedback.run(ctx)
    [msg] = posted(ctx)
    assert "**Czech Wikipedia / " in msg and "**Alice**, 24 November 2026, 01:15 CET" in msg
    assert "**Bob** (unsigned)" in msg and "Patrolář" not in msg
    ids = sorted(key.removeprefix(f"cs:{PAGE}:") for key in ctx.store.items(feedback.NS_SEEN))
    assert ids[0] == "c-Alice-20261124001500-Nápady"            # the template's time, a signed comment's id
    assert ids[1].startswith("c-Bob-2026112400") and not ids[1].endswith("-unsigned")   # the revision's time

    # Bob edits his text (no time on the template): an edit of Bob's comment, once.
    replace_text(wiki, "Přidejte třídění.", "Přidejte třídění podle data.", user="Bob")
    feedback.run(ctx)
    assert len(posted(ctx)) == 2 and "**Bob** (unsigned)" in posted(ctx)[1] and "**edited**" in posted(ctx)[1]
    feedback.run(ctx)
    assert len(posted(ctx)) == 2


def test_discussiontools_path_adds_the_template_comments_it_does_not_see():
    # DiscussionTools sees the signed comment but not {{Nepodepsáno}} (the template renders no signature).
    wiki, ctx = world("== Nápady ==\nStarý. " + CS_SIG + "\n", items={})
    revid = append(wiki, "Přidejte filtr. {{Nepodepsáno|Alice|24. 11. 2026, 01:15 (CET)}}\n", user="Patrolář")
    signed = {"type": "comment", "id": "c-Jiný-20261124001500-Nápady", "author": "Jiný",
              "timestamp": "2026-11-24T00:15:00Z", "level": 1, "html": "Starý. ", "replies": []}
    wiki.discussion.update({r: [{"type": "heading", "html": "Nápady", "replies": [signed]}]
                           for r, _, _ in wiki.pages[PAGE]})
    newest = feedback.revision_from_api(wiki.revisions_by_id([revid])[revid])
    parse = feedback.discussiontools_parser(wiki, PAGE, newest, CS)
    found, unsigned = parse(newest)
    assert [c.id for c in found] == ["c-Jiný-20261124001500-Nápady", "c-Alice-20261124001500-Nápady"]
    assert unsigned == []
    feedback.run(ctx)
    [msg] = posted(ctx)
    assert "**Alice**, 24 November 2026" in msg and "Přidejte filtr." in msg


def test_reply_goes_under_a_comment_signed_by_template():
    text = ("== Nápady ==\nPřidejte filtr. {{Nepodepsáno|Alice|24. 11. 2026, 01:15 (CET)}}\n"
            "Další. " + CS_SIG + "\n")
    [alice, _] = parse_comments(text, CS)[0]
    out = insert_reply(text, alice, "Předáno. ~~~~", facts=CS)
    assert out.split("\n")[2] == ":Předáno. ~~~~"
