"""Unsigned comments in the domain: {{Unsigned}}-style templates as signatures, and edits of unsigned text."""
from __future__ import annotations

import pytest

from bot.domain.comments import (Revision, changes_between, changes_in_history, comment_id,
                                 find_signatures, parse_comments, template_name)
from tests.wiki_facts import facts

CS = facts("cs")   # the local cs wiki's recorded answers and its config words
CS_TIME = "24. 11. 2026, 07:15 (CET)"
KO_TIME = "2026년 11월 24일 (화) 15:15 (KST)"
EN_TIME = "06:15, 24 November 2026 (UTC)"
UTC = "2026-11-24T06:15:00Z"
CS_SIG = f"[[Wikipedista:Podepsaný|Podepsaný]] ([[Diskuse s wikipedistou:Podepsaný|diskuse]]) {CS_TIME}"


def signed_and_unsigned(text, language="cs"):
    return parse_comments(text, facts(language))


# -- templates as signatures -----------------------------------------------------------------------

@pytest.mark.parametrize("template,language", [
    (f"{{{{Nepodepsáno|Alice|{CS_TIME}}}}}", "cs"),
    (f"{{{{nepodepsáno|Alice|{CS_TIME}}}}}", "cs"),            # first letter in either case
    (f"{{{{Šablona:Nepodepsáno|Alice|{CS_TIME}}}}}", "cs"),    # with its namespace
    (f"{{{{Unsigned|Alice|{EN_TIME}}}}}", "en"),
    (f"{{{{Unsigned2|{EN_TIME}|Alice}}}}", "en"),               # Unsigned2: time first
    (f"{{{{Unsigned|{EN_TIME}|Alice}}}}", "en"),                # enwiki's Unsigned takes either order
    (f"{{{{Unsigned IP|Alice|{EN_TIME}}}}}", "en"),
    (f"{{{{서명 안 함|Alice|{KO_TIME}}}}}", "ko"),
    (f"{{{{서명_안_함|Alice|{KO_TIME}}}}}", "ko"),               # underscores are spaces
    (f"{{{{Unsigned|Alice|{KO_TIME}}}}}", "ko"),
    (f"{{{{Nepodepsáno|[[Wikipedista:Alice|Alice]]|{CS_TIME}}}}}", "cs"),   # the user as a link
    (f"{{{{Nepodepsáno|alice|{CS_TIME}}}}}", "cs"),            # a user name's first letter in either case
])
def test_template_gives_author_and_time_and_the_signed_comment_id(template, language):
    text = f"== Nápad ==\nPřidejte filtr. {template}\n"
    [c], unsigned = signed_and_unsigned(text, language)
    assert unsigned == []
    assert (c.author, c.timestamp, c.text, c.signed, c.by_template) == ("Alice", UTC, "Přidejte filtr.", True, True)
    # The same id a signature by Alice at that minute would give: stable across revisions and parsers.
    assert c.id == comment_id("Alice", UTC, "Nápad") == "c-Alice-20261124061500-Nápad"


def test_template_names_are_canonical_per_wiki():
    assert template_name("nepodepsáno", CS) == "Nepodepsáno"
    assert template_name(" Template:unsigned_IP ", facts("en")) == "Unsigned IP"
    assert template_name("틀:서명_안_함", facts("ko")) == "서명 안 함"
    for code in ("cs", "ko", "en"):
        assert all(template_name(n, facts(code)) == n for n in facts(code).unsigned_templates)
    # A wiki reads its own template names (from its config) only.
    text = f"== A ==\nX. {{{{서명 안 함|Alice|{KO_TIME}}}}}\n"
    assert signed_and_unsigned(text, "cs")[0] == []
    assert [c.author for c in signed_and_unsigned(text, "ko")[0]] == ["Alice"]


def test_other_templates_and_a_template_without_user_are_not_signatures():
    text = f"== A ==\nText {{{{Citace|Alice|{CS_TIME}}}}}.\nDalší {{{{Nepodepsáno||{CS_TIME}}}}}\n"
    signed, unsigned = signed_and_unsigned(text)
    assert signed == [] and [c.author for c in unsigned] == [""]


