"""Unsigned comments, second pass: a wrapped or dashed {{Unsigned}} added by a patroller, long texts
compared for edits, a crash between the queue's records, DiscussionTools' own ids for template
comments, and template authors that are no user names. Fakes only (no servers)."""
from __future__ import annotations

import random

import pytest

from bot.domain.comments import Revision, changes_in_history, parse_comments, similar
from bot.jobs import feedback
from bot.store.memory import MemoryStore
from tests.wiki_facts import facts
from tests.unit.test_feedback_unsigned_job import PAGE, append, context, posted, replace_text, world

CS = facts("cs")   # the local cs wiki's recorded answers and its config words
CS_TIME = "24. 11. 2026, 01:15 (CET)"

MARKINGS = [
    " <small>{{Unsigned|Anna}}</small>",
    " {{small|{{Unsigned|Anna}}}}",
    " —{{Nepodepsáno|Anna}}",
    " -- {{Unsigned|Anna}}",
    " – {{Unsigned|Anna}}",
    f" <small>{{{{Nepodepsáno|Anna|{CS_TIME}}}}}</small>",
    f" {{{{small|{{{{Nepodepsáno|Anna|{CS_TIME}}}}}}}}}",
    f" -- {{{{Nepodepsáno|Anna|{CS_TIME}}}}}",
    f"<small>— {{{{Unsigned|Anna|{CS_TIME}}}}}</small>",
]


def rev(revid, text, user):
    return Revision(revid, user, f"2026-11-2{revid}T10:00:00Z", text)


# -- 1. a patroller marking text that was already there ------------------------------------------

@pytest.mark.parametrize("marking", MARKINGS)
def test_patroller_marking_a_forwarded_unsigned_comment_forwards_nothing(marking):
    wiki, ctx = world()
    append(wiki, "Chtěla bych filtr podle data.\n", user="Anna")
    assert feedback.run(ctx).problems == []
    assert len(posted(ctx)) == 1
    replace_text(wiki, "filtr podle data.", "filtr podle data." + marking, user="Patrolář")
    assert feedback.run(ctx).problems == []
    assert posted(ctx)[1:] == []


@pytest.mark.parametrize("marking", MARKINGS)
def test_marking_old_text_is_no_change_and_leaves_no_markup_behind(marking):
    old = "== Otázka ==\nNefunguje mi tlačítko uložit.\n"
    new = old.replace("uložit.", "uložit." + marking)
    assert changes_in_history(rev(1, old, "Jana"), [rev(2, new, "Patrolář")], bot_user="Bot", facts=CS) == []
    # The same marking on a new comment: the comment is Anna's, its text without the wrapper or the
    # dash, and nothing of the wrapper is left over as someone's unsigned text.
    signed, unsigned = parse_comments(new, CS)
    [c] = signed + unsigned
    assert (c.author, c.text, c.by_template) == ("Anna", "Nefunguje mi tlačítko uložit.", True)


def test_unsigned_text_ending_in_a_dash_marked_later_is_no_change():
    old = "== Otázka ==\nNefunguje mi tlačítko uložit. --\n"
    for marked in ("Nefunguje mi tlačítko uložit. {{Unsigned|Jana}}",
                   f"Nefunguje mi tlačítko uložit. {{{{Nepodepsáno|Jana|{CS_TIME}}}}}",
                   "Nefunguje mi tlačítko uložit. -- {{Unsigned|Jana}}"):
        new = f"== Otázka ==\n{marked}\n"
        assert changes_in_history(rev(1, old, "Jana"), [rev(2, new, "Patrolář")], bot_user="Bot", facts=CS) == [], marked


def test_wrapper_holding_more_than_the_signature_keeps_its_text():
    text = "== H ==\n<small>Drobnost: překlep v nabídce {{Unsigned|Anna}}</small>\n"
    signed, unsigned = parse_comments(text, CS)
    assert [(c.author, c.text) for c in signed + unsigned] == [("Anna", "Drobnost: překlep v nabídce")]
    # Escaped markup typed as text stays text.
    [c] = parse_comments("== H ==\nPište &lt;small&gt; ručně\n", CS)[1]
    assert c.text == "Pište <small> ručně"


