"""Tests for bot.render.escape: untrusted text stays text.

Wikitext outputs are checked with mwparserfromhell; Remarkup outputs with a
small checker whose regexes are ported from Phabricator/Phorge rule classes
(src/infrastructure/markup/... and the application remarkup rules).
"""

from __future__ import annotations

import html
import re
import sys
import unicodedata

import mwparserfromhell
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.render.escape import (
    BREAKER,
    ELLIPSIS,
    REMARKUP_SUBSTITUTES,
    remarkup_inline,
    remarkup_quote,
    strip_invisible,
    wikitext_block,
    wikitext_inline,
)

PROFILE = settings(max_examples=300, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

FORBIDDEN_NODES = (
    mwparserfromhell.nodes.Template,
    mwparserfromhell.nodes.Wikilink,
    mwparserfromhell.nodes.ExternalLink,
    mwparserfromhell.nodes.Tag,
    mwparserfromhell.nodes.Heading,
    mwparserfromhell.nodes.Comment,
    mwparserfromhell.nodes.Argument,
)
BEHAVIOUR_SWITCH = re.compile(r"__[A-Za-z_]+__")
MAGIC_LINK = re.compile(r"\b(?:ISBN|RFC|PMID)[\s\u00a0]", re.I)
FREE_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*:")  # any protocol-ish prefix
LINE_START = re.compile(r"^[*#:;= \t!|{-]", re.M)


def expected_inline(text: str) -> str:
    return re.sub(r"\n+", " ", strip_invisible(text))


def expected_block(text: str) -> str:
    lines = strip_invisible(text).split("\n")
    return "\n".join("" if not ln.strip() else ln for ln in lines)


def assert_wikitext_inert(out: str, *, block: bool = False) -> None:
    # No raw syntax characters that start wikitext constructs.
    assert "~~~" not in out
    assert not BEHAVIOUR_SWITCH.search(out)
    assert not MAGIC_LINK.search(out)
    assert not FREE_URL.search(out)
    for ch in "<>[]{}|'":
        assert ch not in out, (ch, out)
    assert not LINE_START.search(out), out
    if not block:
        assert "\n" not in out
    # Paragraph context.
    code = mwparserfromhell.parse("Row: " + out)
    bad = [n for n in code.filter(recursive=True) if isinstance(n, FORBIDDEN_NODES)]
    assert not bad, (out, bad)
    # Start of a line.
    code = mwparserfromhell.parse(out)
    bad = [n for n in code.filter(recursive=True) if isinstance(n, FORBIDDEN_NODES)]
    assert not bad, (out, bad)
    # Inside a table cell: the only tags are the table's own structure.
    cell = mwparserfromhell.parse("{|\n|" + out + "\n|}")
    baseline = mwparserfromhell.parse("{|\n|x\n|}")
    assert [t.tag for t in cell.filter_tags()] == [t.tag for t in baseline.filter_tags()]
    nodes = [n for n in cell.filter(recursive=True)
             if isinstance(n, FORBIDDEN_NODES) and not isinstance(n, mwparserfromhell.nodes.Tag)]
    assert not nodes, (out, nodes)


# --- Remarkup checker: regexes ported from Phabricator / Phorge -----------

_NEVER = r"\s?!,:;{}#\\()\"'*/~"
REMARKUP_INLINE_RULES: dict[str, re.Pattern[str]] = {
    # PhabricatorMentionRemarkupRule::REGEX (no /u -> ASCII classes)
    "mention": re.compile(r"(?<![\w@])@([a-zA-Z0-9._-]*[a-zA-Z0-9_-])", re.A),
    # PhabricatorObjectRemarkupRule::getObjectReferencePattern, generalised
    # to any letter prefix (T, D, P, F, M, Q, L, V, E, C, J, W, U, ...).
    "object-ref": re.compile(r"(?<![#-])\b[A-Za-z]+[1-9]\d*(?:#[-\w]+)?(?!\w)"),
    # DiffusionRepositoryRemarkupRule: prefix "r", id [A-Z]+
    "repository": re.compile(r"(?<![#-])\br[A-Z]+(?:#[-\w]+)?(?!\w)"),
    # DiffusionCommitRemarkupRule / getCommitObjectNamePattern()
    "commit": re.compile(
        r"(?<![#-])\b(?:(?:r[A-Z]+:?|R[0-9]+:)[1-9]\d*"
        r"|(?:r[A-Z]+:?|R[0-9]+:)[a-f0-9]{5,40}|[a-f0-9]{7,40})(?:#[-\w]+)?(?!\w)"),
    # getObjectEmbedPattern (\B{PREFIX(ID)...}\B)
    "object-embed": re.compile(r"\{[A-Za-z]+[1-9]\d*(?:[,\s](?:[^}\\]|\\.)*)?\}"),
    # ProjectRemarkupRule (current and pre-2016 id patterns)
    "hashtag": re.compile(
        r"(?<![#-])\B#(?:[^." + _NEVER + r"]+|[^\s.!,:;]*[^\s\d.!,:;]+)"),
    # PhabricatorHandleRemarkupRule
    "handle": re.compile(r"\{(PHID-[a-zA-Z0-9-]*)\}"),
    "curly-rule": re.compile(r"\{(?:nav|key|icon|anchor|meme|config|img|image)\b"),
    "hex-color": re.compile(r"\B\{(#([0-9a-fA-F]{3}){1,2})\}"),
    "eval": re.compile(r"\$\{\{\{(.+?)\}\}\}"),
    # PhutilRemarkupHyperlinkRule (angle, curly, bare)
    "hyperlink": re.compile(r"\w{3,32}://"),
    # PhutilRemarkupDocumentLinkRule
    "doc-link": re.compile(r"\[\[([^|\]]+)(?:\|([^\]]+))?\]\]"),
    "md-link": re.compile(r"\[([^\]]+)\]\("),
    # PhabricatorPhurlLinkRemarkupRule
    "phurl": re.compile(r"\(\(([^ )]+)\)\)"),
    # PhutilRemarkupMonospaceRule
    "monospace": re.compile(r"##([\s\S]+?)##|\B`(.+?)`", re.A),
    "bold": re.compile(r"\*\*(.+?)\*\*", re.S),
    "italic": re.compile(r"(?<!:)//(.+?)//", re.S),
    "del": re.compile(r"(?<!~)~~([^\s~].*?~*)~~", re.S),
    "underline": re.compile(r"(?<!_|/)__([^\s_/].*?_*)__(?!/|\.\S)", re.S),
    "highlight": re.compile(r"!!(.+?)(!{2,})"),
    "emoji": re.compile(r"(?<!\w):[a-z0-9_+-]+:"),
}
REMARKUP_LINE_RULES: dict[str, re.Pattern[str]] = {
    "quote": re.compile(r"^>"),
    "list": re.compile(r"^\s*(?:[-*#]+|([1-9][0-9]*)[.)]|\[\D?\])\s+"),
    "header": re.compile(r"^\s*[=#]"),
    "code": re.compile(r"^(\s{2,}).+|^\s*```"),
    "hr": re.compile(r"^\s*(?:[-_*]\s*){3,}$"),
    "literal": re.compile(r"^%%%"),
    "note": re.compile(r"^(?:NOTE|WARNING|IMPORTANT):|^\((?:NOTE|WARNING|IMPORTANT)\)"),
    "table": re.compile(r"^\s*<table>|^\|"),
    "interpreter": re.compile(r"^\s*\w+\s*(?:\([^)]*\))?\s*\{\{\{"),
    "macro": re.compile(r"^\s*([a-zA-Z0-9:_\-]+)$"),
}


def remarkup_fired(line: str, *, line_start: bool = True) -> list[str]:
    fired = [name for name, rx in REMARKUP_INLINE_RULES.items() if rx.search(line)]
    if line_start:
        fired += [name for name, rx in REMARKUP_LINE_RULES.items() if rx.search(line)]
    return fired


def assert_remarkup_inert(out: str, *, quote: bool = False) -> None:
    lines = out.split("\n")
    if not quote:
        assert len(lines) == 1
    for line in lines:
        if quote:
            assert line == ">" or line.startswith("> "), line
            line = line[2:]
            if not line:
                continue
        fired = remarkup_fired(line)
        assert not fired, (fired, line)
    # the caller's next line or text cannot glue onto a trailing delimiter
    assert not re.search(r"[*/~_!%=|#`\[{(@:<]$", out)


def unremarkup(out: str) -> str:
    out = out.replace(BREAKER, "")
    for orig, sub in REMARKUP_SUBSTITUTES.items():
        out = out.replace(sub, orig)
    return out


# ---------------------------------------------------------------------------
# payload tables
# ---------------------------------------------------------------------------

PAYLOADS = [
    "{{subst:Foo|bar}}",
    "{{#invoke:Module|main}}",
    "{{{1|x}}}",
    "[[Category:X]]",
    "[[:Category:X]]",
    "[[File:X.png|thumb]]",
    "[https://evil x]",
    "https://evil",
    "see mailto:a@b.c and news:foo",
    "//evil.example/x",
    "~~~",
    "~~~~",
    "~~~~~",
    "<ref>x</ref>",
    "<nowiki>",
    "</nowiki>{{x}}",
    "<span style=\"x\">y</span>",
    "<!-- -->",
    "<!-- unclosed",
    "__NOINDEX__",
    "__NOTOC__ and __ x __",
    "{{PAGENAME}}",
    "&lt;ref&gt;",
    "&amp;#123;&#123;",
    "'''bold''' and ''italic''",
    "== h ==",
    "=h=",
    "* list",
    "# numbered",
    ": indent",
    "; term : def",
    " preformatted",
    "----",
    "{|",
    "|-",
    "|}",
    "a || b !! c | d",
    "! header",
    "!! x",
    "ISBN 978-3-16-148410-0",
    "RFC 1234",
    "PMID\u00a012345",
    "-{zh-hans:x}-",
    "a\u202eb\u202cc",
    "\u2066isolated\u2069",
    "zero\u200bwidth\u2060joiner\ufeff",
    "~\u200d~\u200d~",
    "x\udc80y",
    "\ud83d\ude00 paired surrogates",
    "line1\nline2\r\nline3\rline4",
    "\x00\x01\x1b[31mred\x7f\x85next",
    "tab\there",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_wikitext_inline_payloads(payload: str) -> None:
    out = wikitext_inline(payload)
    assert_wikitext_inert(out)
    assert html.unescape(out) == expected_inline(payload)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_wikitext_block_payloads(payload: str) -> None:
    text = payload + "\n\n" + payload + "\n" + payload
    out = wikitext_block(text)
    assert_wikitext_inert(out, block=True)
    assert html.unescape(out) == expected_block(text)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("{{PAGENAME}}", "&#123;&#123;PAGENAME&#125;&#125;"),
        ("[[Category:X]]", "&#91;&#91;Category&#58;X&#93;&#93;"),
        ("https://evil", "https&#58;//evil"),
        ("~~~~", "&#126;&#126;&#126;&#126;"),
        ("__NOINDEX__", "&#95;&#95;NOINDEX&#95;&#95;"),
        ("snake_case", "snake_case"),
        ("== h ==", "&#61;= h =="),
        ("* list", "&#42; list"),
        ("a || b", "a &#124;&#124; b"),
        ("&lt;", "&amp;lt;"),
        ("<ref>", "&lt;ref&gt;"),
        ("'''b'''", "&#39;&#39;&#39;b&#39;&#39;&#39;"),
        ("ISBN 1", "ISBN&#32;1"),
        ("Hello, world!", "Hello, world!"),
        ("a\nb", "a b"),
    ],
)
def test_wikitext_inline_exact(payload: str, expected: str) -> None:
    assert wikitext_inline(payload) == expected