def test_template_without_readable_time_is_unsigned_text_with_a_known_author():
    text = "== A ==\nPřidejte filtr. {{Nepodepsáno|Alice|včera večer}}\n"
    signed, [u] = signed_and_unsigned(text)
    assert signed == [] and (u.author, u.timestamp, u.text, u.signed, u.by_template) == \
        ("Alice", "", "Přidejte filtr.", False, True)
    # Its time is the revision that added it; its id is a signed comment's id (no "-unsigned").
    rev = Revision(2, "Patrolář", "2026-11-24T07:00:00Z", text)
    [ch] = changes_between(([], []), (signed, [u]), rev)
    assert (ch.kind, ch.comment.author, ch.comment.timestamp, ch.comment.id) == \
        ("new", "Alice", "2026-11-24T07:00:00Z", "c-Alice-20261124070000-A")


def test_time_inside_a_template_is_not_read_as_someone_elses_signature():
    line = f"[[User:Bob|Bob]] říkal, že {{{{Unsigned|Alice|{EN_TIME}}}}}"
    [sig] = find_signatures(line, CS)
    assert (sig.author, sig.template) == ("Alice", True)
    # A signature after a template takes no user link from inside the template.
    line = f"{{{{Unsigned|[[User:Alice|Alice]]|?}}}} {EN_TIME}"
    assert [(s.author, s.timestamp) for s in find_signatures(line, CS)] == [("Alice", "")]


def test_template_comment_splits_the_thread_like_a_signature():
    text = (f"== A ==\nPrvní. {{{{Nepodepsáno|Alice|{CS_TIME}}}}}\n"
            f":Odpověď. {CS_SIG}\n")
    signed, unsigned = signed_and_unsigned(text)
    assert [c.text for c in signed] == ["První.", "Odpověď."] and unsigned == []
    assert signed[1].parent == signed[0].id and signed[1].level == 2


def test_adding_a_template_to_text_already_there_is_not_new_feedback():
    before = Revision(1, "Alice", "2026-11-24T06:15:00Z", "== A ==\nZapomněla jsem podepsat.\n")
    after = Revision(2, "Patrolář", "2026-11-24T07:00:00Z",
                     f"== A ==\nZapomněla jsem podepsat. {{{{Nepodepsáno|Alice|{CS_TIME}}}}}\n")
    assert changes_in_history(before, [after], bot_user="TestBot", facts=CS) == []


# -- edits of unsigned text -------------------------------------------------------------------------

def rev(revid, text, user="Anon", ts="2026-11-24T08:00:00Z"):
    return Revision(revid, user, ts, text)


BASE = rev(1, f"== A ==\nPrvní. {CS_SIG}\nMyslím, že by se hodil filtr podle data.\n== B ==\nJiné téma.\n",
           ts="2026-11-24T07:00:00Z")


def edited(text, old="Myslím, že by se hodil filtr podle data.", **kw):
    return rev(kw.pop("revid", 2), BASE.text.replace(old, text), **kw)


@pytest.mark.parametrize("new_text", [
    "Myslím, že by se hodil filtr podle data a autora.",      # appended
    "Myslím, že by se hodil filtr.",                           # shortened
    "Myslím, že by se hodil filtr podle data vytvoření.",      # reworded (ratio >= 0.5)
])
def test_similar_unsigned_text_in_the_same_place_is_an_edit_carrying_the_previous_text(new_text):
    [ch] = changes_in_history(BASE, [edited(new_text)], bot_user="TestBot", facts=CS)
    assert (ch.kind, ch.comment.text, ch.previous_text, ch.comment.signed) == \
        ("edit", new_text, "Myslím, že by se hodil filtr podle data.", False)
    # Until the caller knows whose comment it was, it carries the editing revision's identity.
    assert (ch.comment.author, ch.comment.timestamp, ch.revid) == ("Anon", "2026-11-24T08:00:00Z", 2)


