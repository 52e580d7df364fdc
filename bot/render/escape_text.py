"""Plain-text preparation shared by every escaper: invisible characters out, then the cut.

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
"""
from __future__ import annotations

import re
import unicodedata

#: Appended when ``max_chars`` cuts the text.
ELLIPSIS = "\u2026"

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


def prepare(text: str, max_chars: int | None, *, inline: bool) -> str:
    """Normalised, (for inline text) on one line, then cut: what every escaper starts from."""
    text = strip_invisible(text)
    if inline:
        text = _NEWLINES_RE.sub(" ", text)
    return truncate(text, max_chars)


_NEWLINES_RE = re.compile("\n+")
