"""What the bot knows of one wiki's language, read from the wiki itself (issue 15).

Namespace names and aliases (siteinfo `namespaces`, `namespacealiases`), the special
page `Contributions` and its aliases (`specialpagealiases`), the wiki's time zone
(`general.timezone`), month and weekday names and localized zone abbreviations
(`allmessages` in the content language), and the signature timestamp format. The
format is derived from what the wiki writes for `~~~~~` at a known time
(`derive_signature_format`) or taken from the per-wiki config (`signature_format`,
MediaWiki date-format letters); a day whose sample cannot tell day from month is decided by
`with_signature_format` (month names, a format remembered from an earlier day, CLDR). The
`{{Unsigned}}`-style templates and the templates that only resize their text come
from the per-wiki config. No language is named here: a fifth wiki needs no code.

Pure: plain data in, plain data out; the adapter `bot/adapters/wiki_facts.py` asks the wiki.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from functools import cached_property
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError

NS_SPECIAL, NS_USER, NS_USER_TALK, NS_FILE, NS_TEMPLATE = -1, 2, 3, 6, 10

# MediaWiki's message keys (languages/messages/MessagesEn.php): full, genitive and abbreviated month
# names, full and abbreviated weekday names.
MONTH_MESSAGES = ("january", "february", "march", "april", "may_long", "june", "july", "august", "september",
                  "october", "november", "december")
MONTH_GEN_MESSAGES = tuple(f"{m.replace('_long', '')}-gen" for m in MONTH_MESSAGES)
MONTH_ABBR_MESSAGES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# Abbreviations only: MediaWiki's signature formats write `D`, never the full name (`l`); and
# allmessages takes 50 names per request.
WEEKDAY_ABBR_MESSAGES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def message_names() -> tuple[str, ...]:
    """The allmessages keys the facts need, zone names aside (`zone_message_names`)."""
    return MONTH_MESSAGES + MONTH_GEN_MESSAGES + MONTH_ABBR_MESSAGES + WEEKDAY_ABBR_MESSAGES


def zone_abbreviations(zone: str, year: int) -> tuple[str, ...]:
    """What PHP's `date('T')` writes for this zone in winter and summer (zoneinfo's tzname is the same)."""
    tz = ZoneInfo(zone)
    return tuple(dict.fromkeys(datetime(year, month, 1, 12, tzinfo=tz).tzname() or "" for month in (1, 7)))


def zone_message_names(zone: str) -> tuple[str, ...]:
    # MediaWiki's signature writes `(<abbr>)` localized by the message `timezone-<abbr lower case>` if it exists.
    return tuple(f"timezone-{abbr.lower()}" for abbr in _zone_history(zone) if abbr)


def _zone_history(zone: str) -> tuple[str, ...]:
    """The abbreviations a zone had since 1970 (a signature on an old page may carry one)."""
    return tuple(dict.fromkeys(n for year in range(1970, 2040, 4) for n in zone_abbreviations(zone, year)))


class WikiFactsError(ValueError):
    """The wiki's answers cannot be turned into facts (one line, said to the operator)."""