def test_dissimilar_text_or_another_section_is_new_not_an_edit():
    [ch] = changes_in_history(BASE, [edited("Úplně jiná připomínka k menu.")], bot_user="TestBot", facts=CS)
    assert (ch.kind, ch.previous_text) == ("new", None)
    # The chunk deleted in A and a similar one added in C: two places, so a new comment.
    moved = rev(2, BASE.text.replace("Myslím, že by se hodil filtr podle data.\n", "")
                + "== C ==\nMyslím, že by se hodil filtr podle data a autora.\n")
    [ch] = changes_in_history(BASE, [moved], bot_user="TestBot", facts=CS)
    assert (ch.kind, ch.comment.section) == ("new", "C")


def test_kept_chunk_and_new_chunk_in_the_same_section_is_new():
    more = rev(2, BASE.text.replace("podle data.\n", "podle data.\n:Myslím, že by se hodil i filtr podle autora.\n"))
    [ch] = changes_in_history(BASE, [more], bot_user="TestBot", facts=CS)
    assert (ch.kind, ch.comment.text) == ("new", "Myslím, že by se hodil i filtr podle autora.")


def test_unsigned_text_signed_later_is_no_edit():
    signed = edited("Myslím, že by se hodil filtr podle data. " + CS_SIG.replace("Podepsaný", "Anon"))
    assert changes_in_history(BASE, [signed], bot_user="TestBot", facts=CS) == []


def test_edited_twice_in_one_stretch_is_one_edit_from_the_first_text():
    r2 = edited("Myslím, že by se hodil filtr podle data a autora.")
    r3 = rev(3, r2.text.replace("a autora", "a podle autora"), ts="2026-11-24T09:00:00Z")
    [ch] = changes_in_history(BASE, [r2, r3], bot_user="TestBot", facts=CS)
    assert (ch.kind, ch.comment.text, ch.previous_text, ch.revid) == \
        ("edit", "Myslím, že by se hodil filtr podle data a podle autora.",
         "Myslím, že by se hodil filtr podle data.", 3)
    # ... and edited back to where it started is no change at all.
    r4 = rev(4, BASE.text, ts="2026-11-24T10:00:00Z")
    assert changes_in_history(BASE, [r2, r3, r4], bot_user="TestBot", facts=CS) == []


def test_added_and_edited_in_one_stretch_is_one_new_comment_by_its_writer():
    base = rev(1, "== A ==\n", ts="2026-11-24T07:00:00Z")
    r2 = rev(2, base.text + "Nápad na filtr.\n", user="Anon", ts="2026-11-24T07:30:00Z")
    r3 = rev(3, base.text + "Nápad na lepší filtr.\n", user="Anon")
    [ch] = changes_in_history(base, [r2, r3], bot_user="TestBot", facts=CS)
    assert (ch.kind, ch.comment.text, ch.comment.author, ch.comment.timestamp, ch.revid) == \
        ("new", "Nápad na lepší filtr.", "Anon", "2026-11-24T07:30:00Z", 2)
    # Someone else writing into the chunk is their text, not Anon's edit.
    r3 = rev(3, base.text + "Nápad na filtr.\nA taky třídění.\n", user="Jiný")
    chs = changes_in_history(base, [r2, r3], bot_user="TestBot", facts=CS)
    assert [(c.kind, c.comment.author) for c in chs] == [("new", "Anon"), ("edit", "Jiný")]


def test_edit_of_an_unsigned_template_comment_keeps_the_template_author():
    text = "== A ==\nPřidejte filtr. {{Nepodepsáno|Alice}}\n"
    r2 = rev(2, text.replace("filtr.", "filtr podle data."), user="Alice")
    [ch] = changes_in_history(rev(1, text), [r2], bot_user="TestBot", facts=CS)
    assert (ch.kind, ch.comment.author, ch.previous_text, ch.comment.by_template) == \
        ("edit", "Alice", "Přidejte filtr.", True)
