"""When an approved edition goes out: send times as ambassadors write them, and the config's default."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo


class SendTimeError(ValueError):
    """A send time that cannot be read; the message says what form to use."""


_ISO_SEND = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]+(\d{1,2})[:.](\d{2}))?$")
_CS_SEND = re.compile(r"^(\d{1,2})\.\s*(\d{1,2})\.\s*(\d{4})(?:,?\s+(\d{1,2})[:.](\d{2})(?:\s*h(?:od)?\.?)?)?$")
_KO_SEND = re.compile(r"^(\d{4})\s*년\s*(\d{1,2})\s*월\s*(\d{1,2})\s*일"
                      r"(?:\s*(오전|오후)?\s*(\d{1,2})(?:\s*[:.]\s*(\d{2})|\s*시(?:\s*(\d{1,2})\s*분)?(?:\s*(반))?))?$")
SEND_EXAMPLES = "2026-12-14 09:00, 14. 12. 2026 9:00 or 2026년 12월 14일 9:00 (오전/오후 9시 30분)"


def parse_send_time(value: str, tz: str) -> int:
    """A send time as an ambassador writes it, in the wiki's time zone, as epoch seconds.

    `2026-12-14 09:00`, Czech `14. 12. 2026 9:00` (or `9.00`), Korean `2026년 12월 14일 9:00`,
    `2026년 12월 14일 오후 3시 30분`. A date alone means 00:00 of that day.
    """
    v = " ".join(value.split())
    hour = minute = 0
    m = _ISO_SEND.match(v)
    if m:
        year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
        hour, minute = int(m.group(4) or 0), int(m.group(5) or 0)
    elif (m := _CS_SEND.match(v)):
        day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        hour, minute = int(m.group(4) or 0), int(m.group(5) or 0)
    elif (m := _KO_SEND.match(v)):
        year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if m.group(5):
            hour = int(m.group(5))
            minute = int(m.group(6) or m.group(7) or (30 if m.group(8) else 0))
            if m.group(4) == "오후" and hour < 12:
                hour += 12
            elif m.group(4) == "오전" and hour == 12:
                hour = 0
    else:
        raise SendTimeError(f"send time {value!r} is not a date and time the bot can read; write it like "
                            f"{SEND_EXAMPLES}")
    try:
        local = datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz))
    except ValueError as exc:
        raise SendTimeError(f"send time {value!r}: {exc}") from None
    return int(local.timestamp())


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DEFAULT_SEND = re.compile(r"^(?:next\s+)?(" + "|".join(WEEKDAYS) + r"|day)\s+(\d{1,2}):(\d{2})$", re.IGNORECASE)


def parse_default_send(value: str) -> tuple[int | None, int, int]:
    """The config's default send time: `next monday 09:00` (weekday, hour, minute) or `day 09:00`
    (the next 09:00); raises SendTimeError."""
    m = _DEFAULT_SEND.match(" ".join(value.split()))
    if not m or int(m.group(2)) > 23 or int(m.group(3)) > 59:
        raise SendTimeError(f"{value!r}: write a weekday and a time, e.g. 'next monday 09:00', or 'day 09:00'")
    word = m.group(1).lower()
    return (None if word == "day" else WEEKDAYS.index(word)), int(m.group(2)), int(m.group(3))


def next_default_send(after: float, rule: tuple[int | None, int, int], tz: str) -> int:
    """The first moment matching `rule` strictly after `after` (epoch), in the wiki's zone."""
    weekday, hour, minute = rule
    local = datetime.fromtimestamp(after, timezone.utc).astimezone(ZoneInfo(tz))
    for days in range(0, 9):
        day = (local + timedelta(days=days)).date()
        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(tz))
        if candidate.timestamp() > after and (weekday is None or candidate.weekday() == weekday):
            return int(candidate.timestamp())
    raise AssertionError("unreachable: a weekday recurs within 8 days")


def revision_epoch(timestamp: str) -> int:
    """MediaWiki's `2026-12-10T08:00:00Z` as epoch seconds."""
    return int(datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())