@dataclass(frozen=True)
class WikiFacts:
    lang: str
    timezone: str
    # Namespace number -> every name it goes by, lower case with spaces (names, canonical names, aliases).
    namespaces: dict[int, frozenset[str]]
    contributions: frozenset[str]              # the special page's name and aliases, lower case
    months: tuple[tuple[str, ...], ...]        # 12 entries: the month's names (full, genitive, abbreviated)
    weekdays: tuple[str, ...]                  # 7 abbreviated names from Monday
    zone_names: dict[str, str]                 # what the wiki writes in a signature's parentheses -> abbreviation
    signature_format: str                      # MediaWiki date-format letters of a signature's date and time
    # Per-wiki config: template name -> (user parameter, time parameter); templates that only resize text.
    unsigned_templates: dict[str, tuple[int, int]] = field(default_factory=dict)
    text_templates: frozenset[str] = frozenset()
    format_source: str = ""                    # CONFIGURED, SAMPLE, REMEMBERED or LANGUAGE (below)

    def names(self, number: int) -> frozenset[str]:
        return self.namespaces.get(number, frozenset())

    @cached_property
    def user_namespaces(self) -> frozenset[str]:
        return self.names(NS_USER) | self.names(NS_USER_TALK)

    @cached_property
    def contribution_pages(self) -> frozenset[str]:
        """`special:contributions`, in every spelling of the namespace and the page."""
        return frozenset(f"{ns}:{page}" for ns in self.names(NS_SPECIAL) for page in self.contributions)

    @cached_property
    def month_numbers(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for number, names in enumerate(self.months, 1):
            for name in names:
                out.setdefault(name, number)
        return out

    @cached_property
    def timestamp_re(self) -> re.Pattern:
        return compile_signature_format(self.signature_format, self)

    def to_utc(self, match: re.Match) -> str | None:
        """A timestamp match (`timestamp_re`) as UTC "YYYY-MM-DDTHH:MM:SSZ", None if it is no date."""
        return _utc(match, self)


# -- the signature format ---------------------------------------------------------------------------

# Letters of PHP/MediaWiki date formats a signature date uses (Language::sprintfDate).
_DAY, _MONTH_NUMBER, _YEAR, _HOUR, _MINUTE = ("j", "d"), ("n", "m"), ("Y",), ("G", "H"), ("i",)
_MONTH_NAMES = {"F": 0, "xg": 1, "M": 2}
_WEEKDAY_NAMES = {"D": 0}
_FORMAT_TOKEN = re.compile(r'"[^"]*"|\\.|xg|[A-Za-z]|\s+|.', re.DOTALL)


def compile_signature_format(fmt: str, facts: WikiFacts) -> re.Pattern:
    """The regex of a signature timestamp written in this format, then ` (<zone>)`: named groups
    y, m or mon, d, H, M, tz. `\\d` also reads the Eastern Arabic and other Unicode digits."""
    parts: list[str] = []
    seen: set[str] = set()

    def group(name: str, body: str) -> str:
        if name in seen:
            raise WikiFactsError(f"signature_format {fmt!r} has the {name!r} field twice")
        seen.add(name)
        return f"(?P<{name}>{body})"

    for token in _FORMAT_TOKEN.findall(fmt):
        if token.startswith('"'):
            parts.append(_literal(token[1:-1]))
        elif token.startswith("\\"):
            parts.append(re.escape(token[1:]))
        elif token in _DAY:
            parts.append(group("d", r"\d{1,2}"))
        elif token in _MONTH_NUMBER:
            parts.append(group("m", r"\d{1,2}"))
        elif token in _YEAR:
            parts.append(group("y", r"\d{4}"))
        elif token in _HOUR:
            parts.append(group("H", r"\d{1,2}"))
        elif token in _MINUTE:
            parts.append(group("M", r"\d{2}"))
        elif token in _MONTH_NAMES:
            names = sorted(facts.month_numbers, key=len, reverse=True)
            parts.append(group("mon", "|".join(map(re.escape, names))))
        elif token in _WEEKDAY_NAMES:
            names = sorted(set(facts.weekdays), key=len, reverse=True)
            parts.append("(?:" + "|".join(map(re.escape, names)) + ")")
        elif token.isascii() and token.isalpha():
            raise WikiFactsError(f"signature_format {fmt!r}: the letter {token!r} is no date field a "
                                 f"signature uses (quote literal text: \"...\")")
        else:
            parts.append(_literal(token))
    missing = {"y", "d", "H", "M"} - seen
    if missing or not seen & {"m", "mon"}:
        raise WikiFactsError(f"signature_format {fmt!r} lacks the "
                             f"{', '.join(sorted(missing) or ['month'])} field (it needs Y, n or F, j, H, i)")
    return re.compile("".join(parts) + r"\s\((?P<tz>[^()\n]{1,20})\)")


def _literal(text: str) -> str:
    return "".join(r"\s+" if piece.isspace() else re.escape(piece) for piece in re.findall(r"\s+|\S+", text))


def _utc(m: re.Match, facts: WikiFacts) -> str | None:
    g = m.groupdict()
    month = facts.month_numbers.get(g["mon"]) if g.get("mon") else int(g["m"])
    try:
        local = datetime(int(g["y"]), month or 0, int(g["d"]), int(g["H"]), int(g["M"]))
    except ValueError:
        return None
    written = g["tz"].strip()
    abbr = facts.zone_names.get(written, written)
    zone = ZoneInfo(facts.timezone)
    candidates = [local.replace(tzinfo=zone, fold=f) for f in (0, 1)]
    # In the repeated autumn hour only the abbreviation tells the two apart.
    same = [c for c in candidates if c.tzname() == abbr]
    if same:
        chosen = same[0]
    elif abbr in ("UTC", "GMT"):
        chosen = local.replace(tzinfo=timezone.utc)
    else:
        chosen = candidates[0]
    return chosen.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_SAMPLE = re.compile(r"^\s*(?P<date>.*?\S)\s*\((?P<zone>[^()]*)\)\s*$", re.DOTALL)
_SAMPLE_TOKEN = re.compile(r"(\d+)|(\s+)|(.)", re.DOTALL)


class AmbiguousSampleError(WikiFactsError):
    """Today's sample reads the same with day and month swapped (e.g. 12. 12.), and nothing tells them apart."""


def derive_signature_format(sample: str, written_at: datetime, facts: WikiFacts, *,
                            day_first: bool | None = None) -> str:
    """MediaWiki date-format letters of what the wiki wrote for `~~~~~` at `written_at` (UTC).

    Raises WikiFactsError when the sample cannot say (a number that is neither day, month nor
    year, a field missing), AmbiguousSampleError when day and month are the same number and
    neither the wiki's month names (ko "12월", vi "tháng 12") nor `day_first` (which of the two
    comes first) tells them apart.
    """
    m = _SAMPLE.match(sample)
    if not m:
        raise WikiFactsError(f"the wiki's ~~~~~ sample {sample!r} does not end in '(<time zone>)'")
    local = written_at.astimezone(ZoneInfo(facts.timezone))
    reading = _SampleReading(sample, m.group("date"), local, facts, day_first)
    fmt, fields = reading.letters()
    if not ({"Y", "H", "i"} <= fields and fields & {"j", "d"} and fields & {"n", "m", *_MONTH_NAMES}):
        raise WikiFactsError(f"the wiki's ~~~~~ sample {sample!r} lacks a date field (read as {fmt!r})")
    return fmt


@dataclass
class _SampleReading:
    """One sample read left to right: literal text, names (month, weekday), numbers (time, day, month, year)."""
    sample: str
    text: str
    local: datetime
    facts: WikiFacts
    day_first: bool | None

    def letters(self) -> tuple[str, set[str]]:
        slots = self._name_slots()
        named_month = any(letter in _MONTH_NAMES for _, _, letter in slots)
        tokens = [(t.start(), t.end(), t.group(1)) for t in _SAMPLE_TOKEN.finditer(self.text)]
        month_at = None if named_month else self._numeric_month_start(tokens)
        out, fields, literal, pos, i = [], set(), "", 0, 0
        while i < len(tokens):
            start, end, digits = tokens[i]
            slot = next((s for s in slots if s[0] == start), None)
            if start < pos or (slot is None and digits is None):
                literal += self.text[start:end] if start >= pos else ""
                pos, i = max(pos, end), i + 1
                continue
            if literal:
                out.append(_quoted(literal))
                literal = ""
            if slot is not None:
                letter, pos, i = slot[2], slot[1], i + 1
            elif self.text[end:end + 1] == ":" and i + 2 < len(tokens) and tokens[i + 2][2] is not None:
                letter, pos, i = self._time(digits, tokens[i + 2][2]), tokens[i + 2][1], i + 3
            else:
                letter = self._number(digits, start, named_month, month_at, out)
                pos, i = end, i + 1
            out.append(letter)
            fields |= {"H", "i"} if ":" in letter else {letter}
        if literal:
            out.append(_quoted(literal))
        return "".join(out), fields

    def _name_slots(self) -> list[tuple[int, int, str]]:
        """(start, end, letter) of the month and weekday names that stand alone: ko "(일)" is Sunday,
        the "일" of "6일" is not. Names holding digits (cs "12.", ko "12월") are numbers, read later."""
        local, facts = self.local, self.facts
        slots: list[tuple[int, int, str]] = []
        for letter, names in [*((k, facts.months[local.month - 1][i:i + 1]) for k, i in _MONTH_NAMES.items()),
                              ("D", facts.weekdays[local.weekday():local.weekday() + 1])]:
            for name in names:
                if letter in _MONTH_NAMES and re.search(r"\d", name):
                    continue
                for found in re.finditer(rf"(?<![\w]){re.escape(name)}(?![\w])", self.text):
                    if not any(s < found.end() and found.start() < e for s, e, _ in slots):
                        slots.append((found.start(), found.end(), letter))
                        break
        return slots

    def _numeric_month_start(self, tokens) -> int | None:
        """Where the month's number stands when day and month are equal, if one of the wiki's month
        names with digits covers exactly one of the two numbers: ko "12월 12일", vi "ngày 12 tháng 12".
        cs "12." covers both and tells nothing."""
        local, text = self.local, self.text
        if local.day != local.month:
            return None
        names = [n for n in self.facts.months[local.month - 1] if re.search(r"\d", n)]
        spans = [f.span() for n in names for f in re.finditer(rf"(?<![\w]){re.escape(n)}(?![\w])", text)]
        equal = [start for start, end, digits in tokens if digits is not None and int(digits) == local.month
                 and ":" not in text[max(start - 1, 0):start] + text[end:end + 1]]    # not the hour or minute
        covered = {s for s in equal if any(a <= s < b for a, b in spans)}
        return covered.pop() if len(covered) == 1 and len(equal) > 1 else None

    def _time(self, hour: str, minute: str) -> str:
        local = self.local
        if int(hour) != local.hour or int(minute) != local.minute:
            raise WikiFactsError(f"the wiki's ~~~~~ sample {self.sample!r} is not the time it was written "
                                 f"({local:%H:%M} in {self.facts.timezone})")
        return ("H" if len(hour) == 2 and int(hour) < 10 else "G") + ":i"

    def _number(self, digits: str, start: int, named_month: bool, month_at: int | None, out: list[str]) -> str:
        value, local = int(digits), self.local
        padded = len(digits) == 2 and value < 10
        if len(digits) == 4 and value == local.year:
            return "Y"
        is_day, is_month = value == local.day, value == local.month and not named_month
        if is_day and is_month:
            is_day = self._day_of_two(value, start, month_at, out)
        elif not (is_day or is_month):
            raise WikiFactsError(f"the wiki's ~~~~~ sample {self.sample!r}: {digits!r} is neither the day, the "
                                 f"month nor the year of {local:%Y-%m-%d}")
        if is_day:
            return "d" if padded else "j"
        return "m" if padded else "n"

    def _day_of_two(self, value: int, start: int, month_at: int | None, out: list[str]) -> bool:
        """Is this number, equal to both the day and the month, the day?"""
        if month_at is not None:
            return start != month_at
        if self.day_first is None:
            raise AmbiguousSampleError(f"the wiki's ~~~~~ sample {self.sample!r} cannot tell the day from the "
                                       f"month (both {value})")
        first = not any(letter in out for letter in ("j", "d", "n", "m"))
        return first == self.day_first


def _quoted(text: str) -> str:
    """Literal text in a date format: letters quoted, as MediaWiki's own formats do."""
    return f'"{text}"' if re.search(r"[^\W\d_]", text) or '"' in text or "\\" in text else text


# -- from the wiki's answers ------------------------------------------------------------------------

def _name(text: str) -> str:
    return " ".join(text.replace("_", " ").split()).lower()


def facts_from_answers(siteinfo: dict, allmessages: dict, *, signature_format: str | None = None,
                       sample: str | None = None, sample_time: str | None = None,
                       unsigned_templates: dict[str, tuple[int, int]] | None = None,
                       text_templates=(), remembered_format: str | None = None) -> WikiFacts:
    """WikiFacts from `meta=siteinfo&siprop=general|namespaces|namespacealiases|specialpagealiases` and
    `meta=allmessages` (formatversion 2), and the format: `signature_format` when configured, else
    derived from `sample` (what `~~~~~` became at `sample_time`, "YYYY-MM-DDTHH:MM:SSZ"), see
    `with_signature_format` for a day the sample cannot tell day from month."""
    query = siteinfo.get("query", siteinfo)
    general = query.get("general") or {}
    lang, zone = general.get("lang"), general.get("timezone")
    if not lang or not zone:
        raise WikiFactsError("siteinfo has no general.lang or general.timezone")
    namespaces: dict[int, set[str]] = {}
    for ns in (query.get("namespaces") or {}).values():
        names = namespaces.setdefault(int(ns["id"]), set())
        names.update(_name(n) for n in (ns.get("name"), ns.get("canonical")) if n)
    for alias in query.get("namespacealiases") or []:
        namespaces.setdefault(int(alias["id"]), set()).add(_name(alias["alias"]))
    contributions = next((entry.get("aliases") or [] for entry in query.get("specialpagealiases") or []
                          if entry.get("realname") == "Contributions"), [])
    messages = {}
    for m in (allmessages.get("query", allmessages).get("allmessages") or []):
        if not m.get("missing") and m.get("content", m.get("*")) is not None:
            messages[m["name"]] = m.get("content", m.get("*"))
    needed = [name for name in message_names() if name not in messages]
    if needed:
        raise WikiFactsError(f"allmessages lacks {', '.join(needed[:5])}")
    months = tuple(tuple(dict.fromkeys(messages[k[i]] for k in (MONTH_MESSAGES, MONTH_GEN_MESSAGES,
                                                                 MONTH_ABBR_MESSAGES))) for i in range(12))
    weekdays = tuple(messages[name] for name in WEEKDAY_ABBR_MESSAGES)
    zone_names = {}
    for abbr in _zone_history(zone):
        text = messages.get(f"timezone-{abbr.lower()}")
        if text:
            zone_names[text] = abbr
    facts = WikiFacts(lang, zone, {k: frozenset(v) for k, v in namespaces.items()},
                      frozenset(_name(a) for a in [*contributions, "Contributions"]), months, weekdays,
                      zone_names, signature_format or "", dict(unsigned_templates or {}),
                      frozenset(_name(t) for t in text_templates))
    return with_signature_format(facts, configured=signature_format, sample=sample, sample_time=sample_time,
                                 remembered=remembered_format)


# Where a WikiFacts' signature format came from (`WikiFacts.format_source`).
CONFIGURED, SAMPLE, REMEMBERED, LANGUAGE = "config", "sample", "remembered", "language"


def with_signature_format(facts: WikiFacts, *, configured: str | None, sample: str | None, sample_time: str | None,
                          remembered: str | None = None) -> WikiFacts:
    """The facts with their signature format: the configured one, else derived from today's sample.

    On a day whose sample reads the same with day and month swapped (12. 12. on cs) and whose month
    names do not tell (ko "12월" does): the format `remembered` from an earlier day if it reads
    today's sample, else the order of day and month in the language's CLDR date pattern (Babel),
    else AmbiguousSampleError.
    """
    if configured:
        compile_signature_format(configured, facts)
        return replace(facts, signature_format=configured, format_source=CONFIGURED)
    if not sample or not sample_time:
        raise WikiFactsError("no signature_format in the config and no ~~~~~ sample from the wiki")
    written = datetime.strptime(sample_time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    try:
        return replace_format(facts, _derive(sample, written, facts), SAMPLE)
    except AmbiguousSampleError as ambiguous:
        if remembered and reads_sample(remembered, facts, sample, written):
            return replace_format(facts, remembered, REMEMBERED)
        day_first = language_day_first(facts.lang)
        if day_first is None:
            known = "no earlier day's format that reads it is remembered" if remembered is None else \
                f"the remembered format {remembered!r} does not read it"
            raise AmbiguousSampleError(f"{ambiguous}; {known}, and the language {facts.lang!r} has no CLDR date "
                                       f"pattern to tell: set signature_format in the wiki's config") from None
        return replace_format(facts, _derive(sample, written, facts, day_first=day_first), LANGUAGE)


def _derive(sample: str, written: datetime, facts: WikiFacts, **order) -> str:
    try:
        return derive_signature_format(sample, written, facts, **order)
    except AmbiguousSampleError:
        raise
    except WikiFactsError:
        # `curtimestamp` is taken after the text was saved: the minute may just have turned.
        return derive_signature_format(sample, written - timedelta(seconds=60), facts, **order)


def language_day_first(lang: str) -> bool | None:
    """Does the language's CLDR short date pattern put the day before the month (cs "dd.MM.yy": yes,
    ko "yy. M. d.": no)? None when Babel does not know the language or the pattern has no d and M."""
    try:
        pattern = Locale.parse(lang.replace("-", "_")).date_formats["short"].pattern
    except (UnknownLocaleError, ValueError, KeyError):
        return None
    fields = re.sub(r"'[^']*'", "", pattern)
    day, month = fields.find("d"), fields.find("M")
    return None if day < 0 or month < 0 else day < month


def read_sample(fmt: str, facts: WikiFacts, sample: str) -> str | None:
    """The UTC time ("YYYY-MM-DDTHH:MM:SSZ") a signature date in format `fmt` says, None if it is none."""
    match = compile_signature_format(fmt, facts).fullmatch(sample.strip())
    return facts.to_utc(match) if match else None


def reads_sample(fmt: str, facts: WikiFacts, sample: str, written: datetime) -> bool:
    """Does `fmt` read what the wiki wrote for `~~~~~` at `written` as that minute (or the one before)?"""
    minutes = {(written - timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:00Z") for s in (0, 60)}
    try:
        return read_sample(fmt, facts, sample) in minutes
    except WikiFactsError:
        return False


def replace_format(facts: WikiFacts, fmt: str, source: str = SAMPLE) -> WikiFacts:
    compile_signature_format(fmt, facts)    # a derived format must read back, or say why not
    return replace(facts, signature_format=fmt, format_source=source)
