"""Replies under talk-page comments (the feedback job's "Forwarded to T123"): where a reply goes in
the wikitext, and the keys and markers that make each reply happen exactly once.

Pure: the job reads the page and renders the reply's words, these functions place it. The markers'
hashes (`marker_hash`) are also those of the job's digests on tasks and pages.
"""
from __future__ import annotations

import hashlib
import re

from bot.domain.comments import HEADING_RE, Comment, find_signatures, lines_with_headings, parse_comments, plain_heading
from bot.domain.wiki_facts import WikiFacts

_LETTERS = "ghjkmnpqrstvwxyz"   # no hex digits: a marker never looks like a commit hash


def normal_title(title: str) -> str:
    title = " ".join(title.replace("_", " ").split())
    return title[:1].upper() + title[1:]


def marker_hash(key: str) -> str:
    digest = hashlib.sha256(key.encode()).digest()
    return "".join(_LETTERS[b % len(_LETTERS)] for b in digest[:14])


def reply_key(item: dict) -> str:
    """One reply per comment and task: an edited comment forwarded again gets no second reply."""
    return f"{item['wiki']}:{normal_title(item['title'])}:{item['comment']['id']}:T{int(item['task'])}"


def reply_post_key(item: dict) -> str:
    return "fb-reply:" + reply_key(item)


def reply_marker(item: dict) -> str:
    return f"ambassador-bot:key={marker_hash('reply:' + reply_key(item))}"


_REPLY_MARKERS = re.compile(r"ambassador-bot:key=([a-z,]+)")


def reply_hashes(text: str) -> set[str]:
    """Every reply marker hash on a page (a thread's reply lists several, comma-separated)."""
    return {h for m in _REPLY_MARKERS.finditer(text) for h in m.group(1).split(",") if h}


_INDENT_CHARS = re.compile(r"^[:*#]*")


def _comment_line(text: str, comment: Comment, facts: WikiFacts):
    """(line number, indentation prefix) of `comment`'s signature line, or None when it is gone."""
    signed, _ = parse_comments(text, facts)
    target = next((c for c in signed if c.id == comment.id), None)
    if target is None:
        return None
    same = (target.author, target.timestamp, target.section)
    twins = [c for c in signed if (c.author, c.timestamp, c.section) == same]
    wanted = next(i for i, c in enumerate(twins) if c is target)
    section, seen = "", 0
    for n, (line, heading) in enumerate(lines_with_headings(text)):
        if heading:
            section = plain_heading(heading.group(2))
            continue
        if section != target.section:
            continue
        prefix = _INDENT_CHARS.match(line).group()
        for sig in find_signatures(line[len(prefix):], facts):
            if (sig.author, sig.timestamp) == (target.author, target.timestamp):
                if seen == wanted:
                    return n, prefix
                seen += 1
    return None


def insert_reply(text: str, comment: Comment, reply: str, *, facts: WikiFacts) -> str | None:
    """`text` with `reply` on a new line under `comment`, or None when the comment is no longer there.

    The comment is found the way `parse_comments` numbers it (same author, time and
    section, in page order), so a repeated signature still gets the right line. The
    reply goes after the comment's signature line and after the replies already
    indented under it -- where DiscussionTools puts a reply -- with the comment's
    own indentation plus one `:`.
    """
    found = _comment_line(text, comment, facts)
    if found is None:
        return None
    lines = text.split("\n")
    n, prefix = found
    end = n + 1
    # Replies already under the comment stay above ours, even past a blank line between them.
    for later in range(n + 1, len(lines)):
        line = lines[later]
        if not line.strip():
            continue
        if HEADING_RE.match(line) or len(_INDENT_CHARS.match(line).group()) <= len(prefix):
            break
        end = later + 1
    return "\n".join(lines[:end] + [prefix + ":" + reply] + lines[end:])


def insert_thread_reply(text: str, comments: list[Comment], reply: str, *, facts: WikiFacts,
                        bot_user: str = "") -> str | None:
    """`text` with one `reply` at the end of the thread (section) that holds `comments`, or None when
    none of them is on the page any more.

    The reply goes after the thread's last line -- after every comment and reply in it, also one
    written after an `{{od}}` outdent -- one level deeper than the thread's last signed comment (as
    a Wikipedian answering the latest comment would indent), or at the level of the bot's own reply
    when that is the last one.
    """
    anchor = next((f for f in (_comment_line(text, c, facts) for c in comments) if f), None)
    if anchor is None:
        return None
    lines = text.split("\n")
    headings = [m is not None for _, m in lines_with_headings(text)]
    end = next((i for i in range(anchor[0] + 1, len(lines)) if headings[i]), len(lines))
    last = max(i for i in range(anchor[0], end) if lines[i].strip())
    prefix = anchor[1] + ":"
    for i in range(last, anchor[0] - 1, -1):
        line_prefix = _INDENT_CHARS.match(lines[i]).group()
        sigs = find_signatures(lines[i][len(line_prefix):], facts)
        if sigs:
            own = bot_user and sigs[-1].author == normal_title(bot_user)
            prefix = line_prefix if own else line_prefix + ":"
            break
    return "\n".join(lines[:last + 1] + [prefix + reply] + lines[last + 1:])
