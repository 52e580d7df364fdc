"""Task mentions in wikitext: `T123`, `[[phab:T123]]`, `{{Phabricator|T123}}`.

Pure: given the text before and after an edit, which tasks did the edit mention
that were not mentioned before. Mentions inside `<nowiki>`, `<pre>`, `<code>`,
`<syntaxhighlight>` and HTML comments do not count (they are examples, not
references), nor do T-numbers glued to other words (`AT123`, `T123x`, URLs paths).
"""
from __future__ import annotations

import re

# `T123` as a word, `[[phab:T123…]]` / `[[phabricator:T123…]]`, `{{Phabricator|T123}}` / `{{phab|123}}`.
_BARE_RE = re.compile(r"(?<![\w/#=&?.-])T([1-9]\d{0,8})(?![\w-])")
_LINK_RE = re.compile(r"\[\[\s*:?\s*(?:phab|phabricator)\s*:\s*T?([1-9]\d{0,8})\b", re.IGNORECASE)
_TEMPLATE_RE = re.compile(r"\{\{\s*(?:[Tt]emplate\s*:\s*|Šablona\s*:\s*|틀\s*:\s*)?"
                          r"(?:[Pp]habricator|[Pp]hab|[Pp]habT|[Tt]ask)\s*\|\s*T?([1-9]\d{0,8})\s*[|}]")
_QUIET_RE = re.compile(r"<!--.*?(?:-->|$)|<(nowiki|pre|code|syntaxhighlight|source|math)\b[^>]*>.*?(?:</\1\s*>|$)",
                       re.IGNORECASE | re.DOTALL)
# External links and URLs: a T-number in a URL path is not a mention.
_URL_RE = re.compile(r"https?://[^\s\]|}<]+", re.IGNORECASE)


def task_mentions(text: str) -> set[int]:
    """Task numbers the wikitext mentions."""
    text = _QUIET_RE.sub(" ", text)
    found = {int(m.group(1)) for m in _LINK_RE.finditer(text)}
    found |= {int(m.group(1)) for m in _TEMPLATE_RE.finditer(text)}
    text = _URL_RE.sub(" ", text)
    found |= {int(m.group(1)) for m in _BARE_RE.finditer(text)}
    return found


def added_mentions(before: str, after: str) -> set[int]:
    """Tasks mentioned after an edit and not before it."""
    return task_mentions(after) - task_mentions(before)


def mention_key(wiki: str, title: str, task_id: int) -> str:
    """One comment per (wiki, page, task), ever: re-saves and revert/re-add map to the same key."""
    title = " ".join(title.replace("_", " ").split())
    return f"mention:{wiki}:{title[:1].upper() + title[1:]}:T{int(task_id)}"
