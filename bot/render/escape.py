"""Untrusted text stays text.

Task titles, descriptions, usernames and wiki comments are user input.  The
functions here make such input *inert* before it is placed into MediaWiki
wikitext or Phabricator Remarkup, while keeping it readable for humans.
Standard library only (and the title rules of bot/domain/titles.py); every function is pure and runs in linear time (only
``str.translate`` and regular expressions without nested quantifiers are used,
so a 10 MB input is handled in well under a second).

Common normalisation -- :func:`strip_invisible`
    * lone UTF-16 surrogates (``"\\udc80"``) become U+FFFD; a valid *pair* of
      surrogate code points is first joined into the real character;
    * ``\\r\\n`` and ``\\r`` become ``\\n``; the other line separators
      (VT, FF, NEL U+0085, U+2028, U+2029) become ``\\n`` too;
    * C0/C1 control characters other than TAB and LF are removed;
    * every invisible *format* character (Unicode category Cf: soft hyphen,
      ZWSP, LRM/RLM, ALM, bidi embeddings/overrides U+202A-202E, isolates
      U+2066-2069, word joiner and invisible operators U+2060-2064, BOM,
      interlinear annotations, tag characters U+E0000-E007F ...) and the
      other default-ignorable fillers (U+034F, U+115F, U+1160, U+17B4,
      U+17B5, U+3164, U+FFA0) and noncharacters (U+FDD0-FDEF, U+FFFE/FFFF)
      are removed;
    * ZERO WIDTH JOINER U+200D and ZERO WIDTH NON-JOINER U+200C are *kept
      only when both neighbours are non-ASCII, non-space characters*.  There
      they are needed (emoji ZWJ sequences, Indic/Arabic/Persian shaping) and
      harmless: every wikitext and Remarkup trigger is ASCII, so a joiner
      squeezed between two non-ASCII characters can neither create nor hide
      markup.  Anywhere else (e.g. ``~\\u200d~~`` or ``T\\u200d123``) they
      are removed.

Length -- ``max_chars``
    ``max_chars`` counts *rendered* characters (code points of the normalised
    input, the ellipsis included), not bytes of markup.  The cut is made on
    the normalised input **before** escaping, so it can never fall inside an
    HTML entity or inside an inserted breaker, and surrogates no longer exist
    at that point.  The cut also backs off so that it does not separate a
    base character from following combining marks / variation selectors /
    joiners.  When a cut happens, "…" (U+2026) is appended.  The escaped
    output may therefore be longer than ``max_chars`` code points.

Wikitext -- :func:`wikitext_inline`, :func:`wikitext_block`
    HTML numeric character references are used; they render as the original
    character but are never parsed as syntax, because MediaWiki recognises
    markup in the raw source and decodes entities only at output time.

    Always encoded (context free):
        ``&`` → ``&amp;`` (so ``&lt;`` in the input stays the literal text
        ``&lt;``), ``<`` → ``&lt;``, ``>`` → ``&gt;`` (tags, extension tags,
        comments), ``[`` ``]`` → ``&#91;`` ``&#93;`` (wikilinks, categories,
        external links), ``{`` ``}`` → ``&#123;`` ``&#125;`` (templates,
        parser functions, magic-word variables, parameters ``{{{ }}}``,
        tables ``{|``, LanguageConverter ``-{ }-``), ``|`` → ``&#124;``
        (cell separators ``|`` ``||`` ``|-`` ``|}``), ``'`` → ``&#39;``
        (bold/italic), ``~`` → ``&#126;`` (signatures ``~~~``-``~~~~~``),
        ``:`` → ``&#58;`` (every URL protocol of ``$wgUrlProtocols`` ends in
        ``:`` so free links such as ``https://x`` or ``mailto:a@b`` die; it
        also kills ``:`` indentation).
    Encoded by context:
        ``_`` inside a run of two or more, or at either end of the output
        (behaviour switches ``__NOINDEX__``); ``!`` inside a run of two or
        more (``!!`` header-cell separator); the first whitespace character
        after ``ISBN``/``RFC``/``PMID`` (magic links); and the first
        character of every line if it is one of ``* # ; = - !`` or a space /
        TAB (lists, headings, horizontal rules, header cells, ``<pre>``).

    ``wikitext_inline`` first turns every run of newlines into one space.
    ``wikitext_block`` keeps the line structure (``\\n``), turns
    whitespace-only lines into empty lines (paragraph breaks) and makes each
    line safe as above, so no line can start list/table/heading/pre syntax.

Remarkup -- :func:`remarkup_inline`, :func:`remarkup_quote`
    Remarkup has no entities and no escape character (HTML is escaped, so
    ``&amp;`` is shown literally).  Rules are regular expressions over the
    raw text; see ``PhabricatorMarkupEngine::newMarkupEngine`` and the rule
    classes in phorge/phacility ``src/infrastructure/markup``.  The approach
    here: insert U+2060 WORD JOINER (the *breaker*, constant ``BREAKER``) at
    the exact spot a rule needs two ASCII characters to be adjacent.  U+2060
    is invisible, never a line-break opportunity, is not ``\\s`` and not
    ``\\w`` for PCRE (with or without ``/u``), and is not in any rule's
    character class.  Input never contains U+2060 (strip_invisible removes
    all Cf), so removing every U+2060 from the output gives the input back.

    Where no invisible insertion can work, one character is substituted by
    a look-alike (documented in ``REMARKUP_SUBSTITUTES``):

    * ``` ` ``` → U+02CB ``ˋ``.  ``PhutilRemarkupMonospaceRule`` is
      ``\\B`(.+?)`` -- the content ``.+?`` swallows any breaker, and no
      invisible character is ``\\w``, so the ``\\B`` cannot be defeated.
    * ``#`` → U+FF03 ``＃`` unless followed by whitespace or one of
      ``. ! , : ;``.  ``ProjectRemarkupRule`` matches ``#`` + any run of
      characters outside its "never" class, and a breaker is *inside* that
      class, so ``#\\u2060tag`` would still be looked up as a hashtag.  A
      ``#`` kept is one no Phabricator version can read as ``#tag`` or as the
      start of ``##monospace##`` (``#`` followed by ``#`` is substituted).

    Breakers are inserted (per line):

    * at the start of every non-empty line -- defeats every block rule,
      all of which are anchored at ``^`` and look for ``\\s``, ``>``,
      ``-``/``*``/``#``/digits (lists), ``=`` (headers), ``%%%``,
      ``|``/``<table>``, `````/two spaces (code), ``NOTE:``, ``---`` rules,
      ``name {{{`` interpreters, and whole-line image macros
      ``^\\s*[a-zA-Z0-9:_-]+$``;
    * after ``@`` (mentions: ``(?<!\\w|@)@([a-zA-Z0-9._-]*[a-zA-Z0-9_-])``
      needs an ASCII character right after ``@``);
    * after ``{`` (object embeds ``{T1}``/``{F7}``, ``{PHID-...}`` handles,
      ``{nav}``, ``{key}``, ``{icon}``, ``{anchor}``, ``{meme}``, ``{#fff}``,
      ``{C1}`` countdowns, ``${{{eval}}}``, ``{http://...}``), after ``[`` and
      ``]`` (``[[doc links]]``, ``[name](href)``), after ``(`` (Phurl
      ``((alias))``), after ``:`` (``\\w{3,32}://`` hyperlinks, ``:emoji:``)
      and after ``<`` (``<http://...>``);
    * between two equal characters of ``* / ~ _ ! % = |`` (``**bold**``,
      ``//italic//``, ``~~del~~``, ``__underline__``, ``!!highlight!!``);
    * between an ASCII letter and a following digit (``T123``, ``D45``,
      ``P1``, ``F7``, ``R2:``... -- object references are
      ``(?<![#-])\\bPREFIX[1-9]\\d*(?!\\w)``), after ``r`` starting a word
      when followed by a capital (repository callsigns ``rXYZ`` and commits
      ``rXYZ123``), after ``PHID`` before ``-``, and after every sixth
      character of any run of 7+ ``[a-f0-9]`` (bare commit hashes
      ``\\b[a-f0-9]{7,40}(?!\\w)``);
    * at the end of the output when it ends in ASCII punctuation, so the
      caller's following text cannot complete a delimiter pair.

    ``remarkup_inline`` collapses newline runs to one space.
    ``remarkup_quote`` prefixes every line with ``"> "`` (empty lines with
    ``">"``); ``PhutilRemarkupQuotedBlockRule`` strips that prefix and
    re-parses the body with all block rules, which is why each body line is
    also breaker-prefixed.  The caller must end the quote with a blank line.
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse

from bot.domain.titles import MAX_TITLE_BYTES, UnsafeTitle, normal_title, title_problem  # noqa: F401

__all__ = [
    "BREAKER",
    "ELLIPSIS",
    "REMARKUP_SUBSTITUTES",
    "strip_invisible",
    "truncate",
    "wikitext_inline",
    "wikitext_block",
    "remarkup_inline",
    "remarkup_quote",
    "remarkup_sparing_inline",
    "remarkup_sparing_quote",
    "UnsafeTitle",
    "title_problem",
    "normal_title",
    "wikilink",
    "title_url",
]

#: Invisible character inserted into Remarkup to break rule triggers.
BREAKER = "\u2060"
#: Appended when ``max_chars`` cuts the text.
ELLIPSIS = "\u2026"
#: Look-alike substitutions made by the Remarkup escaper (original -> shown).
REMARKUP_SUBSTITUTES = {"`": "\u02cb", "#": "\uff03"}

# --------------------------------------------------------------------------
# strip_invisible
# --------------------------------------------------------------------------

_SURROGATE_RE = re.compile("[\ud800-\udfff]")

# Line separators other than \n.
_NEWLINE_TRANS = {
    ord("\r"): "\n",
    0x0B: "\n",
    0x0C: "\n",
    0x85: "\n",
    0x2028: "\n",
    0x2029: "\n",
}

# Ranges removed outright: controls, Cf (minus ZWNJ/ZWJ), default-ignorable
# fillers and BMP noncharacters.  Cf list is Unicode 15 (a superset of what
# the running Python knows; a unit test checks it against unicodedata).
_REMOVE_RANGES = [
    (0x00, 0x08), (0x0E, 0x1F), (0x7F, 0x84), (0x86, 0x9F),
    (0xAD, 0xAD), (0x034F, 0x034F), (0x0600, 0x0605), (0x061C, 0x061C),
    (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2),
    (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180E, 0x180E),
    (0x200B, 0x200B), (0x200E, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFDD0, 0xFDEF),
    (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF9, 0xFFFB), (0xFFFE, 0xFFFF),
    (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
]


def _class(ranges: list[tuple[int, int]]) -> str:
    parts = []
    for lo, hi in ranges:
        parts.append(re.escape(chr(lo)) if lo == hi
                     else re.escape(chr(lo)) + "-" + re.escape(chr(hi)))
    return "[" + "".join(parts) + "]+"


_REMOVE_RE = re.compile(_class(_REMOVE_RANGES))
_JOINERS = "\u200c\u200d"
# A joiner survives only between two non-ASCII, non-space, non-joiner chars.
_BAD_JOINER_RE = re.compile(
    "(?<![^\\x00-\\x7f\\s\u200c\u200d])[\u200c\u200d]"
    "|[\u200c\u200d](?![^\\x00-\\x7f\\s\u200c\u200d])"
)


def strip_invisible(text: str) -> str:
    """Neutralise control, bidi and invisible format characters.

    See the module docstring for the exact list.  Newlines are kept (all
    line-break conventions become ``\\n``); TAB is kept.  Idempotent.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected str, got {type(text).__name__}")
    if _SURROGATE_RE.search(text):
        # Join valid surrogate pairs, replace the lone ones with U+FFFD.
        text = text.encode("utf-16-le", "surrogatepass").decode(
            "utf-16-le", "replace")
    text = text.replace("\r\n", "\n").translate(_NEWLINE_TRANS)
    text = _REMOVE_RE.sub("", text)
    if "\u200c" in text or "\u200d" in text:
        text = _BAD_JOINER_RE.sub("", text)
    return text


