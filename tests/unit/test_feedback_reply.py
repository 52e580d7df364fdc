"""Where the bot's "Forwarded to T123" reply goes in wikitext, and what it says."""
from __future__ import annotations

from types import SimpleNamespace

import mwparserfromhell
import pytest
from hypothesis import given, settings, strategies as st

from bot.domain.comments import parse_comments
from bot.domain.replies import insert_reply, reply_key, reply_marker
from bot.jobs.feedback import reply_text
from bot.render.environment import Renderer
from tests.wiki_facts import facts

CS = facts("cs")   # the local cs wiki's recorded answers and its config words


def sig(user="OtherUser", minute=15):
    return f"[[Wikipedista:{user}|{user}]] ([[Diskuse s wikipedistou:{user}|diskuse]]) 24. 11. 2026, 07:{minute:02d} (CET)"


BOT_SIG = "[[Wikipedista:TestBot|TestBot]] ([[Diskuse s wikipedistou:TestBot|diskuse]]) 24. 11. 2026, 09:00 (CET)"
REPLY = "Předáno do úkolu [[phab:T5|T5]]. <!-- ambassador-bot:key=x --> ~~~~"


def comment(text, pred):
    return next(c for c in parse_comments(text, CS)[0] if pred(c))


def test_top_level_comment_gets_a_reply_one_level_deeper_right_under_it():
    text = f"== A ==\nNávrh. {sig()}\nDalší návrh. {sig('Jiný', 20)}\n"
    out = insert_reply(text, comment(text, lambda c: c.author == "OtherUser"), REPLY, facts=CS)
    assert out == f"== A ==\nNávrh. {sig()}\n:{REPLY}\nDalší návrh. {sig('Jiný', 20)}\n"


def test_reply_goes_after_existing_replies_even_past_a_blank_line_and_stays_in_its_section():
    text = (f"== A ==\nNávrh. {sig()}\n:Odpověď. {sig('B', 16)}\n\n::Další. {sig('C', 17)}\n"
            f"Nový bod. {sig('D', 18)}\n== B ==\nX. {sig('E', 19)}\n")
    target = comment(text, lambda c: c.author == "OtherUser")
    out = insert_reply(text, target, REPLY, facts=CS)
    assert out.split("\n")[5] == ":" + REPLY
    assert out.split("\n")[6].startswith("Nový bod.")


def test_a_reply_and_a_bulleted_comment_keep_their_indentation_plus_one_colon():
    text = f"== A ==\nNávrh. {sig()}\n:Odpověď. {sig('B', 16)}\n* Bod. {sig('C', 17)}\n"
    out = insert_reply(text, comment(text, lambda c: c.author == "B"), REPLY, facts=CS)
    assert f":Odpověď. {sig('B', 16)}\n::{REPLY}\n* Bod." in out
    out = insert_reply(text, comment(text, lambda c: c.author == "C"), REPLY, facts=CS)
    assert out.endswith(f"* Bod. {sig('C', 17)}\n*:{REPLY}\n")


def test_repeated_signature_and_same_signature_in_another_section_find_the_right_line():
    text = (f"== A ==\nPrvní. {sig()}\n== B ==\nDruhý. {sig()}\nTřetí. {sig()}\nKonec. {sig('Z', 30)}\n")
    signed = parse_comments(text, CS)[0]
    assert [c.id for c in signed][:3] == ["c-OtherUser-20261124061500-A", "c-OtherUser-20261124061500-B",
                                          "c-OtherUser-20261124061500-B-1"]
    out = insert_reply(text, signed[2], REPLY, facts=CS).split("\n")
    assert out[5] == ":" + REPLY and out[4].startswith("Třetí.")
    out = insert_reply(text, signed[0], REPLY, facts=CS).split("\n")
    assert out[2] == ":" + REPLY and out[1].startswith("První.")


def test_heading_inside_an_html_comment_is_not_a_section():
    text = f"== A ==\n<!--\n== B ==\n-->\nNávrh. {sig()}\n"
    target = comment(text, lambda c: True)
    assert target.section == "A"
    assert insert_reply(text, target, REPLY, facts=CS).endswith(f"{sig()}\n:{REPLY}\n")


def test_a_comment_no_longer_on_the_page_gets_no_reply():
    text = f"== A ==\nNávrh. {sig()}\n"
    gone = comment(text, lambda c: True)
    assert insert_reply(f"== A ==\nJiný. {sig('B', 16)}\n", gone, REPLY, facts=CS) is None
    assert insert_reply("", gone, REPLY, facts=CS) is None


def test_the_signed_reply_changes_no_other_comment_id():
    text = (f"== A ==\nNávrh. {sig()}\n:Odpověď. {sig('B', 16)}\n\n::Další. {sig('C', 17)}\n"
            f"Nový bod. {sig('D', 18)}\n:Re. {sig('E', 19)}\n")
    before = parse_comments(text, CS)[0]
    for target in before:
        out = insert_reply(text, target, REPLY, facts=CS).replace("~~~~", BOT_SIG)
        after = [c for c in parse_comments(out, CS)[0] if c.author != "TestBot"]
        assert [c.id for c in after] == [c.id for c in before]
        [bot] = [c for c in parse_comments(out, CS)[0] if c.author == "TestBot"]
        assert bot.parent == target.id and bot.level == target.level + 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["A", "B", "C"]), st.integers(0, 59),
                          st.booleans()), min_size=1, max_size=8),
       st.data())
def test_any_thread_shape_reply_lands_under_its_comment(rows, data):
    lines = ["== Téma =="]
    for depth, user, minute, blank in rows:
        if blank:
            lines.append("")
        lines.append(":" * depth + f"Text {user}. {sig(user, minute)}")
    text = "\n".join(lines) + "\n"
    signed = parse_comments(text, CS)[0]
    target = data.draw(st.sampled_from(signed))
    out = insert_reply(text, target, REPLY, facts=CS)
    signed_out = parse_comments(out.replace("~~~~", BOT_SIG), CS)[0]
    [bot] = [c for c in signed_out if c.author == "TestBot"]
    assert bot.parent == target.id and bot.level == target.level + 1 and bot.section == "Téma"
    assert [c.id for c in signed_out if c.author != "TestBot"] == [c.id for c in signed]


ITEM = {"wiki": "cs", "title": "Diskuse k Wikipedii:Growth", "task": 123,
        "comment": {"id": "c-OtherUser-20261124061500-A", "text": "Návrh."}}


@pytest.mark.parametrize("lang,expected", [("cs", "Předáno do úkolu [[phab:T123|T123]]."),
                                           ("ko", "[[phab:T123|T123]]에 전달했습니다."),
                                           ("en", "Forwarded to [[phab:T123|T123]].")])
def test_reply_text_is_one_localized_line_with_marker_then_signature(lang, expected):
    text = reply_text(SimpleNamespace(renderer=Renderer()), lang, ITEM)
    assert text == f"{expected} <!-- {reply_marker(ITEM)} --> ~~~~"
    assert "\n" not in text
    links = [str(link.title) for link in mwparserfromhell.parse(text).filter_wikilinks()]
    assert links == ["phab:T123"]


def test_one_reply_per_comment_and_task_even_after_an_edit():
    edited = {**ITEM, "comment": {**ITEM["comment"], "text": "Opravený návrh."}}
    assert reply_key(edited) == reply_key(ITEM) and reply_marker(edited) == reply_marker(ITEM)
    other_task = {**ITEM, "task": 124}
    assert reply_marker(other_task) != reply_marker(ITEM)
