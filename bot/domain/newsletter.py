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
_STATUS_RE = re.compile(r"<!--\s*ambassador-bot:newsletter\s+status\s*=\s*([A-Za-z]+)\s*-->")
READY, DRAFT = "ready", "draft"


def draft_status(text: str) -> str | None:
    """`draft`, `ready`, another word a human wrote, or None without exactly one marker."""
    found = _STATUS_RE.findall(text)
    return found[0].lower() if len(found) == 1 else None


def set_status(text: str, status: str) -> str:
    return _STATUS_RE.sub(STATUS_MARKER.format(status=status), text, count=1)


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