# --------------------------------------------------------------------------
# truncation
# --------------------------------------------------------------------------

def _is_extender(ch: str) -> bool:
    """True for characters that must stay attached to the preceding one."""
    return (ch in _JOINERS
            or unicodedata.combining(ch) != 0
            or unicodedata.category(ch) in ("Mn", "Me", "Mc")
            or "\ufe00" <= ch <= "\ufe0f"
            or "\U000e0100" <= ch <= "\U000e01ef"
            or "\U0001f3fb" <= ch <= "\U0001f3ff")


def truncate(text: str, max_chars: int | None) -> str:
    """Cut ``text`` to at most ``max_chars`` code points, ellipsis included.

    Operates on already-normalised plain text (no markup), backs off over
    combining marks / joiners / variation selectors so that a grapheme is
    not split (bounded back-off: at most 32 code points).
    """
    if max_chars is None or len(text) <= max_chars:
        return text
    if max_chars < 1:
        return ""
    keep = max_chars - 1
    cut = keep
    floor = max(0, keep - 32)
    while cut > floor and (_is_extender(text[cut])
                           or text[cut - 1] in _JOINERS):
        cut -= 1
    if cut == floor and floor > 0:
        cut = keep  # pathological run of marks: fall back to a hard cut
    head = text[:cut].rstrip()
    return head + ELLIPSIS


