"""What a weekly check-in report contains: week boundaries and the grouping of activity.

Pure and standard library only. A week is an ISO week (Monday 00:00 to the next
Monday 00:00) in one wiki's time zone, so its length is 167, 168 or 169 hours
around daylight-saving changes; every count uses half-open intervals
[start, end) so an edit at Monday 00:00:00 belongs to exactly one week.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Iterable
from zoneinfo import ZoneInfo

WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
# MediaWiki's automatic section summary: "/* Heading */ rest of the summary".
_SECTION_RE = re.compile(r"/\*\s*(.*?)\s*\*/")


@dataclass(frozen=True)
class Week:
    label: str          # ISO week, e.g. "2026-W47"
    tz: str
    start: int          # epoch seconds, inclusive
    end: int            # epoch seconds, exclusive

    @property
    def last_second(self) -> int:
        return self.end - 1

    def contains(self, epoch: float) -> bool:
        return self.start <= epoch < self.end


@dataclass(frozen=True)
class Contribution:
    """One edit from `list=usercontribs`."""

    user: str
    revid: int
    title: str
    ns: int
    timestamp: int      # epoch seconds
    comment: str = ""
    sizediff: int = 0
    new: bool = False
    minor: bool = False


def parse_label(label: str) -> tuple[int, int]:
    m = WEEK_RE.match(label)
    if not m:
        raise ValueError(f"not an ISO week like 2026-W47: {label!r}")
    year, week = int(m.group(1)), int(m.group(2))
    date.fromisocalendar(year, week, 1)  # raises ValueError for week 53 of a 52-week year
    return year, week


def week_bounds(label: str, tz: str) -> Week:
    """The ISO week `label` in time zone `tz` (local midnights, DST-aware)."""
    year, number = parse_label(label)
    zone = ZoneInfo(tz)
    monday = date.fromisocalendar(year, number, 1)
    start = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
    nxt = monday + timedelta(days=7)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone)
    return Week(label, tz, int(start.timestamp()), int(end.timestamp()))


def week_label(epoch: float, tz: str) -> str:
    local = datetime.fromtimestamp(epoch, timezone.utc).astimezone(ZoneInfo(tz))
    year, number, _ = local.isocalendar()
    return f"{year}-W{number:02d}"


def previous_week(epoch: float, tz: str) -> Week:
    """The last complete week before the moment `epoch`, in `tz`."""
    current = week_bounds(week_label(epoch, tz), tz)
    return week_bounds(week_label(current.start - 1, tz), tz)


def mw_timestamp(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_mw_timestamp(value: str) -> int:
    return int(datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())


def namespace_name(title: str, ns: int) -> str:
    """The namespace prefix as the wiki spells it ("" for articles), without a siteinfo request."""
    if ns == 0 or ":" not in title:
        return ""
    return title.split(":", 1)[0]


def is_talk(ns: int) -> bool:
    return ns >= 1 and ns % 2 == 1


def section_of(comment: str) -> str | None:
    m = _SECTION_RE.search(comment or "")
    return m.group(1) if m and m.group(1) else None


def summarize_contributions(contribs: Iterable[Contribution], week: Week) -> dict:
    """Edits of the week grouped by namespace and page, as plain data for a template.

    Talk pages are grouped a second time as `discussions`, with the sections the
    user wrote in (from the automatic `/* section */` summaries).
    """
    pages: dict[str, dict] = {}
    for c in sorted(contribs, key=lambda c: (c.timestamp, c.revid)):
        if not week.contains(c.timestamp):
            continue
        page = pages.setdefault(c.title, {"title": c.title, "ns": c.ns, "edits": 0, "created": False,
                                          "sizediff": 0, "sections": [], "first": c.timestamp, "last": c.timestamp})
        page["edits"] += 1
        page["created"] = page["created"] or c.new
        page["sizediff"] += c.sizediff
        page["last"] = c.timestamp
        section = section_of(c.comment)
        if section and section not in page["sections"]:
            page["sections"].append(section)
    by_ns: dict[int, list[dict]] = defaultdict(list)
    for page in pages.values():
        by_ns[page["ns"]].append(page)
    namespaces = []
    for ns in sorted(by_ns):
        members = sorted(by_ns[ns], key=lambda p: (-p["edits"], p["title"]))
        namespaces.append({"ns": ns, "name": namespace_name(members[0]["title"], ns), "talk": is_talk(ns),
                           "edits": sum(p["edits"] for p in members), "pages": members})
    edits = sum(p["edits"] for p in pages.values())
    return {
        "edits": edits,
        "pages": len(pages),
        "created": sum(1 for p in pages.values() if p["created"]),
        "bytes_added": sum(p["sizediff"] for p in pages.values() if p["sizediff"] > 0),
        "namespaces": namespaces,
        "discussions": [p for ns in namespaces if ns["talk"] for p in ns["pages"]],
    }


# -- what the bot itself posted (read from the state store's post records) -------------------

def post_wiki(key: str, target: str, wiki_codes: Iterable[str]) -> str | None:
    """The wiki a post belongs to: the target's "cs:" prefix, else a key segment naming a wiki.

    Other jobs write their own key formats; this reads any of them that name the wiki.
    """
    codes = set(wiki_codes)
    prefix = target.split(":", 1)[0]
    if prefix in codes and ":" in target:
        return prefix
    for segment in re.split(r"[:|/#]", key):
        if segment in codes:
            return segment
    return None


# Key prefixes of bot/jobs/newsletter.py (bot/domain/newsletter.py) and bot/jobs/feedback.py.
_NEWSLETTER_KINDS = {"nl": "delivery", "nld": "drafted", "nlp": "published", "nla": "edit", "nls": "edit"}
_FEEDBACK_PREFIXES = ("fb-phab",)


def _edition(key: str) -> str:
    parts = key.split(":")
    if parts[0].lower() in _NEWSLETTER_KINDS and len(parts) > 1:
        return parts[1]
    for i, part in enumerate(parts):
        if "newsletter" in part.lower() and i + 1 < len(parts):
            return parts[i + 1]
    return ""


def _newsletter_kind(post) -> str | None:
    prefix = post.key.split(":", 1)[0].lower()
    if prefix in _NEWSLETTER_KINDS:
        return _NEWSLETTER_KINDS[prefix]
    if post.kind == "newsletter-message" or ("newsletter" in post.key.lower() and post.kind == "message"):
        return "delivery"
    if "newsletter" in post.key.lower() and post.kind == "edit":
        return "edit"
    return None


def summarize_posts(posts: Iterable, week: Week, wiki: str, wiki_codes: Iterable[str]) -> dict:
    """Newsletter work and forwarded feedback the bot recorded for one wiki in the week.

    `posts` are store records (key, kind, target, created_at). Newsletter records are
    recognised by the newsletter job's key prefixes (nl: delivery, nld: draft, nlp:
    published page, nla:/nls: archive and status edits) or by "newsletter" in the key;
    forwarded feedback by the feedback job's "fb-phab:" task comments or "feedback" in
    the key of a task comment.
    """
    codes = tuple(wiki_codes)
    editions: dict[str, dict] = {}
    feedback = 0
    for post in posts:
        if not week.contains(post.created_at) or post_wiki(post.key, post.target, codes) != wiki:
            continue
        kind = _newsletter_kind(post)
        if kind is not None:
            name = _edition(post.key)
            edition = editions.setdefault(name, {"edition": name, "deliveries": 0, "edits": 0,
                                                 "drafted": False, "published": False})
            if kind == "delivery":
                edition["deliveries"] += 1
            else:
                edition["edits"] += 1
                edition["drafted"] = edition["drafted"] or kind == "drafted"
                edition["published"] = edition["published"] or kind == "published"
        elif post.kind == "task-comment" and (post.key.split(":", 1)[0].lower() in _FEEDBACK_PREFIXES
                                              or "feedback" in post.key.lower()):
            feedback += 1
    items = [editions[k] for k in sorted(editions)]
    return {"newsletters": items, "deliveries": sum(e["deliveries"] for e in items), "feedback": feedback}


# -- Phabricator activity ------------------------------------------------------------------

def summarize_tasks(created: Iterable[dict], closed: Iterable[dict], comments: dict[int, int],
                    tasks_by_id: dict[int, dict], *, public_only: bool) -> dict:
    """Tasks created, commented on and closed in the week.

    `tasks_by_id` maps ids to {"id", "title", "public", "status"}. With
    `public_only` (reports posted on a wiki) a non-public task is left out
    entirely, number included; otherwise (a Phabricator comment) it keeps its
    number, which Phabricator shows only to those allowed to see it, and loses
    its title.
    """
    def shown(task: dict) -> dict | None:
        if task["public"]:
            return dict(task)
        if public_only:
            return None
        return {**task, "title": ""}

    def listed(ids) -> list[dict]:
        out = []
        for task_id in sorted(set(ids)):
            item = shown(tasks_by_id[task_id])
            if item is not None:
                out.append({**item, "comments": comments.get(task_id, 0)})
        return out

    made = listed(t["id"] for t in created)
    shut = listed(t["id"] for t in closed)
    talked = listed(i for i, n in comments.items() if n > 0)
    return {"created": made, "closed": shut, "commented": talked,
            "comments": sum(t["comments"] for t in talked)}


# -- which week, and its names -----------------------------------------------------------------

WEEK_MODES = ("so_far", "last_complete")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def report_week(epoch: float, tz: str, mode: str = "so_far") -> Week:
    """The week a report run at `epoch` covers: the current ISO week (so far) or the last complete one."""
    if mode == "last_complete":
        return previous_week(epoch, tz)
    return week_bounds(week_label(epoch, tz), tz)


def post_time(week: Week, post_at: tuple[int, int, int] | None) -> int:
    """When the report of `week` is first posted: `post_at` (weekday 0=Mon, hour, minute) in the week's zone.

    None means at the week's first run (its start).
    """
    if post_at is None:
        return week.start
    weekday, hour, minute = post_at
    zone = ZoneInfo(week.tz)
    monday = datetime.fromtimestamp(week.start, zone).date()
    day = monday + timedelta(days=weekday)
    return int(datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).timestamp())


def parse_post_at(value: str) -> tuple[int, int, int]:
    """'fri 12:00' -> (4, 12, 0)."""
    m = re.fullmatch(r"\s*([a-zA-Z]{3})[a-zA-Z]*\s+(\d{1,2}):(\d{2})\s*", value or "")
    if not m or m.group(1).lower() not in WEEKDAYS or int(m.group(2)) > 23 or int(m.group(3)) > 59:
        raise ValueError(f"must be a weekday and a time like 'fri 12:00', got {value!r}")
    return WEEKDAYS.index(m.group(1).lower()), int(m.group(2)), int(m.group(3))


# -- time spent: activity sessions (Geiger & Halfaker 2013) ---------------------------------------

SESSION_GAP = 3600       # edits less than one hour apart belong to one session
SESSION_LEAD = 430       # a session starts 430 s before its first edit


def sessions(timestamps: Iterable[int]) -> list[dict]:
    """Activity sessions from edit times: [{"start", "first", "last", "edits", "seconds"}], oldest first.

    Two consecutive edits belong to the same session when they are *less than*
    3600 s apart (a gap of exactly one hour starts a new session). A session lasts
    from 430 s before its first edit to its last edit, so a one-edit session is 430 s.
    """
    out: list[dict] = []
    for t in sorted(timestamps):
        if out and t - out[-1]["last"] < SESSION_GAP:
            out[-1]["last"] = t
            out[-1]["edits"] += 1
        else:
            out.append({"first": t, "last": t, "edits": 1})
    for s in out:
        s["start"] = s["first"] - SESSION_LEAD
        s["seconds"] = s["last"] - s["start"]
    return out


def time_spent(timestamps: Iterable[int], budget_hours: float | None) -> dict:
    found = sessions(timestamps)
    seconds = sum(s["seconds"] for s in found)
    return {"sessions": len(found), "seconds": seconds, "hours": round(seconds / 3600, 1),
            "minutes": round(seconds / 60), "budget_hours": budget_hours}


# -- plans: a section of a wiki page ------------------------------------------------------------------

_HEADING_RE = re.compile(r"^(={1,6})\s*(.*?)\s*\1\s*$", re.MULTILINE)


def section_text(text: str, heading: str | None) -> str | None:
    """The body of the first section titled `heading` (up to the next heading of the same or a higher
    level), or the whole text without `heading`. None when there is no such section."""
    if text is None:
        return None
    if not heading:
        return text.strip()
    want = " ".join(heading.split())
    for m in _HEADING_RE.finditer(text):
        if " ".join(m.group(2).split()) != want:
            continue
        level = len(m.group(1))
        body_start = m.end()
        end = len(text)
        for n in _HEADING_RE.finditer(text, body_start):
            if len(n.group(1)) <= level:
                end = n.start()
                break
        return text[body_start:end].strip()
    return None


def replace_marked_section(text: str, marker: str, heading: str, body: str) -> str | None:
    """`text` with the section that holds `marker` rewritten as `== heading ==` + body + marker.

    What follows the marker in that section (a reply written under the report) stays.
    None when no section holds the marker.
    """
    at = text.find(marker)
    if at < 0:
        return None
    start = 0
    for m in re.finditer(r"^==[^=].*==[ \t]*$", text[:at], re.MULTILINE):
        start = m.start()
    end = at + len(marker)
    # "\n\n" after the heading, as MediaWiki writes a new section (section=new).
    return text[:start] + f"== {heading} ==\n\n" + body.rstrip("\n") + "\n" + marker + text[end:]


# -- newcomer pulse --------------------------------------------------------------------------------

def newcomer_pulse(accounts: Iterable[dict], contribs: Iterable[dict], questions: Iterable[dict],
                   week: Week, before: Week) -> dict:
    """Accounts created, how many edited, their edits reverted, and questions asked, this week and the one before.

    `accounts`: {"user", "timestamp"} from the newusers log; `contribs`: {"user", "timestamp",
    "tags"} of those accounts; `questions`: {"timestamp"} of tagged edits.
    An account counts in the week it was created; its edits count in the week they were made.
    """
    def count(w: Week) -> dict:
        users = {a["user"] for a in accounts if w.contains(a["timestamp"])}
        edits = [c for c in contribs if c["user"] in users and w.contains(c["timestamp"])]
        return {"accounts": len(users), "editors": len({c["user"] for c in edits}), "edits": len(edits),
                "reverted": sum(1 for c in edits if "mw-reverted" in (c.get("tags") or ())),
                "questions": sum(1 for q in questions if w.contains(q["timestamp"]))}
    return {"this": count(week), "before": count(before)}