# -- 2. long texts ---------------------------------------------------------------------------------

def _long_text(seed: int, vocabulary: list[str], chars: int = 50_000) -> str:
    rnd = random.Random(seed)
    words: list[str] = []
    length = 0
    while length < chars:
        words.append(rnd.choice(vocabulary))
        length += len(words[-1]) + 1
    return " ".join(words)[:chars]


def test_similar_compares_50k_character_texts():
    # By hand (2 cores): under 0.05 s for these three calls; with a whole-text character ratio the
    # first alone took minutes (difflib is quadratic: 10k characters 1.9 s, 20k 8.7 s).
    czech = "a je to na se v že s z do o k i jako ale po tak pro by jsem jsou byl článek zdroj stránka".split()
    other = "filtr data autor seznam tabulka řádek sloupec hodnota graf osa popisek legenda barva".split()
    text = _long_text(1, czech)
    middle = len(text) // 2
    edited = text[:middle] + " A tady jsem doplnila celou novou větu o zdrojích. " + text[middle + 40:]
    assert len(text) == 50_000 and len(edited) > 49_000
    assert similar(text, edited)
    assert not similar(text, _long_text(2, other))
    assert not similar(text, text[:20_000].replace(" ", "_"))   # a fifth as long: not even the lengths fit


# -- 3. a crash between the queue's records -------------------------------------------------------

class Crash(Exception):
    pass


class CrashingStore(MemoryStore):
    """A store that dies (like a killed process) before its `fuse`-th write of a cycle."""

    def __init__(self):
        super().__init__()
        self.fuse: int | None = None
        self.writes = 0

    def put(self, namespace, key, value):
        if self.fuse is not None:
            if self.writes >= self.fuse:
                raise Crash(f"write {self.writes}: {namespace}")
            self.writes += 1
        super().put(namespace, key, value)


def _writes_in_collecting_cycle() -> int:
    store = CrashingStore()
    wiki, ctx = _crash_world(store)
    store.fuse = 10 ** 9
    feedback.run(ctx)
    return store.writes


def _crash_world(store):
    from tests.unit.test_feedback_unsigned_job import FeedbackWiki
    wiki = FeedbackWiki({PAGE: "Úvod.\n\n== Nápady ==\n"})
    ctx = context(wiki, store)
    assert feedback.run(ctx).problems == []
    append(wiki, "Chtěla bych filtr podle data.\n", user="Anna")
    return wiki, ctx


def test_a_crash_anywhere_in_the_cycle_keeps_the_unsigned_identity():
    total = _writes_in_collecting_cycle()
    assert total >= 5
    for fuse in range(total):
        store = CrashingStore()
        wiki, ctx = _crash_world(store)
        store.fuse = fuse
        with pytest.raises(Crash):
            feedback.run(ctx)
        store.fuse = None                      # the restarted bot
        assert feedback.run(ctx).problems == []
        replace_text(wiki, "filtr podle data.", "filtr podle data a autora.", user="Anna")
        assert feedback.run(ctx).problems == []
        edit = posted(ctx)[-1]
        assert "**edited**" in edit and "filtr podle data a autora." in edit, f"crash before write {fuse}"
        assert len(posted(ctx)) == 2, f"crash before write {fuse}"


# -- 4. DiscussionTools' own id for a comment signed by template -------------------------------------

def test_discussiontools_comment_under_another_id_is_not_added_again_from_the_wikitext():
    wiki, ctx = world(items={})
    revid = append(wiki, f"Přidejte filtr. {{{{Nepodepsáno|Alice|{CS_TIME}}}}}\n", user="Patrolář")
    # DiscussionTools renders the template's signature and builds its own id for it.
    alice = {"type": "comment", "id": "c-Alice-20261124001500-Nápady-rendered", "author": "Alice",
             "timestamp": "2026-11-24T00:15:00Z", "level": 1, "html": "Přidejte filtr. ", "replies": []}
    wiki.discussion[revid] = [{"type": "heading", "html": "Nápady", "replies": [alice]}]
    newest = feedback.revision_from_api(wiki.revisions_by_id([revid])[revid])
    found, _ = feedback.discussiontools_parser(wiki, PAGE, newest, CS)(newest)
    assert [c.id for c in found] == ["c-Alice-20261124001500-Nápady-rendered"]
    assert feedback.run(ctx).problems == []
    [msg] = posted(ctx)
    assert msg.count("Přidejte filtr.") == 1