def _prepare(text: str, max_chars: int | None, *, inline: bool) -> str:
    text = strip_invisible(text)
    if inline:
        text = _NEWLINES_RE.sub(" ", text)
    return truncate(text, max_chars)


_NEWLINES_RE = re.compile("\n+")

# --------------------------------------------------------------------------
# wikitext
# --------------------------------------------------------------------------

_WIKI_TRANS = {
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
    ord("["): "&#91;",
    ord("]"): "&#93;",
    ord("{"): "&#123;",
    ord("}"): "&#125;",
    ord("|"): "&#124;",
    ord("'"): "&#39;",
    ord("~"): "&#126;",
    ord(":"): "&#58;",
}
_WIKI_RUN_RE = re.compile(r"_{2,}|!{2,}")
_WIKI_MAGIC_RE = re.compile(
    r"\b(ISBN|RFC|PMID)([\s\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000])",
    re.IGNORECASE,
)
_WIKI_LINE_START = frozenset("*#;=-! \t")


def _entity(ch: str) -> str:
    return f"&#{ord(ch)};"


def _wiki_run(m: re.Match[str]) -> str:
    return _entity(m.group()[0]) * len(m.group())


def _wiki_line(line: str) -> str:
    """Make one line (no ``\\n``) inert; safe also at the start of a line."""
    if not line:
        return line
    out = line.translate(_WIKI_TRANS)
    if "__" in out or "!!" in out:
        out = _WIKI_RUN_RE.sub(_wiki_run, out)
    if out[-1] == "_":
        out = out[:-1] + "&#95;"
    if out[0] == "_":
        out = "&#95;" + out[1:]
    if "ISBN" in out.upper() or "RFC" in out.upper() or "PMID" in out.upper():
        out = _WIKI_MAGIC_RE.sub(
            lambda m: m.group(1) + _entity(m.group(2)), out)
    if out[0] in _WIKI_LINE_START:
        out = _entity(out[0]) + out[1:]
    return out


