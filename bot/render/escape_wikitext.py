"""Untrusted text made inert in MediaWiki wikitext.

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
"""
from __future__ import annotations

import re

from bot.render.escape_text import prepare

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
    return _wiki_line(prepare(text, max_chars, inline=True))


def wikitext_block(text: str, *, max_chars: int | None = None) -> str:
    """Escape multi-line ``text`` keeping its lines and paragraphs.

    Every line is made safe as by :func:`wikitext_inline` (including the
    line-start rules); whitespace-only lines become empty so blank lines
    still separate paragraphs.  Lines are joined with ``\\n`` (a single
    newline renders as a space in MediaWiki, as it did in the source).
    """
    text = prepare(text, max_chars, inline=False)
    lines = text.split("\n")
    return "\n".join("" if not ln.strip() else _wiki_line(ln) for ln in lines)
