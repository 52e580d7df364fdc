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
