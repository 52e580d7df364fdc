"""Short localized strings the templates and edit summaries share, read from the message files.

The words themselves live in `bot/i18n/<lang>.json` (translatewiki-style; see bot/i18n and
docs/languages.md); this module only looks them up. The tables below (STATUS, TASKS, RUN_REPORT,
NEWSLETTER_SUMMARY, …) keep the shape callers and templates have always used
(`TABLE[lang][…]`, `plural(TABLE, lang, n)`, `text.format(n=…)`), but each entry is built from
the message files on first use, for any language that has a file, with English for what a
language lacks. Entries are `Message` strings: their `.format(...)` substitutes the message's
parameters by name and resolves `{{PLURAL:…}}` for the actual number, so
`RUN_REPORT["cs"]["more"].format(n=1)` is "a 1 další" and `.format(n=5)` "a 5 dalších".
Plural categories come from CLDR's rules through Babel, never by hand.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, get_month_names

from bot import i18n
from bot.domain.newsletter import Typography
from bot.domain.weekly import parse_label

# Phabricator's task statuses and priorities (Conduit's numeric values), as the bot knows them.
STATUSES = ("open", "stalled", "progress", "resolved", "declined", "invalid", "duplicate", "wontfix", "spite")
PRIORITIES = (100, 90, 80, 50, 25, 10)
RUN_WORDS = ("job", "time", "result", "counts", "problems", "ok", "problem", "failed", "saved", "would_save",
             "unchanged", "held", "more", "intro", "summary")
NEWSLETTER_KINDS = ("draft", "approve", "reset", "publish", "archive", "message")
BABEL_NAMED = ("short", "medium", "long", "full")

# The names of each message's parameters $1, $2, … (what `Message.format(name=…)` fills in).
PARAMS: dict[str, tuple[str, ...]] = {
    "tasks": ("n",), "status-summary": ("tables", "tasks"),
    **{f"runreport-{w}": ("n",) for w in ("saved", "would-save", "unchanged", "held", "more")},
    "newsletter-heading": ("name", "month"), "newsletter-summary-message": ("name", "month"),
    **{f"newsletter-summary-{k}": ("edition",) for k in NEWSLETTER_KINDS if k != "message"},
    **{k: ("n",) for k in ("nl-resolved", "nl-progress", "nl-opened", "nl-more", "wr-edits", "wr-pages",
                           "wr-comments", "wr-messages", "wr-delivered")},
    "wr-heading": ("week", "name"), "wr-summary": ("week", "name"),
}


class Message(str):
    """A message as text with `{name}` placeholders; `.format(...)` resolves it properly.

    With `category`, every PLURAL takes that CLDR category's form (the per-category tables)."""

    lang: str
    key: str
    category: str | None

    def __new__(cls, lang: str, key: str, category: str | None = None):
        names = PARAMS.get(key, ())
        source, text = i18n.lookup(lang, key)
        if category is not None and source != lang:   # an English fallback: English's own categories
            category = i18n.category(source, {"one": 1}.get(category, 5)) if category != "other" else category
        lang = source
        shown = i18n.resolve(lang, text, (), cat=category or "other",
                             keep={i + 1: "{" + n + "}" for i, n in enumerate(names)})
        self = super().__new__(cls, shown)
        self.lang, self.key, self.category, self._text, self._names = lang, key, category, text, names
        return self

    def format(self, *args: Any, **kwargs: Any) -> str:  # type: ignore[override]
        params = list(args) if args else [kwargs.get(n, "{" + n + "}") for n in self._names]
        return i18n.resolve(self.lang, self._text, params, cat=self.category)

    def format_map(self, mapping) -> str:  # type: ignore[override]
        return self.format(**mapping)


class _ByLanguage(dict):
    """`{lang: entry}` built on first use from the message files (English for a missing message)."""

    def __init__(self, build: Callable[[str], Any]):
        super().__init__()
        self._build = build
        self._stamps: dict[str, tuple] = {}

    def __getitem__(self, lang: str):
        # Rebuilt when a message file of the language (or English) changed, appeared or went away.
        stamp = (i18n.stamp(lang), i18n.stamp(i18n.FALLBACK))
        if self._stamps.get(lang) != stamp or not dict.__contains__(self, lang):
            self._stamps[lang] = stamp
            dict.__setitem__(self, lang, self._build(lang))
        return dict.__getitem__(self, lang)


def _plural_table(key: str) -> _ByLanguage:
    return _ByLanguage(lambda lang: {c: Message(lang, key, c) for c in i18n.categories(lang)})


def _one(key: str) -> _ByLanguage:
    return _ByLanguage(lambda lang: Message(lang, key))


STATUS = _ByLanguage(lambda lang: {s: Message(lang, f"status-{s}") for s in STATUSES})
PRIORITY = _ByLanguage(lambda lang: {p: Message(lang, f"priority-{p}") for p in PRIORITIES})
NOBODY = _one("nobody")
TASKS = _plural_table("tasks")
STATUS_SUMMARY = _one("status-summary")

# -- run report (bot/jobs/status_report.py) ------------------------------------------------
RUN_REPORT = _ByLanguage(lambda lang: {w: Message(lang, "runreport-" + w.replace("_", "-")) for w in RUN_WORDS})

