"""What the status tables say about a resolved task's deployment on the wiki (docs/deployment.md)."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton

from bot.render.environment import NBSP, Markup
from bot.render.escape import wikitext_inline

WORDS = {
    "cs": {"live": "nasazeno na {wiki} od {date}", "pending": "čeká na nasazení", "unknown": "neznámo"},
    "ko": {"live": "{date}부터 {wiki}에 적용됨", "pending": "배포 대기 중", "unknown": "알 수 없음"},
    "en": {"live": "live on {wiki} since {date}", "pending": "awaiting deployment", "unknown": "unknown"},
}
NOT_RESOLVED = "–"


def short_date(epoch: int, lang: str, tz: str) -> str:
    """Day and month in the wiki's language and time zone: `12.&nbsp;11.` (cs), `11월 12일` (ko), `Nov 12` (en)."""
    moment = datetime.fromtimestamp(int(epoch), timezone.utc).astimezone(ZoneInfo(tz))
    text = format_skeleton("MMMd", moment, locale=lang if lang in WORDS else "en")
    if lang == "cs":
        text = text.replace(" ", NBSP)
    return text.replace("<", "").replace("{", "")


def label(lang: str, state: str, *, wiki_id: str = "", since: int | None = None, tz: str = "UTC") -> Markup:
    """The table cell for one resolved task on one wiki; markup, with the wiki's id escaped."""
    words = WORDS.get(lang, WORDS["en"])
    if state == "live" and since is not None:
        return Markup(words["live"].format(wiki=wikitext_inline(wiki_id), date=short_date(since, lang, tz)))
    return Markup(words["pending" if state == "pending" else "unknown"])
