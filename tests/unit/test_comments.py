"""Comment parsing: the signatures MediaWiki writes on cs, ko, en, ar and vi (facts built from the local wikis'
recorded answers), and what changed between revisions."""
from __future__ import annotations

import pytest

from bot.domain.comments import (Revision, changes_in_history, comments_from_threaditems, find_signatures,
                                 parse_comments, text_from_html)
from tests.wiki_facts import facts, recorded

CS, KO, EN = facts("cs"), facts("ko"), facts("en")

CS_SIG = "[[Wikipedista:OtherUser|OtherUser]] ([[Diskuse s wikipedistou:OtherUser|diskuse]]) 24. 11. 2026, 07:15 (CET)"
KO_SIG = "[[사용자:OtherUser|OtherUser]] ([[사용자토론:OtherUser|토론]]) 2026년 11월 24일 (화) 15:15 (KST)"
EN_SIG = "[[User:OtherUser|OtherUser]] ([[User talk:OtherUser|talk]]) 06:15, 24 November 2026 (UTC)"


@pytest.mark.parametrize("sig,code", [(CS_SIG, "cs"), (KO_SIG, "ko"), (EN_SIG, "en")])
def test_real_signatures_give_author_and_utc_time(sig, code):
    [s] = find_signatures("Text. " + sig, facts(code))
    assert (s.author, s.timestamp, s.start) == ("OtherUser", "2026-11-24T06:15:00Z", len("Text. "))


def test_summer_time_and_the_repeated_autumn_hour():
    summer = "[[Wikipedista:A|A]] 1. 7. 2026, 12:00 (CEST)"
    assert find_signatures(summer, CS)[0].timestamp == "2026-07-01T10:00:00Z"
    first = "[[Wikipedista:A|A]] 25. 10. 2026, 02:30 (CEST)"
    second = "[[Wikipedista:A|A]] 25. 10. 2026, 02:30 (CET)"
    assert find_signatures(first, CS)[0].timestamp == "2026-10-25T00:30:00Z"
    assert find_signatures(second, CS)[0].timestamp == "2026-10-25T01:30:00Z"


def test_contributions_link_and_lowercase_user_and_no_link():
    assert find_signatures("[[Speciální:Příspěvky/192.0.2.1|192.0.2.1]] 24. 11. 2026, 07:15 (CET)", CS)[0].author == "192.0.2.1"
    assert find_signatures("[[user:otherUser|x]] 06:15, 24 November 2026 (UTC)", EN)[0].author == "OtherUser"
    assert find_signatures("just a date 24. 11. 2026, 07:15 (CET)", CS) == []
    far = "[[User:A|A]] " + "x" * 200 + " 06:15, 24 November 2026 (UTC)"
    assert find_signatures(far, EN) == []


PAGE = f"""Intro.
== Návrh [[T12]] ==
První komentář s [[odkaz|odkazem]]. {CS_SIG}
:Odpověď '''tučně'''. {CS_SIG}
::Druhá
::řádka. {CS_SIG}
=== Podsekce ===
Dole. {CS_SIG}
== Bez úkolu ==
Nepodepsáno.
"""


def test_parse_sections_levels_parents_ids():
    signed, unsigned = parse_comments(PAGE, CS)
    assert [c.id for c in signed] == [
        "c-OtherUser-20261124061500-Návrh_T12",
        "c-OtherUser-20261124061500-OtherUser-20261124061500",
        "c-OtherUser-20261124061500-OtherUser-20261124061500-1",
        "c-OtherUser-20261124061500-Podsekce",
    ]
    assert [c.text for c in signed] == ["První komentář s odkazem.", "Odpověď tučně.", "Druhá řádka.", "Dole."]
    assert [c.level for c in signed] == [1, 2, 3, 1]
    assert signed[2].parent == signed[1].id and signed[1].parent == signed[0].id
    assert [c.section_task for c in signed] == [12, 12, 12, 12]       # the subsection inherits T12
    assert [(c.section, c.text) for c in unsigned] == [("", "Intro."), ("Bez úkolu", "Nepodepsáno.")]


