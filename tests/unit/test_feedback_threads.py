"""Issue 13 in unit form: thread order, the digest's words and times, the reply at the end of a thread."""
from __future__ import annotations

import io
from types import SimpleNamespace

from hypothesis import given, settings, strategies as st

from bot.domain import replies
from bot.domain.comments import Comment, author_from_id, parse_comments, thread_order
from bot.jobs import feedback
from bot.render.environment import Renderer
from bot.render.feedback_words import local_time, wiki_name
from tests.fakes import FakeWiki, FakeWikiSettings
from tests.wiki_facts import facts
from tests.unit.test_feedback_escape_sparing import plain_name

TZ = "Europe/Prague"
CS = facts("cs")   # the local cs wiki's recorded answers and its config words
BOT_SIG = "[[Wikipedista:TestBot|TestBot]] ([[Diskuse s wikipedistou:TestBot|diskuse]]) 24. 11. 2026, 08:00 (CET)"
CONF = SimpleNamespace(max_quote_chars=800)


def sig(user="A", minute=15):
    return f"[[Wikipedista:{user}|{user}]] ([[Diskuse s wikipedistou:{user}|diskuse]]) 24. 11. 2026, 07:{minute:02d} (CET)"


def ctx():
    wikis = {"cs": FakeWiki(FakeWikiSettings("cs", "cs")), "ko": FakeWiki(FakeWikiSettings("ko", "ko"))}
    wikis["ko"].settings.timezone = "Asia/Seoul"
    return SimpleNamespace(wikis=wikis, renderer=Renderer(), out=io.StringIO(),
                           settings=SimpleNamespace(phabricator=SimpleNamespace(language="en")))


def test_local_times_with_the_zone_the_community_writes():
    assert local_time("2026-12-06T05:06:00Z", TZ, "en") == "6 December 2026, 06:06 CET"
    assert local_time("2026-07-06T05:06:00Z", TZ, "en") == "6 July 2026, 07:06 CEST"
    assert local_time("2026-12-06T05:06:00Z", TZ, "cs") == "6. 12. 2026, 6:06 CET"
    assert local_time("2026-12-06T05:06:00Z", "Asia/Seoul", "ko") == "2026년 12월 6일 14:06 KST"
    # The repeated autumn hour: the zone name says which one.
    assert local_time("2026-10-25T00:30:00Z", TZ, "en").endswith("02:30 CEST")
    assert local_time("2026-10-25T01:30:00Z", TZ, "en").endswith("02:30 CET")


def test_wiki_named_in_the_readers_language():
    assert wiki_name("en", "ko") == "Korean Wikipedia"
    assert wiki_name("cs", "ko") == "korejská Wikipedie"
    assert wiki_name("ko", "cs") == "체코어 위키백과"


def test_author_from_id():
    assert author_from_id("c-Eva_Dvořáková-20261206050600-Nápad") == "Eva Dvořáková"
    assert author_from_id("c-Petr-20261206051000-Eva_Dvořáková-20261206050600-1") == "Petr"
    assert author_from_id(None) == ""


def test_thread_order_puts_each_reply_after_its_parent_whatever_the_names_or_minutes():
    text = (f"== A ==\nNávrh. {sig('Zuzana', 10)}\n:Re. {sig('Adam', 12)}\n::Re re. {sig('Bára', 12)}\n"
            f":Druhá odpověď. {sig('Cyril', 11)}\nJiný bod. {sig('Adam', 10)}\n== B ==\nJinde. {sig('Adam', 5)}\n")
    signed, _ = parse_comments(text, CS)
    shuffled = sorted(signed, key=lambda c: (c.timestamp, c.author))     # what the old digest did
    order = [(c.author, depth) for c, depth in thread_order(shuffled)]
    # B's thread started earlier (07:05); in A: the two top-level comments by time, replies under their parent.
    assert order == [("Adam", 0), ("Zuzana", 0), ("Cyril", 1), ("Adam", 1), ("Bára", 2), ("Adam", 0)] or \
        order == [("Adam", 0), ("Adam", 0), ("Zuzana", 0), ("Cyril", 1), ("Adam", 1), ("Bára", 2)]
    sections = [c.section for c, _ in thread_order(shuffled)]
    assert sections == sorted(sections, key=lambda s: sections.index(s))   # each thread in one piece


def _item(c: Comment, wiki="cs", title="Wikipedie:Growth", task=3, kind="new"):
    return {"wiki": wiki, "title": title, "kind": kind, "comment": c.to_json(), "revid": 5, "task": task}


def test_phabricator_digest_reads_like_the_thread():
    text = f"== Nápad ==\nPadá to. {sig('Eva Dvořáková', 10)}\n:Souhlas. {sig('Petr', 10)}\n"
    eva, petr = parse_comments(text, CS)[0]
    items = {"k1": _item(petr), "k2": _item(eva)}
    entries = [feedback.digest_entry(ctx(), CONF, k, v, "en") for k, v in items.items()]
    out = feedback.render_digest(ctx(), CONF, entries)
    assert "**Czech Wikipedia / Wikipedie:Growth / Nápad**" in out
    assert out.index("**Eva Dvořáková**, 24 November 2026, 07:10 CET") < \
        out.index("↳ **Petr**, in reply to Eva Dvořáková, 24 November 2026, 07:10 CET")
    assert "Special:GoToComment/c-Eva_Dvo%C5%99%C3%A1kov%C3%A1-20261124061000-N%C3%A1pad" in out
    assert "\u2060" not in out and "\u200b" not in out