def test_wikitext_block_keeps_lines() -> None:
    out = wikitext_block("Hello\n* not a list\n\n  indented\n{|\n   \nend")
    assert out.split("\n") == [
        "Hello", "&#42; not a list", "", "&#32; indented", "&#123;&#124;", "", "end"]


REMARKUP_PAYLOADS = [
    "@alice please look",
    "mail me at a@b.example",
    "T123 and D45, P1, F7, M3, Q9, V2, E1, C5, W8, U4, J6",
    "{T123} {F7} {F7, size=full} {P1 lines=3}",
    "rXYZ rXYZ123 rXYZabcdef0 R2:1234 R2:abcdef",
    "deadbeef 1234567 0123456789abcdef0123456789abcdef01234567",
    "PHID-TASK-abcdefghijklmnopqrst {PHID-USER-abc}",
    "#project #project.name #123 ## ##mono## C# C#7 #",
    "[[ wiki/page ]] [[ https://x | y ]] [name](https://x/y)",
    "https://evil.example/x <https://x> {https://x} ftp://x",
    "**bold** //italic// ``code`` `code` ##mono## ~~del~~ !!hi!! __under__",
    "((alias)) ((U1))",
    "${{{strings.platform.server.name}}}",
    "{nav icon=home, name=Home} {key ctrl c} {icon camera} {anchor #x} {meme, src=x}",
    "{#fff} {#abcdef}",
    ":smile: :+1:",
    "= Header =",
    "== Header ==",
    "# heading or list",
    "- list",
    "* list",
    "1. list",
    "[] checkbox",
    "[x] checked",
    "> quote",
    ">>! In T1, @bob wrote:",
    "  code block",
    "```lang=php",
    "%%%literal%%%",
    "NOTE: note",
    "(WARNING) careful",
    "| a | b |",
    "<table><tr><td>x</td></tr></table>",
    "---",
    "***",
    "cowsay {{{ moo }}}",
    "lol",
    "\u202egnp.exe",
    "a\u200bb",
    "x\udc80",
    "multi\nline\n\n@text",
]


