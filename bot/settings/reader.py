"""Walking the config's YAML tree, and the value checks every section shares.

The section parsers (newsletter.py, feedback.py, ...) and the core parser (core.py) all
import from here, and this module imports none of them, so there is no import loop.
"""
from __future__ import annotations

import math
import re
import reprlib
import unicodedata
import urllib.parse
from pathlib import Path
from typing import Any, Callable

from bot.domain.titles import title_problem
from bot.errors import ConfigError
from bot.i18n import LanguageList
from bot.settings.loader import MAX_SCALAR_CHARS

STATUS_KEYS = ("open", "stalled", "progress", "resolved", "declined", "invalid", "duplicate", "wontfix", "spite")
# Every language with a message file (bot/i18n/<lang>.json, or a folder named by $AMBASSADOR_MESSAGES).
LANGUAGES = LanguageList()
TASK_RE = re.compile(r"T?([0-9]{1,9})\Z")
_short = reprlib.Repr()
_short.maxstring, _short.maxother, _short.maxlevel, _short.maxlist, _short.maxdict = 80, 80, 2, 5, 5


class Reader:
    """Walks a parsed YAML tree, remembering the key path for error messages."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, problem: str) -> ConfigError:
        # A key is the config's own text: a newline or control character in it must not break the
        # one-line message, so it is shown escaped (and a very long key cut).
        shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in key)
        return ConfigError(f"{self.path}: {shown[:120]}: {problem}")

    def mapping(self, value: Any, key: str, allowed: set[str], required: set[str] = frozenset()) -> dict:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a mapping, got {type(value).__name__}")
        for k in value:
            if not isinstance(k, str):
                raise self.fail(key, f"keys must be strings, got {_short.repr(k)}")
            if k not in allowed:
                raise self.fail(f"{key}.{k}" if key else k, f"unknown key (allowed: {', '.join(sorted(allowed))})")
        for k in sorted(required):
            if k not in value:
                raise self.fail(f"{key}.{k}" if key else k, "is required")
        return value

    def typed(self, value: Any, key: str, kind: type | tuple[type, ...], check: Callable[[Any], str | None] | None = None):
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            raise self.fail(key, f"must be a number, got {value!r}")
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(key, f"must be {names}, got {type(value).__name__} {_short.repr(value)}"[:200])
        problem = _scalar_problem(value)
        if problem:
            raise self.fail(key, problem)
        if check:
            problem = check(value)
            if problem:
                raise self.fail(key, problem)
        return value

    def string_list(self, value: Any, key: str, check: Callable[[str], str | None] | None = None) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list, got {type(value).__name__}")
        return tuple(self.typed(v, f"{key}[{i}]", str, check) for i, v in enumerate(value))

def _scalar_problem(value: Any) -> str | None:
    """What no value of the config may be: a non-finite or absurd number, a huge or multi-line string."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value!r}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**12:
        return "is out of range"
    if isinstance(value, str):
        if len(value) > MAX_SCALAR_CHARS:
            return f"is {len(value)} characters long (at most {MAX_SCALAR_CHARS})"
        bad = next((ch for ch in value if unicodedata.category(ch) in ("Cc", "Cs")), None)
        if bad is not None:
            return f"holds a control character (U+{ord(bad):04X}); write it on one line, without control characters"
    return None


def between(low: float, high: float, unit: str = "", *, low_open: bool = False) -> Callable[[Any], str | None]:
    """A finite range check: `low <= v <= high` (`low < v` with low_open)."""
    def check(v) -> str | None:
        ok = (low < v if low_open else low <= v) and v <= high
        return None if ok else f"must be {'more than' if low_open else 'at least'} {low:g} and at most {high:g}{unit}"
    return check


def non_empty(v: str) -> str | None:
    return None if v.strip() else "must not be empty"


def page_title(v: str) -> str | None:
    """The one check of every page-title key: what MediaWiki would refuse, or change, is refused."""
    problem = title_problem(v)
    if problem:
        return f"not a valid page title: {problem}"
    if v != v.strip():
        return "must not start or end with spaces"
    return None


def user_name(v: str) -> str | None:
    """A wiki user name: a valid title without / (subpage) or : @ > = (MediaWiki's invalid user-name characters)."""
    problem = page_title(v)
    if problem:
        return problem.replace("page title", "user name")
    bad = next((ch for ch in "/:@>=" if ch in v), None)
    return f"not a valid user name: holds {bad!r}" if bad else None


_SECRET_QUERY = re.compile(r"(?i)(token|password|passwd|secret|key|auth|sig|session)")


def http_url(v: str) -> str | None:
    # The value is never echoed: it may hold a password.
    if not re.fullmatch(r"https?://[^\s/?#]+(?:[/?#][^\s]*)?", v):
        return "must be an http(s) URL like https://host/path (no spaces)"
    try:
        parts = urllib.parse.urlsplit(v)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "is not a valid URL"
    if "@" in parts.netloc:
        return ("must not hold credentials (user:password@); secrets come from the environment "
                "(phabricator.token_env, wikis.<code>.password_env)")
    if parts.query or parts.fragment or "?" in v or "#" in v:
        if _SECRET_QUERY.search(parts.query + parts.fragment):
            return ("must not hold a token or password in its query; secrets come from the environment "
                    "(phabricator.token_env, wikis.<code>.password_env)")
        return "must not have a query (?...) or fragment (#...)"
    if not parts.hostname:
        return "must be an http(s) URL like https://host/path"
    return None


def env_name(v: str) -> str | None:
    return None if re.fullmatch(r"[A-Z_][A-Z0-9_]*", v) else f"must be an environment variable name, got {_short.repr(v)}"


def time_zone(v: str) -> str | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {v!r}"
    return None

def task_number(r: Reader, value: Any, key: str) -> int:
    """`T123` or `123` (a YAML number or text) -> 123; each item checked as it is, never converted first."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise r.fail(key, f"must be a task number like T4321, got {type(value).__name__}")
    text = r.typed(value, key, str, lambda v: None if TASK_RE.match(v.strip())
                   else f"must be a task number like T4321, got {_short.repr(v)}")
    return int(TASK_RE.match(text.strip()).group(1))


def task_ids(r: Reader, raw: Any, key: str) -> tuple[int, ...]:
    if isinstance(raw, (str, int)) and not isinstance(raw, bool):
        raw = [raw]         # one task may be written without a list
    items = r.typed(raw, key, list, lambda v: None if len(v) <= 5000 else "lists more than 5000 tasks")
    return tuple(task_number(r, v, f"{key}[{i}]") for i, v in enumerate(items))
