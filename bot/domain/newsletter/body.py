"""A draft's publishable body: its text without the bot's own comments, and the hash that says
whether two revisions hold the same body."""
from __future__ import annotations

import hashlib
import re


# Tags whose content MediaWiki does not parse: a `<!--` inside them is text, not a comment.
_UNPARSED_TAGS = ("nowiki", "pre", "syntaxhighlight", "source", "math", "chem", "ce", "score", "hiero",
                  "timeline", "graph", "templatedata", "mapframe", "maplink")
_TOKEN_RE = re.compile(r"<!--|<(" + "|".join(_UNPARSED_TAGS) + r")(?=[\s/>])[^>]*?(/?)>", re.IGNORECASE)
# The bot's own comments never hold `<` or `>`; one that does could swallow a closing tag.
_BOT_COMMENT_RE = re.compile(r"<!--\s*ambassador-bot:[^<>]*-->\Z")


def _comments(text: str):
    """(start, end) of each comment, found left to right as MediaWiki's preprocessor does."""
    pos = 0
    while True:
        m = _TOKEN_RE.search(text, pos)
        if m is None:
            return
        if m.group() == "<!--":
            close = text.find("-->", m.end())
            end = len(text) if close < 0 else close + 3
            yield m.start(), end
            pos = end
        elif m.group(2):                      # <nowiki/>
            pos = m.end()
        else:
            close = re.compile(rf"</{m.group(1)}\s*>", re.IGNORECASE).search(text, m.end())
            pos = close.end() if close else m.end()   # an unclosed tag is text; parsing goes on


def draft_body(text: str) -> str:
    """The publishable text: the draft without the bot's own comments (markers, help).

    Comments are found as MediaWiki finds them (from `<!--` to the first `-->`, never
    inside <nowiki>, <pre> and the like), so bot-looking text inside a person's comment
    or a <nowiki> stays. A bot comment on a line of its own goes with its line; one
    inside a line becomes an empty comment, because deleting it would join what it
    separates (`~~<!-- … -->~~` would turn into a signature, `{<!-- … -->{x}}` into a
    template) in text nobody approved.
    """
    out, pos = [], 0
    for start, end in _comments(text):
        if not _BOT_COMMENT_RE.match(text[start:end]):
            continue
        own_line = (start == 0 or text[start - 1] == "\n") and (end == len(text) or text[end] == "\n")
        out.append(text[pos:start])
        if own_line:
            end = min(end + 1, len(text))
        else:
            out.append("<!-- -->")
        pos = end
    out.append(text[pos:])
    return "".join(out).strip() + "\n"


def body_hash(text: str) -> str:
    return hashlib.sha256(draft_body(text).encode()).hexdigest()[:20]