@settings(max_examples=80, deadline=None)
@given(author=plain_name, other=plain_name, section=plain_name, quote=st.tuples(plain_name, plain_name).map(" ".join))
def test_no_invisible_character_in_a_digest_of_plain_names(author, other, section, quote):
    """Where the input has no U+2060/U+200B and nothing Remarkup reads, the digest has none either.
    (A quote line of one bare ASCII word keeps its breaker: Remarkup would look it up as an image macro.)"""
    root = Comment("c-X-20261124061000-S", author, "2026-11-24T06:10:00Z", section, quote, 1)
    reply = Comment("c-Y-20261124061100-X-20261124061000", other, "2026-11-24T06:11:00Z", section, quote, 2, root.id)
    items = {"k1": _item(root), "k2": _item(reply, kind="edit")}
    entries = [feedback.digest_entry(ctx(), CONF, k, v, "en") for k, v in items.items()]
    out = feedback.render_digest(ctx(), CONF, entries)
    for ch in ("\u2060", "\u200b"):
        assert ch not in out, (author, other, section, quote, out)


def test_digest_page_puts_each_wiki_under_its_own_heading_in_the_readers_language():
    cs = Comment("c-Eva-20261124061000-Nápad", "Eva", "2026-11-24T06:10:00Z", "Nápad", "Padá to.", 1)
    ko = Comment("c-김민수-20261124061000-의견", "김민수", "2026-11-24T06:10:00Z", "의견", "느립니다.", 1)
    items = {"a": _item(cs), "b": _item(ko, wiki="ko", title="위키백과토론:성장")}

    def entries(keys):
        out = []
        for k in keys:
            e = feedback.digest_entry(ctx(), CONF, k, items[k], reader="cs")
            e["text_wiki"], e["task_link"] = e["text"], None
            out.append(e)
        return out
    page = feedback.digest_page_text(ctx(), "cs", "Úvod.\n", entries(["b", "a"]))
    assert page.index("== česká Wikipedie ==") < page.index("== korejská Wikipedie ==")
    ko_part = page[page.index("== korejská Wikipedie =="):]
    assert "김민수" in ko_part and "24. 11. 2026, 15&#58;10 KST" in ko_part and "Eva" not in ko_part
    # The next cycle adds to the wiki's own section, no second heading.
    more = Comment("c-Petr-20261124062000-Nápad", "Petr", "2026-11-24T06:20:00Z", "Nápad", "Taky.", 1)
    items["c"] = _item(more)
    page2 = feedback.digest_page_text(ctx(), "cs", page, entries(["c"]))
    assert page2.count("== česká Wikipedie ==") == 1
    assert page2.index("Petr") < page2.index("== korejská Wikipedie ==")


def test_one_reply_at_the_end_of_the_thread_after_an_outdent():
    text = (f"== Nápad ==\nPadá to. {sig('A', 10)}\n:Souhlas. {sig('B', 11)}\n::Ověřím. {sig('C', 12)}\n"
            f"{{{{od|::}}}}Mně to funguje. {sig('D', 13)}\n\n== Další ==\nJinde. {sig('E', 14)}\n")
    signed, _ = parse_comments(text, CS)
    out = replies.insert_thread_reply(text, signed[:4], "Předáno. ~~~~", facts=CS)
    lines = out.split("\n")
    d = next(i for i, ln in enumerate(lines) if "Mně to funguje" in ln)
    assert lines[d + 1] == ":Předáno. ~~~~" and lines[d + 2] == "" and lines[d + 3] == "== Další =="
    after = parse_comments(out.replace("~~~~", BOT_SIG), CS)[0]
    assert [c.id for c in after if c.author != "TestBot"] == [c.id for c in signed]


def test_thread_reply_after_the_bots_own_reply_stays_at_its_level():
    text = f"== Nápad ==\nPadá to. {sig('A', 10)}\n:Předáno. {BOT_SIG}\n"
    signed, _ = parse_comments(text, CS)
    out = replies.insert_thread_reply(text, signed[:1], "Znovu. ~~~~", bot_user="TestBot", facts=CS)
    assert out.split("\n")[3] == ":Znovu. ~~~~"
    assert replies.insert_thread_reply("== X ==\nNic.\n", signed[:1], "R", facts=CS) is None


def test_one_reply_names_every_task_and_carries_every_marker():
    a = {"wiki": "cs", "title": "Diskuse k Wikipedii:Growth", "task": 5, "comment": {"id": "c-A-1", "text": "x"}}
    b = {**a, "task": 7, "comment": {"id": "c-B-2", "text": "y"}}
    c = {**a, "comment": {"id": "c-C-3", "text": "z"}}
    text = feedback.reply_text(SimpleNamespace(renderer=Renderer()), "cs", [a, b, c])
    assert text.startswith("Předáno do úkolů [[phab:T5|T5]] a [[phab:T7|T7]]. <!-- ambassador-bot:key=")
    assert replies.reply_hashes(text) == {replies.reply_marker(i).split("=", 1)[1] for i in (a, b, c)}
    ko = feedback.reply_text(SimpleNamespace(renderer=Renderer()), "ko", [a, b])
    assert ko.startswith("[[phab:T5|T5]], [[phab:T7|T7]]에 전달했습니다.")