def rev(revid, text, user="OtherUser", ts="2026-11-24T07:00:00Z"):
    return Revision(revid, user, ts, text)


def test_history_new_reply_unsigned_edit_and_bot():
    base = rev(1, "== A ==\nPrvní. " + CS_SIG + "\n")
    r2 = rev(2, base.text + ":Odpověď. " + CS_SIG.replace("07:15", "07:20") + "\nBez podpisu.\n", user="Anon")
    r3 = rev(3, r2.text.replace("První.", "První, opraveno."))
    r4 = rev(4, r3.text + ":Předáno. [[Wikipedista:TestBot|TestBot]] 24. 11. 2026, 07:30 (CET)\n", user="TestBot")
    changes = changes_in_history(base, [r2, r3, r4], bot_user="TestBot", facts=CS)
    kinds = {(ch.kind, ch.comment.text, ch.comment.author, ch.revid) for ch in changes}
    assert kinds == {("new", "Odpověď.", "OtherUser", 2), ("new", "Bez podpisu.", "Anon", 2),
                     ("edit", "První, opraveno.", "OtherUser", 3)}
    unsigned = next(ch.comment for ch in changes if not ch.comment.signed)
    assert unsigned.timestamp == "2026-11-24T07:00:00Z" and unsigned.id.startswith("c-Anon-20261124070000-A")


def test_new_then_edited_in_one_cycle_is_one_new_comment():
    base = rev(1, "== A ==\n")
    r2 = rev(2, base.text + "Verze 1. " + CS_SIG + "\n")
    r3 = rev(3, base.text + "Verze 2. " + CS_SIG + "\n")
    [ch] = changes_in_history(base, [r2, r3], bot_user="TestBot", facts=CS)
    assert (ch.kind, ch.comment.text, ch.revid) == ("new", "Verze 2.", 2)


def test_renamed_or_moved_section_is_not_new_and_signing_later_is_not_new():
    base = rev(1, "== A ==\nText. " + CS_SIG + "\n== B ==\nZapomenuto.\n")
    renamed = rev(2, base.text.replace("== A ==", "== A (přejmenováno) =="))
    signed_later = rev(3, renamed.text.replace("Zapomenuto.", "Zapomenuto. " + CS_SIG))
    assert changes_in_history(base, [renamed, signed_later], bot_user="TestBot", facts=CS) == []


def test_removed_comment_is_not_a_change():
    base = rev(1, "== A ==\nText. " + CS_SIG + "\n")
    assert changes_in_history(base, [rev(2, "== A ==\n")], bot_user="TestBot", facts=CS) == []


def test_discussiontools_items_and_html_text():
    items = [{"type": "heading", "html": "Návrh <a title=\"T12\">T12</a>", "replies": [
        {"type": "comment", "id": "c-OtherUser-20261124061500-Návrh_T12", "author": "OtherUser",
         "timestamp": "2026-11-24T06:15:00Z", "level": 1,
         "html": 'Ahoj <b>tučně</b>. <a title="Wikipedista:OtherUser">OtherUser</a> '
                 '(<a title="Diskuse s wikipedistou:OtherUser">diskuse</a>) 24. 11. 2026, 07:15 (CET)',
         "replies": []}]}]
    [c] = comments_from_threaditems(items, CS)
    assert (c.text, c.section, c.section_task) == ("Ahoj tučně.", "Návrh T12", 12)
    assert text_from_html('<p>Má <a title="Uživatel:Jiný">Jiný</a> pravdu</p>', "OtherUser", CS) == "Má Jiný pravdu"


@pytest.mark.parametrize("code", ["cs", "ko", "en", "ar", "vi", "pl"])
def test_the_signature_each_wiki_wrote_is_read_back(code):
    """The very `~~~~` signature the local wiki wrote (recorded with its time) gives its author and minute."""
    answer = recorded(code)["signature"]
    [s] = find_signatures(answer["parse"]["text"], facts(code))
    assert s.author == "OtherUser"
    assert s.timestamp[:16] == answer["curtimestamp"][:16]


def test_another_wikis_signature_is_no_signature_here():
    assert find_signatures(EN_SIG, CS) == [] and find_signatures(CS_SIG, KO) == []