def test_discussiontools_path_still_adds_a_template_comment_next_to_a_signature_of_the_same_minute():
    sig = "[[Wikipedista:Alice|Alice]] ([[Diskuse s wikipedistou:Alice|diskuse]]) " + CS_TIME
    wiki, _ = world(items={})
    revid = append(wiki, f"Podepsaný. {sig}\nPřidejte filtr. {{{{Nepodepsáno|Alice|{CS_TIME}}}}}\n", user="Alice")
    signed_one = {"type": "comment", "id": "c-Alice-20261124001500-Nápady", "author": "Alice",
                  "timestamp": "2026-11-24T00:15:00Z", "level": 1, "html": "Podepsaný. ", "replies": []}
    wiki.discussion[revid] = [{"type": "heading", "html": "Nápady", "replies": [signed_one]}]
    newest = feedback.revision_from_api(wiki.revisions_by_id([revid])[revid])
    found, _ = feedback.discussiontools_parser(wiki, PAGE, newest, CS)(newest)
    assert [(c.id, c.text) for c in found] == [("c-Alice-20261124001500-Nápady", "Podepsaný."),
                                              ("c-Alice-20261124001500-Nápady-1", "Přidejte filtr.")]


def test_discussiontools_path_adds_no_more_template_comments_than_it_lacks():
    wiki, _ = world(items={})
    revid = append(wiki, f"První. {{{{Nepodepsáno|Alice|{CS_TIME}}}}}\nDruhý. {{{{Nepodepsáno|Alice|{CS_TIME}}}}}\n",
                   user="Patrolář")
    # DiscussionTools renders one of the two, under an id of its own
    rendered = {"type": "comment", "id": "c-Alice-20261124001500-Nápady-rendered", "author": "Alice",
                "timestamp": "2026-11-24T00:15:00Z", "level": 1, "html": "První. ", "replies": []}
    wiki.discussion[revid] = [{"type": "heading", "html": "Nápady", "replies": [rendered]}]
    newest = feedback.revision_from_api(wiki.revisions_by_id([revid])[revid])
    found, _ = feedback.discussiontools_parser(wiki, PAGE, newest, CS)(newest)
    assert len(found) == 2


# -- 5. template authors that are no user names -------------------------------------------------------

@pytest.mark.parametrize("name", ["@admin", "Wikipedie:Pískoviště", "a<b", "x=y", "A[1]", "A}b", "A#b",
                                  "A/B", "Jana\u200bNová", "Jana\x07", "x" * 256, "가" * 86])
def test_template_author_that_is_no_user_name_leaves_plain_unsigned_text(name):
    text = f"== H ==\nPřidejte filtr. {{{{Unsigned|1={name}}}}}\n"
    signed, unsigned = parse_comments(text, CS)
    assert signed == [] and [(c.author, c.by_template, c.text) for c in unsigned] == [("", False, "Přidejte filtr.")]
    [change] = changes_in_history(rev(1, "== H ==\n", "Jana"), [rev(2, text, "Patrolář")], bot_user="Bot", facts=CS)
    assert (change.comment.author, change.comment.id.endswith("-unsigned")) == ("Patrolář", True)


@pytest.mark.parametrize("name,author", [("192.0.2.7", "192.0.2.7"), ("2001:db8::7", "2001:db8::7"),
                                         ("\u200eJana Nová\u200f", "Jana Nová"), ("jana_nová", "Jana nová"),
                                         ("[[Wikipedista:Jana|J.]]", "Jana"), ("x" * 255, "X" + "x" * 254)])
def test_template_author_that_is_a_user_name_or_an_ip(name, author):
    text = f"== H ==\nPřidejte filtr. {{{{Unsigned|{name}}}}}\n"
    [c] = parse_comments(text, CS)[1]
    assert (c.author, c.by_template) == (author, True)
