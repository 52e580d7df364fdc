"""A comment (what one person signed) and its id, DiscussionTools' scheme.

The id is `c-<author>-<YYYYMMDDHHMMSS>-<heading or parent>`, with `-1`, `-2`… for repeats,
so that ids from the wikitext parser and from `discussiontoolspageinfo` are the same and
survive later edits to the page.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.comments.text import text_hash


TASK_RE = re.compile(r"(?<![\w/])T(\d{1,9})(?!\w)")


@dataclass(frozen=True)
class Comment:
    id: str
    author: str
    timestamp: str            # UTC ISO
    section: str              # heading text ("" before the first heading)
    text: str                 # plain text, signature removed, whitespace collapsed
    level: int = 1            # 1 = top level in its section, 2 = reply, …
    parent: str | None = None  # id of the comment it replies to
    signed: bool = True
    section_task: int | None = None   # T-number in the heading (or an enclosing heading)
    by_template: bool = False  # author (and time) from an {{Unsigned}}-style template, not a signature

    @property
    def key(self) -> tuple[str, str, str]:
        return self.author, self.timestamp, text_hash(self.text)

    def to_json(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict) -> "Comment":
        return cls(**data)


def stamp_id(stamp: str) -> str:
    return re.sub(r"\D", "", stamp)[:14]


def name_id(text: str) -> str:
    return "_".join(text.split())


def comment_id(author: str, stamp: str, parent_name: str) -> str:
    """DiscussionTools' id scheme (before the `-1`, `-2` suffix for repeats)."""
    return f"c-{name_id(author)}-{stamp_id(stamp)}-{parent_name}"


_ID_AUTHOR = re.compile(r"^c-(.+?)-(\d{14})-")


def author_from_id(comment_id: str | None) -> str:
    """The author a DiscussionTools-style comment id names (`c-<author>-<time>-…`), "" if none."""
    m = _ID_AUTHOR.match(comment_id or "")
    return m.group(1).replace("_", " ") if m else ""
