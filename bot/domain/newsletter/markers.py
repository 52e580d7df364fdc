"""The bot's comments in a draft: the status marker a human switches to `ready` (with its options
`send=<time>` and `force`), and the help comment under it."""
from __future__ import annotations

import re
from dataclasses import dataclass


STATUS_MARKER = "<!-- ambassador-bot:newsletter status={status} -->"
# `status=ready`, optionally followed by `send=<time>` and/or `force` (see marker_options).
_STATUS_RE = re.compile(r"<!--\s*ambassador-bot:newsletter\s+status\s*=\s*([A-Za-z]+)((?:\s[^<>]*?)?)\s*-->")
READY, DRAFT = "ready", "draft"
_FORCE_RE = re.compile(r"(?<!\S)force(?!\S)", re.IGNORECASE)
_SEND_RE = re.compile(r"(?<!\S)send\s*=\s*(.*)$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class MarkerOptions:
    force: bool = False        # the approver publishes an untouched or empty edition on purpose
    send: str | None = None    # the send time as written, in the wiki's time zone
    unknown: str = ""          # anything else: the marker then approves nothing


def _options(extra: str) -> MarkerOptions:
    force = bool(_FORCE_RE.search(extra))
    rest = _FORCE_RE.sub(" ", extra)
    send = None
    m = _SEND_RE.search(rest)
    if m:
        send = " ".join(m.group(1).split()) or None
        rest = rest[:m.start()]
    return MarkerOptions(force, send, " ".join(rest.split()))


def marker_options(text: str) -> MarkerOptions:
    """The options after the status word: `status=ready send=2026-12-14 09:00 force`."""
    found = _STATUS_RE.findall(text)
    return _options(found[0][1]) if len(found) == 1 else MarkerOptions()


def draft_status(text: str) -> str | None:
    """`draft`, `ready`, another word a human wrote, or None without exactly one marker.

    An unknown option after the word (`status=ready soon`) makes it another word: no approval.
    """
    found = _STATUS_RE.findall(text)
    if len(found) != 1:
        return None
    word, extra = found[0]
    unknown = _options(extra).unknown
    return f"{word.lower()} {unknown}" if unknown else word.lower()


def status_marker(status: str, options: MarkerOptions = MarkerOptions()) -> str:
    extra = (f" send={options.send}" if options.send else "") + (" force" if options.force else "")
    return f"<!-- ambassador-bot:newsletter status={status}{extra} -->"


def set_status(text: str, status: str) -> str:
    """The marker set to `status`; a send time stays, `force` goes when it is set back to draft."""
    options = marker_options(text)
    if status != READY:
        options = MarkerOptions(False, options.send)
    marker = status_marker(status, options)
    return _STATUS_RE.sub(lambda _m: marker, text, count=1)


def with_force(text: str) -> str:
    """The marker with `force` added (the operator's `approve --force`, said on the wiki too)."""
    found = _STATUS_RE.search(text)
    if found is None:
        return text
    options = _options(found.group(2))
    marker = status_marker(found.group(1).lower(), MarkerOptions(True, options.send))
    return text[:found.start()] + marker + text[found.end():]


_HELP_RE = re.compile(r"<!--\s*ambassador-bot:help\b[^<>]*?-->")


def set_help(text: str, help_text: str) -> str:
    """The draft with its help comment replaced (or added under the marker when missing)."""
    comment = "<!-- ambassador-bot:help " + safe_comment(help_text) + " -->"
    if _HELP_RE.search(text):
        return _HELP_RE.sub(lambda _m: comment, text, count=1)
    m = _STATUS_RE.search(text)
    if m is None:
        return text
    return text[:m.end()] + "\n" + comment + text[m.end():]


def help_of(text: str) -> str | None:
    m = _HELP_RE.search(text)
    return m.group(0) if m else None


def safe_comment(text: str) -> str:
    """Text that can sit inside one of the bot's comments: no `<`, `>`, `--`, one line."""
    return " ".join(text.replace("<", "‹").replace(">", "›").replace("--", "–").split())