@pytest.mark.parametrize("payload", REMARKUP_PAYLOADS)
def test_remarkup_inline_payloads(payload: str) -> None:
    out = remarkup_inline(payload)
    assert_remarkup_inert(out)
    assert unremarkup(out) == expected_inline(payload)


@pytest.mark.parametrize("payload", REMARKUP_PAYLOADS + PAYLOADS)
def test_remarkup_quote_payloads(payload: str) -> None:
    text = payload + "\n\n  " + payload + "\n> " + payload
    out = remarkup_quote(text)
    assert_remarkup_inert(out, quote=True)
    body = "\n".join(ln[2:] for ln in out.split("\n"))
    assert unremarkup(body) == expected_block(text)


def test_remarkup_checker_catches_raw_payloads() -> None:
    """The ported checker must actually fire on the raw payloads."""
    for payload in ["@alice", "T123", "{F7}", "rXYZ", "deadbeef", "#project",
                    "[[ x ]]", "https://x", "**b**", "//i//", "`c`", "##m##",
                    "~~d~~", "!!h!!", "__u__", "((a))", "{PHID-USER-x}",
                    "> q", "- l", "  c", "NOTE: n", "lol", "| t |"]:
        assert remarkup_fired(payload), payload


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("@alice", "\u2060@\u2060alice"),
        ("T123", "\u2060T\u2060123"),
        ("#tag", "\u2060\uff03tag"),
        ("C# is", "\u2060C# is"),
        ("`x`", "\u2060\u02cbx\u02cb"),
        ("**b**", "\u2060*\u2060*b*\u2060*\u2060"),
        ("plain words", "\u2060plain words"),
    ],
)
def test_remarkup_inline_exact(payload: str, expected: str) -> None:
    assert remarkup_inline(payload) == expected


