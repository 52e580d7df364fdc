"""Untrusted text stays text.

Task titles, descriptions, usernames and wiki comments are user input.  The
functions here make such input *inert* before it is placed into MediaWiki
wikitext or Phabricator Remarkup, while keeping it readable for humans.
Standard library only (and the title rules of bot/domain/titles.py); every function is pure and runs in linear time (only
``str.translate`` and regular expressions without nested quantifiers are used,
so a 10 MB input is handled in well under a second).

Each markup has its own module, all re-exported here: `escape_text.py` (invisible
characters and the cut, shared), `escape_wikitext.py` (MediaWiki wikitext),
`escape_remarkup.py` (Phabricator Remarkup, strict and sparing) and `escape_links.py`
(page titles as wikilinks and URLs). Each module's docstring gives its rules.
"""
from __future__ import annotations

from bot.domain.titles import MAX_TITLE_BYTES, UnsafeTitle, normal_title, title_problem  # noqa: F401
from bot.render.escape_links import title_url, wikilink
from bot.render.escape_remarkup import (BREAKER, REMARKUP_SUBSTITUTES, remarkup_inline, remarkup_quote,
                                        remarkup_sparing_inline, remarkup_sparing_quote)
from bot.render.escape_text import ELLIPSIS, strip_invisible, truncate
from bot.render.escape_wikitext import wikitext_block, wikitext_inline

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
