"""Words of the feedback digest: wiki names in the reader's language, comment times in the wiki's zone.

Kept apart from bot/render/messages.py (shared by other jobs); pure functions, standard library only.
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

# reader's language -> wiki code -> the wiki's name
WIKI_NAMES = {
    "en": {"cs": "Czech Wikipedia", "ko": "Korean Wikipedia", "en": "English Wikipedia"},
    "cs": {"cs": "česká Wikipedie", "ko": "korejská Wikipedie", "en": "anglická Wikipedie"},
    "ko": {"cs": "체코어 위키백과", "ko": "한국어 위키백과", "en": "영어 위키백과"},
}
_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")


def wiki_name(reader_language: str, code: str) -> str:
    return WIKI_NAMES.get(reader_language, WIKI_NAMES["en"]).get(code, code)


def local_time(stamp: str, zone: str, reader_language: str) -> str:
    """A UTC `2026-12-06T05:06:00Z` as the wiki's community reads it, with its zone's own name:
    en `6 December 2026, 06:06 CET`, cs `6. 12. 2026, 6:06 CET`, ko `2026년 12월 6일 14:06 KST`
    (CET or CEST as the date falls; a zone without a name shows its offset, e.g. `+05`)."""
    utc = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    t = utc.astimezone(ZoneInfo(zone or "UTC"))
    abbr = t.strftime("%Z")
    if reader_language == "cs":
        return f"{t.day}. {t.month}. {t.year}, {t.hour}:{t.minute:02d} {abbr}"
    if reader_language == "ko":
        return f"{t.year}년 {t.month}월 {t.day}일 {t.hour:02d}:{t.minute:02d} {abbr}"
    return f"{t.day} {_MONTHS_EN[t.month - 1]} {t.year}, {t.hour:02d}:{t.minute:02d} {abbr}"
