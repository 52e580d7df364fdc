"""Untrusted text made inert in Phabricator Remarkup.

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

from bot.render.escape_text import prepare

#: Invisible character inserted into Remarkup to break rule triggers.
BREAKER = "\u2060"
#: Look-alike substitutions made by the Remarkup escaper (original -> shown).
REMARKUP_SUBSTITUTES = {"`": "\u02cb", "#": "\uff03"}

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
    return _rm_line(prepare(text, max_chars, inline=True))


def remarkup_quote(text: str, *, max_chars: int | None = None) -> str:
    """Render ``text`` as a Remarkup quote block with inert content.

    Each line becomes ``"> " + line`` (whitespace-only lines become ``">"``).
    Follow the result with a blank line before further text.
    """
    text = prepare(text, max_chars, inline=False)
    lines = text.split("\n")
    return "\n".join(">" if not ln.strip() else "> " + _rm_line(ln)
                     for ln in lines)


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
    return _rs_line(prepare(text, max_chars, inline=True), line_start=False)


def remarkup_sparing_quote(text: str, *, max_chars: int | None = None) -> str:
    """Like :func:`remarkup_quote`, with a line-start breaker only on lines a block rule could read
    (not starting with a letter, a single word, a NOTE:) and the sparing inline breakers."""
    text = prepare(text, max_chars, inline=False)
    return "\n".join(">" if not ln.strip() else "> " + _rs_line(ln, line_start=True) for ln in text.split("\n"))
