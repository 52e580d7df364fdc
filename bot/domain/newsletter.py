"""What a newsletter edition contains, who gets it, and when it may be published.

Pure: no network. The job reads pages and tasks, these functions decide.

Approval, precisely. A draft page carries one marker
`<!-- ambassador-bot:newsletter status=draft -->`; a human approves by changing
`draft` to `ready`. The *approving revision* is the oldest revision of the newest
unbroken run of revisions whose marker says `ready` (the edit that switched it to
ready). The draft is approved when the current revision says `ready` and its body
(the text without the bot's own `<!-- ambassador-bot:... -->` comments, trailing
space ignored) is identical to the approving revision's body. Any later change of
the body, by anyone, means nobody approved the current text: it is "changed after
approval" and must be approved again (the bot sets the marker back to `draft` so
one edit to `ready` re-approves). Once publication of an edition has begun, the
approved body is frozen in the state store and later draft edits change nothing.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Collection, Iterable, Sequence
from zoneinfo import ZoneInfo

import mwparserfromhell

from bot.domain.tasks import Task, publishable

# -- editions ------------------------------------------------------------------------------

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


# -- sections --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Section:
    kind: str                  # resolved | progress | opened
    tasks: tuple[Task, ...]
    total: int                 # before the per-section cap


def build_sections(tasks: Iterable[Task], period: tuple[int, int], kinds: Sequence[str], *,
                   resolved_statuses=("resolved",), progress_statuses=("progress",),
                   max_per_section: int = 30) -> list[Section]:
    """Public tasks per section, each task in at most one section (the first of resolved, progress, opened).

    resolved: closed with a resolved status inside the period; progress: in a
    progress status now; opened: created in the period and still open.
    """
    start, end = period
    by_kind: dict[str, list[Task]] = {"resolved": [], "progress": [], "opened": []}
    for t in publishable({t.id: t for t in tasks}.values()):
        if t.status in resolved_statuses and t.date_closed is not None and start <= int(t.date_closed) < end:
            by_kind["resolved"].append(t)
        elif t.status in progress_statuses:
            by_kind["progress"].append(t)
        elif start <= t.date_created < end and t.date_closed is None:
            by_kind["opened"].append(t)
    sections = []
    for kind in kinds:
        rows = sorted(by_kind[kind], key=lambda t: (-t.priority, t.id))
        if rows:
            sections.append(Section(kind, tuple(rows[:max_per_section]), len(rows)))
    return sections


_TASK_LINK_RE = re.compile(r"\[\[\s*phab:T(\d+)\s*[|\]]", re.IGNORECASE)


def mentioned_task_ids(text: str) -> list[int]:
    """Tasks an edition links to (`[[phab:T123|...]]`), in order of first mention."""
    return list(dict.fromkeys(int(m.group(1)) for m in _TASK_LINK_RE.finditer(text)))


# -- delivery lists ----------------------------------------------------------------------------

@dataclass(frozen=True)
class DeliveryList:
    targets: tuple[str, ...]        # page titles as written, in order, duplicates kept
    problems: tuple[str, ...]       # one line per unusable entry


_INVALID_TITLE = re.compile(r"[\[\]{}<>|#\x00-\x1f\x7f]")


def parse_delivery_list(text: str, *, local_sites: Iterable[str] = ()) -> DeliveryList:
    """Targets of a MassMessage delivery list: JSON list content or wikitext.

    Wikitext forms: `{{target|page=Title}}`, `{{target|user=Name}}` (their talk
    page) and MassMessage's `{{#target:Title|site}}`. A `site` other than one of
    `local_sites` (e.g. `cs.wikipedia.org`) is reported and skipped: this bot
    delivers on its own wiki only.
    """
    local = {s.lower() for s in local_sites}
    stripped = text.lstrip()
    if stripped.startswith("{") and not stripped.startswith("{{"):
        return _parse_json_list(stripped, local)
    targets: list[str] = []
    problems: list[str] = []
    for template in mwparserfromhell.parse(text).filter_templates(recursive=True):
        name = str(template.name).strip()
        line = str(template).replace("\n", " ")[:120]
        if name.lower().startswith("#target:"):
            page = name.split(":", 1)[1].strip()
            site = str(template.params[0].value).strip() if template.params else ""
        elif name[:1].lower() + name[1:] == "target" or name.replace("_", " ").lower() == "target":
            page = _param(template, "page")
            user = _param(template, "user")
            site = _param(template, "site")
            if not page and user:
                page = f"User talk:{user}"
        else:
            continue
        _add_target(page, site, line, local, targets, problems)
    return DeliveryList(tuple(targets), tuple(problems))


def _param(template, name: str) -> str:
    return str(template.get(name).value).strip() if template.has(name) else ""


def _parse_json_list(text: str, local: set[str]) -> DeliveryList:
    try:
        data = json.loads(text)
    except ValueError as exc:
        return DeliveryList((), (f"the list is neither wikitext nor valid JSON ({exc.msg} at line {exc.lineno})",))
    raw = data.get("targets") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        return DeliveryList((), ("the JSON list has no 'targets' array",))
    targets: list[str] = []
    problems: list[str] = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or not isinstance(entry.get("title"), str):
            problems.append(f"targets[{i}]: not an object with a 'title'")
            continue
        site = entry.get("site") if isinstance(entry.get("site"), str) else ""
        _add_target(entry["title"], site, f"targets[{i}]", local, targets, problems)
    return DeliveryList(tuple(targets), tuple(problems))


def _add_target(page: str, site: str, where: str, local: set[str], targets: list[str], problems: list[str]) -> None:
    page = page.replace("_", " ").strip()
    if site and local and site.lower() not in local:
        problems.append(f"{where}: on another site ({site}); skipped")
    elif not page:
        problems.append(f"{where}: no page named")
    elif _INVALID_TITLE.search(page) or len(page.encode()) > 255:
        problems.append(f"{where}: invalid page title {page!r}")
    else:
        targets.append(page)


# -- approval ------------------------------------------------------------------------------------

STATUS_MARKER = "<!-- ambassador-bot:newsletter status={status} -->"
# `status=ready`, optionally followed by `send=<time>` and/or `force` (see marker_options).
_STATUS_RE = re.compile(r"<!--\s*ambassador-bot:newsletter\s+status\s*=\s*([A-Za-z]+)((?:\s[^<>]*?)?)\s*-->")
READY, DRAFT = "ready", "draft"
_FORCE_RE = re.compile(r"(?<!\S)force(?!\S)", re.IGNORECASE)
_SEND_RE = re.compile(r"(?<!\S)send\s*=\s*(.*)$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class MarkerOptions:
    force: bool = False        # the approver publishes an untouched or empty edition on purpose
    send: str | None = None    # the send time as written, in the wiki's time zone
    unknown: str = ""          # anything else: the marker then approves nothing


def _options(extra: str) -> MarkerOptions:
    force = bool(_FORCE_RE.search(extra))
    rest = _FORCE_RE.sub(" ", extra)
    send = None
    m = _SEND_RE.search(rest)
    if m:
        send = " ".join(m.group(1).split()) or None
        rest = rest[:m.start()]
    return MarkerOptions(force, send, " ".join(rest.split()))


def marker_options(text: str) -> MarkerOptions:
    """The options after the status word: `status=ready send=2026-12-14 09:00 force`."""
    found = _STATUS_RE.findall(text)
    return _options(found[0][1]) if len(found) == 1 else MarkerOptions()


def draft_status(text: str) -> str | None:
    """`draft`, `ready`, another word a human wrote, or None without exactly one marker.

    An unknown option after the word (`status=ready soon`) makes it another word: no approval.
    """
    found = _STATUS_RE.findall(text)
    if len(found) != 1:
        return None
    word, extra = found[0]
    unknown = _options(extra).unknown
    return f"{word.lower()} {unknown}" if unknown else word.lower()


def status_marker(status: str, options: MarkerOptions = MarkerOptions()) -> str:
    extra = (f" send={options.send}" if options.send else "") + (" force" if options.force else "")
    return f"<!-- ambassador-bot:newsletter status={status}{extra} -->"


def set_status(text: str, status: str) -> str:
    """The marker set to `status`; a send time stays, `force` goes when it is set back to draft."""
    options = marker_options(text)
    if status != READY:
        options = MarkerOptions(False, options.send)
    marker = status_marker(status, options)
    return _STATUS_RE.sub(lambda _m: marker, text, count=1)


def with_force(text: str) -> str:
    """The marker with `force` added (the operator's `approve --force`, said on the wiki too)."""
    found = _STATUS_RE.search(text)
    if found is None:
        return text
    options = _options(found.group(2))
    marker = status_marker(found.group(1).lower(), MarkerOptions(True, options.send))
    return text[:found.start()] + marker + text[found.end():]


_HELP_RE = re.compile(r"<!--\s*ambassador-bot:help\b[^<>]*?-->")


def set_help(text: str, help_text: str) -> str:
    """The draft with its help comment replaced (or added under the marker when missing)."""
    comment = "<!-- ambassador-bot:help " + safe_comment(help_text) + " -->"
    if _HELP_RE.search(text):
        return _HELP_RE.sub(lambda _m: comment, text, count=1)
    m = _STATUS_RE.search(text)
    if m is None:
        return text
    return text[:m.end()] + "\n" + comment + text[m.end():]


def help_of(text: str) -> str | None:
    m = _HELP_RE.search(text)
    return m.group(0) if m else None


def safe_comment(text: str) -> str:
    """Text that can sit inside one of the bot's comments: no `<`, `>`, `--`, one line."""
    return " ".join(text.replace("<", "‹").replace(">", "›").replace("--", "–").split())


# Tags whose content MediaWiki does not parse: a `<!--` inside them is text, not a comment.
_UNPARSED_TAGS = ("nowiki", "pre", "syntaxhighlight", "source", "math", "chem", "ce", "score", "hiero",
                  "timeline", "graph", "templatedata", "mapframe", "maplink")
_TOKEN_RE = re.compile(r"<!--|<(" + "|".join(_UNPARSED_TAGS) + r")(?=[\s/>])[^>]*?(/?)>", re.IGNORECASE)
# The bot's own comments never hold `<` or `>`; one that does could swallow a closing tag.
_BOT_COMMENT_RE = re.compile(r"<!--\s*ambassador-bot:[^<>]*-->\Z")


def _comments(text: str):
    """(start, end) of each comment, found left to right as MediaWiki's preprocessor does."""
    pos = 0
    while True:
        m = _TOKEN_RE.search(text, pos)
        if m is None:
            return
        if m.group() == "<!--":
            close = text.find("-->", m.end())
            end = len(text) if close < 0 else close + 3
            yield m.start(), end
            pos = end
        elif m.group(2):                      # <nowiki/>
            pos = m.end()
        else:
            close = re.compile(rf"</{m.group(1)}\s*>", re.IGNORECASE).search(text, m.end())
            pos = close.end() if close else m.end()   # an unclosed tag is text; parsing goes on


def draft_body(text: str) -> str:
    """The publishable text: the draft without the bot's own comments (markers, help).

    Comments are found as MediaWiki finds them (from `<!--` to the first `-->`, never
    inside <nowiki>, <pre> and the like), so bot-looking text inside a person's comment
    or a <nowiki> stays. A bot comment on a line of its own goes with its line; one
    inside a line becomes an empty comment, because deleting it would join what it
    separates (`~~<!-- … -->~~` would turn into a signature, `{<!-- … -->{x}}` into a
    template) in text nobody approved.
    """
    out, pos = [], 0
    for start, end in _comments(text):
        if not _BOT_COMMENT_RE.match(text[start:end]):
            continue
        own_line = (start == 0 or text[start - 1] == "\n") and (end == len(text) or text[end] == "\n")
        out.append(text[pos:start])
        if own_line:
            end = min(end + 1, len(text))
        else:
            out.append("<!-- -->")
        pos = end
    out.append(text[pos:])
    return "".join(out).strip() + "\n"


def body_hash(text: str) -> str:
    return hashlib.sha256(draft_body(text).encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Revision:
    revid: int
    user: str
    timestamp: str
    text: str
    comment: str = ""


@dataclass(frozen=True)
class Approval:
    state: str                         # missing | no-marker | draft | approved | changed | not-approver
    current: Revision | None = None
    approving: Revision | None = None  # the revision that set `ready`
    changed_by: tuple[str, ...] = ()   # who changed the body after approval

    @property
    def approved(self) -> bool:
        return self.state == "approved"


def approval(history: Sequence[Revision], *, complete: bool = True, approvers: Collection[str] = ()) -> Approval:
    """Decide approval from the draft's history, newest revision first.

    `complete` says the history reaches the page's first revision; when it does
    not and every revision shown says `ready`, the oldest shown is taken as the
    approving one only if it is the page's creation (else the caller fetches more).
    With `approvers` (user names; the bot itself belongs there, for CLI approval),
    `ready` set by anyone else approves nothing: state `not-approver`.
    """
    if not history:
        return Approval("missing")
    current = history[0]
    status = draft_status(current.text)
    if status is None:
        return Approval("no-marker", current)
    if status != READY:
        return Approval("draft", current)
    approving = current
    for rev in history[1:]:
        if draft_status(rev.text) != READY:
            break
        approving = rev
    else:
        if not complete:
            raise ValueError("history too short to find the approving revision")
    if approvers and normal_user(approving.user) not in {normal_user(a) for a in approvers}:
        return Approval("not-approver", current, approving)
    newer = list(history[:history.index(approving)])
    if body_hash(approving.text) == body_hash(current.text):
        return Approval("approved", current, approving)
    changed = tuple(dict.fromkeys(r.user for r in reversed(newer)
                                  if body_hash(r.text) != body_hash(approving.text)))
    return Approval("changed", current, approving, changed)


# -- idempotency keys and their markers -------------------------------------------------------------

def title_digest(title: str) -> str:
    return hashlib.sha1(normal_title(title).encode()).hexdigest()[:16]


def delivery_key(edition: str, code: str, title: str) -> str:
    return f"nl:{edition}:{code}:{title_digest(title)}"


def comment_key(edition: str, code: str, task_id: int) -> str:
    return f"nlc:{edition}:{code}:T{int(task_id)}"


def page_key(edition: str, code: str) -> str:
    return f"nlp:{edition}:{code}"


def key_marker(key: str) -> str:
    return f"<!-- ambassador-bot:key={key} -->"


def has_key_marker(text: str, key: str) -> bool:
    return re.search(r"<!--\s*ambassador-bot:key=" + re.escape(key) + r"\s*-->", text) is not None


_DIRECTION_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e"))


def normal_user(name: str) -> str:
    """A user name as MediaWiki stores it: NFC, no direction marks, spaces, first letter title-cased
    (`ß…` is `Ss…`, as MediaWiki has it, not `SS…`)."""
    name = " ".join(unicodedata.normalize("NFC", name).translate(_DIRECTION_MARKS).replace("_", " ").split())
    return name[:1].title() + name[1:]


def normal_title(title: str) -> str:
    title = " ".join(title.replace("_", " ").split())
    return title[:1].upper() + title[1:]


def page_url(api_url: str, title: str) -> str:
    """The reader's URL of a page, from the wiki's api.php URL."""
    base = api_url[:-len("api.php")] if api_url.endswith("api.php") else api_url.rstrip("/") + "/"
    return base + "index.php?title=" + urllib.parse.quote(normal_title(title).replace(" ", "_"), safe="/:")


# -- Czech typography ----------------------------------------------------------------------------------

_CS_PREPOSITION = re.compile(r"(?<![\w&#;.-])([vkszouaiVKSZOUAI]) +(?=\S|$)")
_CS_DATE = re.compile(r"(\d{1,2}\.) +(?=\d{1,2}\. |\d{1,2}\.&nbsp;|[a-zá-ž]+ +\d{4})")
_CS_MONTH_YEAR = re.compile(r"(\b(?:leden|únor|březen|duben|květen|červen|červenec|srpen|září|říjen|listopad|prosinec|"
                            r"ledna|února|března|dubna|května|června|července|srpna|října|listopadu|prosince|"
                            r"\d{1,2}\.)) +(\d{4})\b")


def czech_typography(wikitext: str) -> str:
    """`&nbsp;` after one-letter prepositions and conjunctions and inside dates, in running text only.

    Comments, link targets, template names and tags are left alone; link labels
    are treated as running text. Applying it twice changes nothing more.
    """
    code = mwparserfromhell.parse(wikitext)
    _typeset(code)
    return str(code)


def _typeset(code) -> None:
    for node in code.nodes:
        kind = type(node).__name__
        if kind == "Text":
            node.value = _cs_line(node.value)
        elif kind == "Wikilink" and node.text is not None:
            _typeset(node.text)
        elif kind == "Heading":
            _typeset(node.title)
        elif kind == "Tag" and node.contents is not None and str(node.tag).lower() in ("b", "i", "small", "span", "li"):
            _typeset(node.contents)


def _cs_line(text: str) -> str:
    text = _CS_PREPOSITION.sub(r"\1&nbsp;", text)
    text = _CS_DATE.sub(r"\1&nbsp;", text)
    return _CS_MONTH_YEAR.sub(r"\1&nbsp;\2", text)


def has_edition_marker(text: str, edition: str, code: str) -> bool:
    """Whether any delivery of this edition on this wiki already landed on the page.

    The key is built from the target's title, which changes when a talk page is
    moved or its user renamed; the edition and wiki do not, so a page that already
    carries a copy under its old name is not delivered to again.
    """
    prefix = f"nl:{edition}:{code}:"
    return re.search(r"<!--\s*ambassador-bot:key=" + re.escape(prefix) + r"[0-9a-f]+\s*-->", text) is not None


# -- guards: what is not published without an explicit "force" ------------------------------------------



def _plain(text: str) -> str:
    return " ".join(text.replace("&nbsp;", " ").replace("\xa0", " ").split())


def says_nothing_happened(body: str, sentences: Iterable[str]) -> bool:
    """Whether the text still carries the "nothing changed" sentence of an empty period
    (`sentences`: that sentence in every language, the message `newsletter-nothing-happened`)."""
    plain = _plain(body)
    return any(_plain(sentence) in plain for sentence in sentences if sentence.strip())


def untouched(history: Sequence[Revision], text: str, bot_user: str) -> bool:
    """Whether `text`'s body is one the bot itself wrote: no person changed what it generated.

    A person's edit that was reverted to the bot's text counts as untouched, since the text is the bot's.
    """
    bot = normal_user(bot_user)
    target = body_hash(text)
    hashes = [body_hash(r.text) for r in history]
    # Only the bot's revisions that wrote a body count (a draft); its marker and help edits keep a person's body.
    return any(normal_user(r.user) == bot and hashes[i] == target and (i + 1 == len(history) or hashes[i + 1] != target)
               for i, r in enumerate(history))


def forced(history: Sequence[Revision], approving: Revision | None, approvers: Collection[str] = ()) -> bool:
    """Whether the approver said `force` in the marker, from the approving revision to the current one.

    With `approvers`, only a revision by one of them counts.
    """
    if approving is None or approving not in history:
        return False
    allowed = {normal_user(a) for a in approvers}
    run = history[:history.index(approving) + 1]
    return any(marker_options(r.text).force and (not allowed or normal_user(r.user) in allowed) for r in run)


# -- send times: when an approved edition goes out -------------------------------------------------

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
