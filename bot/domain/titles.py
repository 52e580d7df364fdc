"""Page titles as MediaWiki sees them: which it refuses, and how it normalises the rest.

Pure and standard library only, so both the config check (bot/settings.py) and the
markup builders (bot/render/escape.py `wikilink`, `title_url`) use the same rules:
a title that passes here is one MediaWiki keeps as written (after normalising spaces
and underscores), holds no markup character, no signature, no control character,
no lone surrogate, and, once normalised, no `__` (behaviour switches).
"""
from __future__ import annotations

import re
import unicodedata

_SURROGATE_RE = re.compile("[\ud800-\udfff]")


class UnsafeTitle(ValueError):
    """A page title MediaWiki would refuse, so it cannot be made into a link or URL."""


#: Longest title MediaWiki stores (bytes of UTF-8, namespace prefix not counted).
MAX_TITLE_BYTES = 255
# Characters MediaWiki never allows in a title ($wgLegalTitleChars), control
# characters (newlines included), U+FFFD, a URL escape (%41), an HTML entity
# (MediaWiki decodes it, so the title as written is not the title), and a
# signature (~~~).
_TITLE_ILLEGAL_RE = re.compile(
    r"[#<>\[\]|{}\x00-\x1f\x7f-\x9f\ufffd]|~~~|%[0-9A-Fa-f]{2}|&(?:#[0-9]+|#x[0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);")
# What MediaWiki turns into one underscore (shown as a space) in a title.
_TITLE_SPACE_RE = re.compile("[ _\u00a0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
# Direction marks MediaWiki strips from titles.
_TITLE_STRIP = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e"))
_TITLE_RELATIVE_RE = re.compile(r"\A\.{1,2}\Z|\A\.{1,2}/|/\.{1,2}/|/\.{1,2}\Z")
# Default-ignorable letters (Hangul fillers) that render as nothing.
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0")


def _visible(ch: str) -> bool:
    return unicodedata.category(ch)[0] not in "CZM" and ch not in _FILLERS


def title_problem(title: object) -> str | None:
    """Why `title` is not a page title MediaWiki would keep as written, or None."""
    if not isinstance(title, str):
        return f"must be text, got {type(title).__name__}"
    if _SURROGATE_RE.search(title):
        return "holds a lone UTF-16 surrogate (not valid Unicode)"
    title = unicodedata.normalize("NFC", title)
    m = _TITLE_ILLEGAL_RE.search(title)
    if m:
        found = m.group()
        what = repr(found) if found.isprintable() else f"control character U+{ord(found[0]):04X}"
        return f"holds {what}, which a page title cannot contain (no # < > [ ] | {{ }}, control characters, ~~~)"
    name = _title_name(title)
    if not name:
        return "is empty"
    if not any(_visible(ch) for ch in name):
        return "has no visible character"
    if name.startswith(":"):
        return "must not start with ':'"
    if _TITLE_RELATIVE_RE.search(name):
        return "must not be a relative path (., .., ./ or ../)"
    if len(name.split(":", 1)[-1].encode("utf-8")) > MAX_TITLE_BYTES:
        return f"is longer than {MAX_TITLE_BYTES} bytes"
    return None


def normal_title(title: str) -> str:
    """`title` as MediaWiki normalises it (spaces, not underscores; one space per run;
    no direction marks); raises :class:`UnsafeTitle` for a title it would refuse.

    After this, no ``__`` (behaviour switch), ``~~~`` or markup character is left.
    """
    problem = title_problem(title)
    if problem:
        shown = title.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")[:80] \
            if isinstance(title, str) else repr(title)
        raise UnsafeTitle(f"page title {shown!r} {problem}")
    return _title_name(unicodedata.normalize("NFC", title))


def _title_name(title: str) -> str:
    return _TITLE_SPACE_RE.sub(" ", title.translate(_TITLE_STRIP)).strip(" ")
