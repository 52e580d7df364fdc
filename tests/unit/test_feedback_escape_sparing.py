"""The sparing Remarkup escaper (names, labels, quotes of the feedback digest): as inert as
`remarkup_inline`/`remarkup_quote` (same checker, ported from Phorge's rules), but no invisible
U+2060/U+200B where the input had none and nothing Remarkup reads: `Eva Dvořáková` stays `Eva Dvořáková`."""
from __future__ import annotations

import re

from hypothesis import assume, given, strategies as st

from bot.render.escape import (BREAKER, strip_invisible, REMARKUP_SUBSTITUTES, remarkup_sparing_inline, remarkup_sparing_quote,
                               wikitext_inline)
from tests.unit.test_escape import (PROFILE, REMARKUP_PAYLOADS, any_text, assert_remarkup_inert, expected_block,
                                    expected_inline, remarkup_fired, unremarkup)

INVISIBLE = ("\u2060", "\u200b")


def assert_inline_inert(out: str) -> None:
    """Inert placed after other text (bold stars around it included)."""
    assert "\n" not in out
    assert not remarkup_fired(out, line_start=False), (remarkup_fired(out, line_start=False), out)
    for wrapped in (f"**{out}**", f"x {out} y", f"//{out}//"):
        fired = [f for f in remarkup_fired(wrapped, line_start=False) if f not in ("bold", "italic")]
        assert not fired, (fired, wrapped)
        # The template's own delimiters pair with each other, never with the name's characters.
        assert wrapped.count("**") == 2 or not wrapped.startswith("**")


@PROFILE
@given(any_text)
def test_prop_sparing_inline_is_inert_and_lossless(text):
    out = remarkup_sparing_inline(text)
    assert_inline_inert(out)
    assume(not any(sub in text for sub in REMARKUP_SUBSTITUTES.values()))
    assert unremarkup(out) == expected_inline(text)


@PROFILE
@given(any_text)
def test_prop_sparing_quote_is_inert_and_lossless(text):
    out = remarkup_sparing_quote(text)
    assert_remarkup_inert(out, quote=True)
    assume(not any(sub in text for sub in REMARKUP_SUBSTITUTES.values()))
    assert unremarkup("\n".join(ln[2:] for ln in out.split("\n"))) == expected_block(text)


def test_payloads_stay_inert():
    for payload in REMARKUP_PAYLOADS:
        assert_inline_inert(remarkup_sparing_inline(payload))
        assert_remarkup_inert(remarkup_sparing_quote(payload), quote=True)


# Names and labels as people write them: words in any script, numbers that are no object reference
# (never a lone letter before digits, never a 7-digit run), ordinary punctuation.
word = st.text(st.characters(categories=["Lu", "Ll", "Lo"]), min_size=2, max_size=12)
number = st.integers(min_value=0, max_value=999999).map(str)
punct = st.sampled_from(["", ".", ",", " -", ")", "'", "?"])
plain_name = st.tuples(st.tuples(word, punct).map("".join),
                       st.lists(st.tuples(st.one_of(word, number), punct).map("".join), max_size=4).map(" ".join)
                       ).map(lambda t: " ".join(x for x in t if x)
                             # A repository callsign (`rA`, `rXYZ`) and a PHID are Remarkup: they keep their breaker.
                             ).filter(lambda n: not re.search(r"(?<![A-Za-z0-9_])r[A-Z]|PHID", n))


@PROFILE
@given(plain_name)
def test_prop_no_invisible_character_where_the_input_had_none(name):
    assume(not any(ch in name for ch in INVISIBLE))
    # Hangul fillers (U+115F, U+1160, U+3164) are letters (Lo) that render as nothing: the escaper removes
    # them like any invisible character, so a name made of them is no plain name.
    assume(strip_invisible(name) == name)
    assume(not re.search(r"(?<![A-Za-z0-9_])r[A-Z]|PHID", name))    # a repository callsign is Remarkup
    for out in (remarkup_sparing_inline(name), wikitext_inline(name)):
        assert not any(ch in out for ch in INVISIBLE), (name, out)
    quote = remarkup_sparing_quote(name)
    body = quote[2:]
    # Only a line a block rule could read gets a breaker at its start; none inside.
    assert not any(ch in body.lstrip(BREAKER) for ch in INVISIBLE), (name, quote)


def test_examples():
    assert remarkup_sparing_inline("Eva Dvořáková") == "Eva Dvořáková"
    assert remarkup_sparing_inline("김민수") == "김민수"
    assert remarkup_sparing_inline("Jan123b") == "Jan123b"
    assert remarkup_sparing_inline("T123") == "T\u2060123"
    assert remarkup_sparing_quote("Přidejte filtr.") == "> Přidejte filtr."
    assert remarkup_sparing_quote("- seznam") == "> \u2060- seznam"


def test_hash_chunks_do_not_open_an_object_reference():
    assert_inline_inert(remarkup_sparing_inline("1234567deadbeef1234567"))
    assert_remarkup_inert(remarkup_sparing_quote("T11234567"), quote=True)
