"""Page titles made into wikilinks and URLs: exactly one link to exactly that title."""
from __future__ import annotations

import urllib.parse

from bot.domain.titles import UnsafeTitle, normal_title
from bot.render.escape_wikitext import wikitext_inline

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