def wikitext_inline(text: str, *, max_chars: int | None = None) -> str:
    """Escape ``text`` for a wikitext paragraph, list item or table cell.

    Newline runs become one space.  The result is safe anywhere inline and
    also at the start of a line.  ``html.unescape(result)`` equals the
    normalised input.
    """
    return _wiki_line(_prepare(text, max_chars, inline=True))


def wikitext_block(text: str, *, max_chars: int | None = None) -> str:
    """Escape multi-line ``text`` keeping its lines and paragraphs.

    Every line is made safe as by :func:`wikitext_inline` (including the
    line-start rules); whitespace-only lines become empty so blank lines
    still separate paragraphs.  Lines are joined with ``\\n`` (a single
    newline renders as a space in MediaWiki, as it did in the source).
    """
    text = _prepare(text, max_chars, inline=False)
    lines = text.split("\n")
    return "\n".join("" if not ln.strip() else _wiki_line(ln) for ln in lines)


# --------------------------------------------------------------------------
# Remarkup
# --------------------------------------------------------------------------

_B = BREAKER
_RM_SUBST_TRANS = {ord("`"): REMARKUP_SUBSTITUTES["`"]}
# '#' kept only before whitespace or . ! , : ; (never a hashtag, never '##').
_RM_HASH_RE = re.compile(r"#(?![\s.!,:;])")
_RM_LETTER_DIGIT_RE = re.compile(r"(?<=[A-Za-z])(?=[0-9])")
_RM_CALLSIGN_RE = re.compile(r"(?<![A-Za-z0-9_])r(?=[A-Z])")
_RM_PHID_RE = re.compile(r"PHID(?=-)")
_RM_HEX_RE = re.compile(r"[a-f0-9]{7,}")
_RM_PAIR_CHARS = "*/~_!%=|"
_RM_AFTER_CHARS = "@{[](:<"
_ASCII_PUNCT = frozenset(chr(c) for c in range(0x21, 0x7F)
                         if not chr(c).isalnum())


def _rm_hex_chunks(m: re.Match[str]) -> str:
    s = m.group()
    return _B.join(s[i:i + 6] for i in range(0, len(s), 6))


