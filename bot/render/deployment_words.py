"""What the status tables say about a resolved task's deployment on the wiki (docs/deployment.md).

The words are messages (`deploy-live`, `deploy-pending`, `deploy-unknown`, `deploy-date-format`).
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from bot import i18n
from bot.render.environment import Markup
from bot.render.escape import wikitext_inline
from bot.render.messages import msg

NOT_RESOLVED = "–"


def short_date(epoch: int, lang: str, tz: str) -> str:
    """Day and month in the wiki's language and time zone: `12.&nbsp;11.` (cs), `11월 12일` (ko), `Nov 12` (en)."""
    moment = datetime.fromtimestamp(int(epoch), timezone.utc).astimezone(ZoneInfo(tz))
    source, pattern = i18n.lookup(lang, "deploy-date-format")
    text = i18n.localize_digits(source, format_datetime(moment, pattern, tzinfo=moment.tzinfo,
                                                         locale=source.replace("-", "_")))
    return text.replace("<", "").replace("{", "")


def label(lang: str, state: str, *, wiki_id: str = "", since: int | None = None, tz: str = "UTC") -> Markup:
    """The table cell for one resolved task on one wiki; markup, with the wiki's id escaped."""
    if state == "live" and since is not None:
        return Markup(msg(lang, "deploy-live", wikitext_inline(wiki_id), short_date(since, lang, tz)))
    return Markup(msg(lang, "deploy-pending" if state == "pending" else "deploy-unknown"))
