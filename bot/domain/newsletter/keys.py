"""Idempotency keys of an edition's deliveries, comments and pages, and the markers that carry them
on a page (so a delivery that landed before a crash is found there)."""
from __future__ import annotations

import hashlib
import re

from bot.domain.newsletter.names import normal_title


def title_digest(title: str) -> str:
    return hashlib.sha1(normal_title(title).encode()).hexdigest()[:16]


def delivery_key(edition: str, code: str, title: str) -> str:
    return f"nl:{edition}:{code}:{title_digest(title)}"


def comment_key(edition: str, code: str, task_id: int) -> str:
    return f"nlc:{edition}:{code}:T{int(task_id)}"


def page_key(edition: str, code: str) -> str:
    return f"nlp:{edition}:{code}"


def key_marker(key: str) -> str:
    return f"<!-- ambassador-bot:key={key} -->"


def has_key_marker(text: str, key: str) -> bool:
    return re.search(r"<!--\s*ambassador-bot:key=" + re.escape(key) + r"\s*-->", text) is not None


def has_edition_marker(text: str, edition: str, code: str) -> bool:
    """Whether any delivery of this edition on this wiki already landed on the page.

    The key is built from the target's title, which changes when a talk page is
    moved or its user renamed; the edition and wiki do not, so a page that already
    carries a copy under its old name is not delivered to again.
    """
    prefix = f"nl:{edition}:{code}:"
    return re.search(r"<!--\s*ambassador-bot:key=" + re.escape(prefix) + r"[0-9a-f]+\s*-->", text) is not None