def _rm_line(line: str) -> str:
    """Make one line (no ``\\n``) inert for Remarkup, also at line start."""
    if not line:
        return line
    out = line.translate(_RM_SUBST_TRANS)
    if "#" in out:
        out = _RM_HASH_RE.sub(REMARKUP_SUBSTITUTES["#"], out)
    out = _RM_LETTER_DIGIT_RE.sub(_B, out)
    out = _RM_CALLSIGN_RE.sub("r" + _B, out)
    if "PHID" in out:
        out = _RM_PHID_RE.sub("PHID" + _B, out)
    out = _RM_HEX_RE.sub(_rm_hex_chunks, out)
    for ch in _RM_PAIR_CHARS:
        pair = ch + ch
        if pair in out:
            # Two non-overlapping passes break every adjacent pair.
            out = out.replace(pair, ch + _B + ch).replace(pair, ch + _B + ch)
    for ch in _RM_AFTER_CHARS:
        if ch in out:
            out = out.replace(ch, ch + _B)
    out = _B + out
    if out[-1] in _ASCII_PUNCT:
        out += _B
    return out


def remarkup_inline(text: str, *, max_chars: int | None = None) -> str:
    """Escape ``text`` for inline use in a Phabricator comment.

    Newline runs become one space; safe also at the start of a line.
    Removing every :data:`BREAKER` and mapping :data:`REMARKUP_SUBSTITUTES`
    back gives the normalised input.
    """
    return _rm_line(_prepare(text, max_chars, inline=True))


def remarkup_quote(text: str, *, max_chars: int | None = None) -> str:
    """Render ``text`` as a Remarkup quote block with inert content.

    Each line becomes ``"> " + line`` (whitespace-only lines become ``">"``).
    Follow the result with a blank line before further text.
    """
    text = _prepare(text, max_chars, inline=False)
    lines = text.split("\n")
    return "\n".join(">" if not ln.strip() else "> " + _rm_line(ln)
                     for ln in lines)


# --------------------------------------------------------------------------
# page titles -> wikilinks and URLs
# --------------------------------------------------------------------------

# The rules (what MediaWiki refuses in a title, how it normalises one) are in
# bot/domain/titles.py, shared with the config check; here they become markup.

# Encoded in a link target as numeric entities (MediaWiki decodes them before it
# reads the title): nothing there can then start a signature, quote, table
# separator, URL or magic word.
_TARGET_TRANS = {ord(c): f"&#{ord(c)};" for c in "&'~!:=*;\"`$"}


def wikilink(title: str, text: str | None = None) -> str:
    """`[[:Title|text]]`: exactly one link to exactly `title`, whatever it holds.

    The leading colon makes a category, file or interwiki title a plain link;
    the label is escaped by :func:`wikitext_inline` (the title when `text` is None).
    Raises :class:`UnsafeTitle` for a title MediaWiki would refuse.
    """
    name = normal_title(title)
    label = wikitext_inline(name if text is None else text) or wikitext_inline(name)
    if not label:
        raise UnsafeTitle(f"page title {name[:80]!r} has no visible character")
    head, colon, rest = name.partition(":")   # the namespace colon stays readable
    return f"[[:{head.translate(_TARGET_TRANS)}{colon}{rest.translate(_TARGET_TRANS)}|{label}]]"


def title_url(index_url: str, title: str) -> str:
    """The reader's URL of `title` on the wiki whose `index.php` is `index_url` (trusted, from the config).

    Every character but letters, digits and ``_ . - / :`` is percent-encoded,
    so the URL is also safe inside ``[url text]`` and Remarkup ``[[ url | text ]]``.
    Raises :class:`UnsafeTitle` for a title MediaWiki would refuse.
    """
    name = normal_title(title).replace(" ", "_")
    return index_url + "?title=" + urllib.parse.quote(name, safe="/:").replace("~", "%7E")


# --------------------------------------------------------------------------
# Remarkup, sparing: breakers only where a rule would otherwise fire
# --------------------------------------------------------------------------

# remarkup_inline/remarkup_quote above break every letter-digit pair and every line start; that is safe
# but leaves invisible U+2060 in names people copy and search ("**\u2060Eva Dvořáková** on \u2060cs").
# The functions below insert the breaker only at a spot where a Remarkup rule could match, and keep
# the same look-alike substitutions: a name or label with nothing Remarkup reads is returned as is.

