"""Words of the feedback digest: wiki names in the reader's language, comment times in the wiki's zone.

The words are messages (`feedback-wikiname-<code>`, `feedback-time-format` in bot/i18n/<lang>.json).
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from bot import i18n
from bot.render.messages import msg, wiki_name

__all__ = ["local_time", "wiki_name"]


def local_time(stamp: str, zone: str, reader_language: str) -> str:
    """A UTC `2026-12-06T05:06:00Z` as the wiki's community reads it, with its zone's own name:
    en `6 December 2026, 06:06 CET`, cs `6. 12. 2026, 6:06 CET`, ko `2026년 12월 6일 14:06 KST`
    (CET or CEST as the date falls; a zone without a name shows its offset, e.g. `+05`)."""
    utc = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    t = utc.astimezone(ZoneInfo(zone or "UTC"))
    source, _ = i18n.lookup(reader_language, "feedback-time-format")
    text = format_datetime(t, msg(reader_language, "feedback-time-format"), locale=source.replace("-", "_"))
    return f"{i18n.localize_digits(source, text)} {t.strftime('%Z')}"