# -- newsletters (bot/jobs/newsletter/) ------------------------------------------------------
NEWSLETTER_NAME = _one("newsletter-name")
# The heading of the talk-page section: "{name} – {month}", the month from Babel ("prosinec 2026", "2026년 12월").
NEWSLETTER_HEADING = _one("newsletter-heading")
NEWSLETTER_SUMMARY = {kind: _one(f"newsletter-summary-{kind}") for kind in NEWSLETTER_KINDS}
NL_RESOLVED = _plural_table("nl-resolved")
NL_PROGRESS = _plural_table("nl-progress")
NL_OPENED = _plural_table("nl-opened")
NL_MORE = _plural_table("nl-more")

# -- weekly check-in reports (bot/jobs/weekly_report/) -------------------------------------------
WR_EDITS = _plural_table("wr-edits")
WR_PAGES = _plural_table("wr-pages")
WR_COMMENTS = _plural_table("wr-comments")
WR_MESSAGES = _plural_table("wr-messages")
WR_DELIVERED = _plural_table("wr-delivered")
WR_HEADING = _one("wr-heading")
WR_SUMMARY = _one("wr-summary")

# English is always there: templates and the sandboxed overrides check a table's shape on it.
for _table in (TASKS, NL_RESOLVED, NL_PROGRESS, NL_OPENED, NL_MORE, WR_EDITS, WR_PAGES, WR_COMMENTS,
               WR_MESSAGES, WR_DELIVERED):
    _table[i18n.FALLBACK]


def msg(lang: str, key: str, *params: Any) -> str:
    """One message in `lang`, parameters and plurals resolved (English when lang lacks it)."""
    return i18n.message(lang, key, *params)


def languages() -> tuple[str, ...]:
    return i18n.available_languages()


def missing_messages(lang: str) -> list[str]:
    return i18n.missing(lang)


def plural(table: dict[str, dict[str, str]], lang: str, n: int) -> str:
    forms = table[lang]
    category = i18n.category(lang, n)
    return forms.get(category, forms["other"]).format(n=n)


def status_label(lang: str, status: str) -> str:
    return STATUS[lang].get(status, status)


def priority_label(lang: str, value: int) -> str:
    names = PRIORITY[lang]
    # Unknown custom priorities fall back to the nearest lower known one.
    known = [v for v in sorted(names, reverse=True) if v <= value]
    return names[known[0]] if known else names[10]


def status_summary(lang: str, table_ids: list[str], task_count: int) -> str:
    return msg(lang, "status-summary", ", ".join(table_ids), plural(TASKS, lang, task_count))


def _format(moment: datetime, lang: str, key: str) -> str:
    pattern = i18n.raw(lang, key)
    locale = lang.replace("-", "_")
    if pattern in BABEL_NAMED and key == "date-format":
        text = format_date(moment, pattern, locale=locale)
    else:
        text = format_datetime(moment, pattern, tzinfo=moment.tzinfo, locale=locale)
    return i18n.localize_digits(lang, text)


def date_text(epoch: float, lang: str, tz: str) -> str:
    """A day as the wiki's language writes it (`date-format`), in the wiki's time zone:
    cs `6. 12. 2026` (with no-break spaces), ko `2026년 12월 6일`, ar `٦ ديسمبر ٢٠٢٦`, vi `6 tháng 12 năm 2026`."""
    moment = datetime.fromtimestamp(float(epoch), timezone.utc).astimezone(ZoneInfo(tz))
    return _format(moment, lang, "date-format")


def datetime_text(epoch: float, lang: str, tz: str) -> str:
    """A moment as the wiki's language writes it (`datetime-format`), in the wiki's time zone:
    cs `6. 12. 2026, 6:08`, ko `2026년 12월 6일 오후 2:08` (for the run report)."""
    moment = datetime.fromtimestamp(float(epoch), timezone.utc).astimezone(ZoneInfo(tz))
    return _format(moment, lang, "datetime-format")


def week_title(label: str, lang: str) -> str:
    """An ISO week (`2026-W49`) as the language writes it (`weekly-week-title`): '49. týden 2026',
    '2026년 49주차', 'week 49 of 2026'."""
    year, number = parse_label(label)
    return msg(lang, "weekly-week-title", year, number)


def typography(lang: str) -> Typography:
    """Where `lang` keeps words together: the words of `typography-nbsp-after` and CLDR's month names
    (both the running-text and the stand-alone forms: cs "prosince" and "prosinec")."""
    words = tuple(i18n.message(lang, "typography-nbsp-after").split())
    if not words:
        return Typography()
    locale = lang.replace("-", "_")
    months = tuple(dict.fromkeys(name for context in ("format", "stand-alone")
                                 for name in get_month_names("wide", context, locale).values()))
    return Typography(words, months)


def nothing_happened_sentences() -> tuple[str, ...]:
    """The "nothing changed" sentence of an empty newsletter period in every language the bot has."""
    return tuple(dict.fromkeys(msg(lang, "newsletter-nothing-happened") for lang in languages()))


def language_name(reader: str, code: str) -> str:
    """The name of language `code` in `reader`'s language, from CLDR ("Czech", "čeština"), else the code."""
    try:
        return Locale.parse(reader.replace("-", "_")).languages.get(code.replace("-", "_"), code)
    except (ValueError, LookupError):
        return code


def wiki_name(reader: str, code: str) -> str:
    """A wiki's name in the reader's language (`feedback-wikiname-<code>`: "česká Wikipedie"); a wiki no
    message names is shown by its code."""
    key = f"feedback-wikiname-{code}"
    return msg(reader, key) if i18n.has(reader, key) else code