# T123, D4, F7, and (as the test checker generalises) any word of ASCII letters then a number.
_RS_OBJECT_RE = re.compile(r"(?<![0-9A-Za-z_])([A-Za-z]+)(?=[1-9][0-9]*(?![0-9A-Za-z_]))")
_RS_HEX_RE = re.compile(r"(?<![0-9A-Za-z_])[a-f0-9]{7,}(?![0-9A-Za-z_])")  # a bare commit hash
# After `@` `{` `<` before a non-space; `[[`, `](`, `((`; after a `:` that starts a URL's `//`, follows
# `mailto`/`tel`, or (`:emoji:`) follows no word character. `Wikipedie:Growth` and `12:30` keep theirs.
_RS_AFTER_RE = re.compile(r"(?<=[@{<])(?=\S)|(?<=\[)(?=\[)|(?<=\])(?=\()|(?<=\()(?=\()"
                          r"|(?<=:)(?=/)|(?i:(?<=mailto:)|(?<=tel:))|(?<![0-9A-Za-z_]:)(?<=:)(?=\S)")
# Edge characters that could pair with the text around the escaped piece (the template's `**`, `[[`, `((`).
# At the start also what would make the template's leading `**` a list item (`**# x`, `** x`, `**- x`).
_RS_START_EDGE = frozenset("*/~_!%=|[({<#->` \t")
_RS_END_EDGE = frozenset("*/~_!%=|[({<@:")
# ... and what a block rule would read if a careless template put the piece at the start of a line.
_RS_INLINE_START_RISKY = re.compile(r"[0-9]+[.)]|(?:NOTE|WARNING|IMPORTANT)\b|\(\s*(?:NOTE|WARNING|IMPORTANT)",
                                    re.IGNORECASE)
# A line whose start a block rule could read: not a letter, a whole-line word (image macro), a notice.
_RS_LINE_PLAIN = re.compile(r"^[^\W\d_]")
_RS_LINE_RISKY = re.compile(r"^\s*[a-zA-Z0-9:_-]+\s*$|^(?:NOTE|WARNING|IMPORTANT)\b", re.IGNORECASE)


def _rs_line(line: str, *, line_start: bool) -> str:
    if not line:
        return line
    out = line.translate(_RM_SUBST_TRANS)
    if "#" in out:
        out = _RM_HASH_RE.sub(REMARKUP_SUBSTITUTES["#"], out)
    # Hash chunks and object references each start new words (`…b\u2060eef123`, `T\u20601234567`) that
    # may need a breaker of the other kind: repeat until nothing changes (each pass only adds breakers).
    while True:
        before = out
        out = _RS_HEX_RE.sub(_rm_hex_chunks, out)
        out = _RS_OBJECT_RE.sub(lambda m: m.group(1) + _B, out)
        if out == before:
            break
    out = _RM_CALLSIGN_RE.sub("r" + _B, out)
    if "PHID" in out:
        out = _RM_PHID_RE.sub("PHID" + _B, out)
    for ch in _RM_PAIR_CHARS:
        pair = ch + ch
        if pair in out:
            out = out.replace(pair, ch + _B + ch).replace(pair, ch + _B + ch)
    out = _RS_AFTER_RE.sub(_B, out)
    if line_start:
        if not _RS_LINE_PLAIN.match(out) or _RS_LINE_RISKY.match(out):
            out = _B + out
    elif out[0] in _RS_START_EDGE or _RS_INLINE_START_RISKY.match(out):
        out = _B + out
    if out[-1] in _RS_END_EDGE:
        out += _B
    return out


def remarkup_sparing_inline(text: str, *, max_chars: int | None = None) -> str:
    """Like :func:`remarkup_inline` for text placed after other text on a line (a name, a label,
    a heading), but with a breaker only where Remarkup could read something: ``Eva Dvořáková``
    stays ``Eva Dvořáková``, ``T123`` becomes ``T\\u2060123``. Not for the start of a line."""
    return _rs_line(_prepare(text, max_chars, inline=True), line_start=False)


def remarkup_sparing_quote(text: str, *, max_chars: int | None = None) -> str:
    """Like :func:`remarkup_quote`, with a line-start breaker only on lines a block rule could read
    (not starting with a letter, a single word, a NOTE:) and the sparing inline breakers."""
    text = _prepare(text, max_chars, inline=False)
    return "\n".join(">" if not ln.strip() else "> " + _rs_line(ln, line_start=True) for ln in text.split("\n"))
