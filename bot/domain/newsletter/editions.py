"""Editions: one a month, written `YYYY-MM`, and the period of time each covers."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo


_EDITION_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class EditionError(ValueError):
    """An edition id that is not `YYYY-MM`."""


@dataclass(frozen=True)
class Edition:
    id: str
    year: int
    month: int

    def period(self, tz: str) -> tuple[int, int]:
        """[start, end) of the month in the wiki's time zone, as epoch seconds."""
        zone = ZoneInfo(tz)
        start = datetime(self.year, self.month, 1, tzinfo=zone)
        end = datetime(self.year + self.month // 12, self.month % 12 + 1, 1, tzinfo=zone)
        return int(start.timestamp()), int(end.timestamp())

    @property
    def first_day(self):
        return datetime(self.year, self.month, 1).date()


def parse_edition(value: str) -> Edition:
    m = _EDITION_RE.match(value.strip())
    if not m:
        raise EditionError(f"edition {value!r}: must be a month written YYYY-MM, e.g. 2026-12")
    return Edition(value.strip(), int(m.group(1)), int(m.group(2)))


def previous_edition(now_epoch: float, tz: str) -> Edition:
    """The month before `now` in the wiki's zone: the one a scheduled draft covers."""
    local = datetime.fromtimestamp(now_epoch, timezone.utc).astimezone(ZoneInfo(tz))
    last_month = local.replace(day=1) - timedelta(days=1)
    return parse_edition(f"{last_month.year:04d}-{last_month.month:02d}")