def test_remarkup_quote_shape() -> None:
    out = remarkup_quote("first\n\n  second\n")
    assert out == "> \u2060first\n>\n> \u2060  second\n>"


# ---------------------------------------------------------------------------
# strip_invisible / truncation
# ---------------------------------------------------------------------------

def test_strip_invisible_removes_every_format_char_except_joiners() -> None:
    for cp in range(sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        if unicodedata.category(ch) in ("Cf", "Cc") and ch not in "\t\n\u200c\u200d":
            assert strip_invisible("a" + ch + "b") in ("ab", "a\nb"), hex(cp)


def test_joiners_kept_only_between_non_ascii() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert strip_invisible(family) == family
    assert strip_invisible("\u0915\u094d\u200d\u0937") == "\u0915\u094d\u200d\u0937"
    assert strip_invisible("~\u200d~\u200d~") == "~~~"
    assert strip_invisible("T\u200c123") == "T123"
    assert strip_invisible("\u200d") == ""


def test_surrogates() -> None:
    assert strip_invisible("x\udc80y") == "x\ufffdy"
    assert strip_invisible("\ud83d") == "\ufffd"
    assert strip_invisible("\ud83d\ude00") == "\U0001f600"
    for fn in (wikitext_inline, wikitext_block, remarkup_inline, remarkup_quote):
        fn("a\udc80\ud800b").encode("utf-8")  # must not raise


@pytest.mark.parametrize("fn", [wikitext_inline, wikitext_block,
                                remarkup_inline, remarkup_quote])
def test_max_chars(fn) -> None:
    out = fn("x" * 10 + "{{{{{{{{{{", max_chars=15)
    assert out.endswith(ELLIPSIS)
    shown = html.unescape(unremarkup(out)).removeprefix("> ")
    assert shown == "x" * 10 + "{{{{" + ELLIPSIS
    assert fn("short", max_chars=15) in ("short", "\u2060short", "> \u2060short")
    # never splits an entity: escaped output of a cut is escape(cut text)
    out = wikitext_inline("&" * 20, max_chars=5)
    assert out == "&amp;" * 4 + ELLIPSIS
    # never separates a base from its combining mark / ZWJ sequence
    assert wikitext_inline("abcde\u0301f", max_chars=6) == "abcd" + ELLIPSIS
    fam = "\U0001f468\u200d\U0001f469"
    assert wikitext_inline("ab" + fam + "cd", max_chars=4) == "ab" + ELLIPSIS


def test_ten_megabytes_stay_inert() -> None:
    """A 10 MB payload is escaped whole (speed is measured in bench/escape_speed.py, not asserted)."""
    chunk = ("{{x}}~~~~[[a|b]]__NOTOC__'''b''' @u T1 #t `c` **b** http://x "
             "deadbeef1 <ref>\n* \u202e\u200d\udc80 ")
    big = chunk * (10_000_000 // len(chunk))
    wiki = wikitext_inline(big)
    assert not any(token in wiki for token in ("{{", "[[", "~~~", "__NOTOC__", "<ref>", "http://", "\u202e"))
    remark = remarkup_inline(big)
    assert "@u" not in remark and " T1 " not in remark and "`" not in remark and "http://" not in remark
    # degenerate single-character inputs (a regex backtracking trap would not finish)
    for degenerate in ("_" * 1_000_000, " " * 1_000_000, "1" * 1_000_000,
                       "{" * 1_000_000, "#" * 1_000_000, "@[" * 500_000):
        for fn in (wikitext_inline, remarkup_inline):
            assert fn(degenerate)


# ---------------------------------------------------------------------------
# property tests
# ---------------------------------------------------------------------------

MARKUP_TOKENS = list("{}[]|<>~'=:;*#!&_-/\n \\@`%^$()\t.,?\"+") + [
    "T1", "D45", "{F7}", "http://", "https://", "mailto:", "__NOTOC__", "{{", "}}",
    "~~~", "[[", "]]", "<!--", "-->", "<ref>", "&lt;", "&#123;", "ISBN ", "RFC ",
    "rXYZ", "R2:", "deadbeef", "1234567", "PHID-", "NOTE: ", "%%%", "```",
    "a", "b", "Z", "0", "9", "é", "\u0301", "\U0001f600",
    "\u202e", "\u2066", "\u200b", "\u200d", "\u200c", "\u2060", "\ufeff", "\x00",
    "\x85", "\u2028", "\r", "\udc80", "\ud83d",
]
markup_text = st.lists(st.sampled_from(MARKUP_TOKENS), max_size=40).map("".join)
any_text = st.one_of(markup_text, st.text(max_size=40))


@PROFILE
@given(any_text)
def test_prop_wikitext_inline(text: str) -> None:
    out = wikitext_inline(text)
    assert_wikitext_inert(out)
    assert html.unescape(out) == expected_inline(text)


@PROFILE
@given(any_text)
def test_prop_wikitext_block(text: str) -> None:
    out = wikitext_block(text)
    assert_wikitext_inert(out, block=True)
    assert html.unescape(out) == expected_block(text)


@PROFILE
@given(any_text)
def test_prop_remarkup_inline(text: str) -> None:
    out = remarkup_inline(text)
    assert_remarkup_inert(out)
    assume(not any(sub in text for sub in REMARKUP_SUBSTITUTES.values()))
    assert unremarkup(out) == expected_inline(text)


@PROFILE
@given(any_text)
def test_prop_remarkup_quote(text: str) -> None:
    out = remarkup_quote(text)
    assert_remarkup_inert(out, quote=True)
    assume(not any(sub in text for sub in REMARKUP_SUBSTITUTES.values()))
    body = "\n".join(ln[2:] for ln in out.split("\n"))
    assert unremarkup(body) == expected_block(text)


@PROFILE
@given(any_text, st.integers(min_value=1, max_value=30))
def test_prop_max_chars(text: str, limit: int) -> None:
    for fn in (wikitext_inline, wikitext_block):
        out = fn(text, max_chars=limit)
        assert_wikitext_inert(out, block=fn is wikitext_block)
        assert len(html.unescape(out)) <= limit
    for fn in (remarkup_inline, remarkup_quote):
        out = fn(text, max_chars=limit)
        assert_remarkup_inert(out, quote=fn is remarkup_quote)
    plain = html.unescape(wikitext_inline(text, max_chars=limit))
    if plain.endswith(ELLIPSIS) and not expected_inline(text).endswith(ELLIPSIS):
        assert expected_inline(text).startswith(plain[:-1])
