"""What the steps of the newsletter job share: store namespaces, limits, names, summaries, times."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_skeleton

from bot import i18n
from bot.domain import newsletter as nl
from bot.errors import ConfigError
from bot.jobs.base import JobContext
from bot.jobs.writer import Writer
from bot.render import messages

# One logger for the whole job, named as before it was split into modules (log lines carry the name).
log = logging.getLogger("bot.jobs.newsletter")

JOB = "newsletter"
ACTIONS = ("draft", "approve", "publish", "status")
CONFLICT_ATTEMPTS = 3
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

NS_EDITION = "newsletter-edition"    # "code:edition" -> {"draft_revid", "frozen": {...}}
NS_PENDING = "newsletter-pending"    # delivery key -> {"title", "at"}: written or about to be, not yet recorded
NS_FAILED = "newsletter-failed"      # delivery key -> {"title", "error", "at"}: retried on the next publish
RUN_PAGE_EVERY = 25                  # deliveries between two looks at the emergency-stop page
NS_SCHEDULE = "newsletter-schedule"  # "code:edition" -> when the scheduled draft was made
NS_TARGET = "newsletter-target"      # delivery key (or nlx:… for unusable entries) -> what became of the entry
REPORT_EVERY_SECONDS = 60            # the report page is saved at most this often while delivery runs
LOG_EVERY_SECONDS, LOG_EVERY_TARGETS = 30, 50
def _settings(ctx: JobContext):
    settings = ctx.settings.newsletters
    if settings is None:
        raise ConfigError(f"{ctx.settings.path}: newsletters: the config has no 'newsletters' section")
    return settings


def _edition_key(code: str, ed: nl.Edition) -> str:
    return f"{code}:{ed.id}"


def _month(ed: nl.Edition, lang: str) -> str:
    return format_skeleton("yMMMM", ed.first_day, locale=lang)


def _name(settings, lang: str) -> str:
    return settings.names.get(lang) or messages.NEWSLETTER_NAME[lang]


def _summary(kind: str, lang: str, ed: nl.Edition, settings) -> str:
    return messages.NEWSLETTER_SUMMARY[kind][lang].format(edition=ed.id, name=_name(settings, lang),
                                                          month=_month(ed, lang))


def _check_run_page(writer: Writer, code: str, states: dict) -> str | None:
    stop = writer.note_run_page(code, states)
    return f"{stop}; no edits on {code}" if stop else None

def _local_time(ctx, code: str, epoch: float) -> str:
    ws = ctx.settings.wikis[code]
    lang = ws.language
    pattern = messages.msg(lang, "newsletter-datetime-format")
    text = format_datetime(datetime.fromtimestamp(epoch, timezone.utc), pattern, tzinfo=ZoneInfo(ws.timezone), locale=lang)
    return i18n.localize_digits(lang, text)


def _report_title(ctx, settings, ed, code) -> str:
    nw = settings.wikis[code]
    return nw.title("report_page", ed.id) or (nw.title("page", ed.id) + "/" +
                                              messages.msg(ctx.settings.wikis[code].language,
                                                                           "newsletter-report-subpage"))
