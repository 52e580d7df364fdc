"""What the bot knows of one wiki's language, read from the wiki itself (issue 15).

Namespace names and aliases (siteinfo `namespaces`, `namespacealiases`), the special
page `Contributions` and its aliases (`specialpagealiases`), the wiki's time zone
(`general.timezone`), month and weekday names and localized zone abbreviations
(`allmessages` in the content language), and the signature timestamp format. The
format is derived from what the wiki writes for `~~~~~` at a known time
(`derive_signature_format`) or taken from the per-wiki config (`signature_format`,
MediaWiki date-format letters) when the sample cannot tell day from month. The
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


def derive_signature_format(sample: str, written_at: datetime, facts: WikiFacts) -> str:
    """MediaWiki date-format letters of what the wiki wrote for `~~~~~` at `written_at` (UTC).

    Raises WikiFactsError when the sample cannot say (day and month the same number, a number
    that is neither, a field missing): the per-wiki `signature_format` is then needed.
    """
    m = _SAMPLE.match(sample)
    if not m:
        raise WikiFactsError(f"the wiki's ~~~~~ sample {sample!r} does not end in '(<time zone>)'")
    local = written_at.astimezone(ZoneInfo(facts.timezone))
    text = m.group("date")
    # Names first (they may hold spaces or digits, vi "tháng 12"); only where they stand alone: ko "(일)"
    # is Sunday, the "일" of "6일" is not.
    slots: list[tuple[int, int, str]] = []
    for letter, names in [*((k, facts.months[local.month - 1][i:i + 1]) for k, i in _MONTH_NAMES.items()),
                          ("D", facts.weekdays[local.weekday():local.weekday() + 1])]:
        for name in names:
            if letter in _MONTH_NAMES and re.search(r"\d", name):
                continue    # cs "12.", ko "12월", vi "tháng 12": the number is the month, read as one below
            for found in re.finditer(rf"(?<![\w]){re.escape(name)}(?![\w])", text):
                if not any(s < found.end() and found.start() < e for s, e, _ in slots):
                    slots.append((found.start(), found.end(), letter))
                    break
    out: list[str] = []
    fields: list[str] = []
    pos = 0
    literal = ""
    tokens = [(t.start(), t.end(), t.group(1)) for t in _SAMPLE_TOKEN.finditer(text)]
    i = 0
    named_month = any(letter in _MONTH_NAMES for _, _, letter in slots)
    while i < len(tokens):
        start, end, digits = tokens[i]
        slot = next((s for s in slots if s[0] == start), None)
        if start < pos:
            i += 1
            continue
        if slot is None and digits is None:
            literal += text[start:end]
            pos = end
            i += 1
            continue
        if literal:
            out.append(_quoted(literal))
            literal = ""
        if slot is not None:
            out.append(slot[2])
            fields.append(slot[2])
            pos = slot[1]
            i += 1
            continue
        value = int(digits)
        after = text[end:end + 1]
        if after == ":" and i + 2 < len(tokens) and tokens[i + 2][2] is not None:
            minute = tokens[i + 2][2]
            if value != local.hour or int(minute) != local.minute:
                raise WikiFactsError(f"the wiki's ~~~~~ sample {sample!r} is not the time it was written "
                                     f"({local:%H:%M} in {facts.timezone})")
            out.append(("H" if len(digits) == 2 and value < 10 else "G") + ":i")
            fields += ["H", "i"]
            pos = tokens[i + 2][1]
            i += 3
            continue
        if len(digits) == 4 and value == local.year:
            letter = "Y"
        elif value == local.day and value == local.month and not named_month:
            raise WikiFactsError(f"the wiki's ~~~~~ sample {sample!r} cannot tell the day from the month "
                                 f"(both {value}): set signature_format in the wiki's config")
        elif value == local.day:
            letter = "d" if len(digits) == 2 and value < 10 else "j"
        elif value == local.month and not named_month:
            letter = "m" if len(digits) == 2 and value < 10 else "n"
        else:
            raise WikiFactsError(f"the wiki's ~~~~~ sample {sample!r}: {digits!r} is neither the day, the "
                                 f"month nor the year of {local:%Y-%m-%d}")
        out.append(letter)
        fields.append(letter)
        pos = end
        i += 1
    if literal:
        out.append(_quoted(literal))
    fmt = "".join(out)
    has = set(fields)
    if not ({"Y", "H", "i"} <= has and has & {"j", "d"} and has & {"n", "m", *_MONTH_NAMES}):
        raise WikiFactsError(f"the wiki's ~~~~~ sample {sample!r} lacks a date field (read as {fmt!r})")
    return fmt


def _quoted(text: str) -> str:
    """Literal text in a date format: letters quoted, as MediaWiki's own formats do."""
    return f'"{text}"' if re.search(r"[^\W\d_]", text) or '"' in text or "\\" in text else text


# -- from the wiki's answers ------------------------------------------------------------------------

def _name(text: str) -> str:
    return " ".join(text.replace("_", " ").split()).lower()


def facts_from_answers(siteinfo: dict, allmessages: dict, *, signature_format: str | None = None,
                       sample: str | None = None, sample_time: str | None = None,
                       unsigned_templates: dict[str, tuple[int, int]] | None = None,
                       text_templates=()) -> WikiFacts:
    """WikiFacts from `meta=siteinfo&siprop=general|namespaces|namespacealiases|specialpagealiases` and
    `meta=allmessages` (formatversion 2), and the format: `signature_format` when configured, else
    derived from `sample` (what `~~~~~` became at `sample_time`, "YYYY-MM-DDTHH:MM:SSZ")."""
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
    if signature_format:
        compile_signature_format(signature_format, facts)
        return facts
    if not sample or not sample_time:
        raise WikiFactsError("no signature_format in the config and no ~~~~~ sample from the wiki")
    written = datetime.strptime(sample_time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    try:
        fmt = derive_signature_format(sample, written, facts)
    except WikiFactsError:
        # `curtimestamp` is taken after the text was saved: the minute may just have turned.
        fmt = derive_signature_format(sample, written - timedelta(seconds=60), facts)
    return replace_format(facts, fmt)


def replace_format(facts: WikiFacts, fmt: str) -> WikiFacts:
    compile_signature_format(fmt, facts)    # a derived format must read back, or say why not
    return replace(facts, signature_format=fmt)
