"""What changed on the watched pages since the stored cursor (also used by the mentions job)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from bot.domain.replies import normal_title
from bot.jobs.base import JobContext
from bot.jobs.feedback.state import JOB, log

RC_MAX_AGE = timedelta(days=25)     # Wikimedia keeps 30 days; leave a margin for a slow cycle


def parse_ts(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


@dataclass
class WatchResult:
    changes: list[Any]           # RecentChange-like: title, revid, old_revid, user, timestamp
    first_run: bool
    caught_up: bool
    pending_cursor: dict


@dataclass(frozen=True)
class Change:
    title: str
    revid: int
    old_revid: int
    user: str
    timestamp: str
    namespace: int = -1


def changes_since_cursor(ctx: JobContext, ns: str, code: str, titles: list[str],
                         namespaces: tuple[int, ...] = ()) -> WatchResult:
    """Edits to watched pages since the stored cursor: one request on a quiet cycle.

    The cursor is only *proposed* (`pending_cursor`); the caller stores it after
    it has recorded what it found, so a crash re-reads rather than skips.
    """
    wiki = ctx.wikis[code]
    cursor = ctx.store.get(ns, code)
    watched = {normal_title(t) for t in titles}
    if cursor is None:
        return WatchResult([], True, False, wiki.rc_position())
    since = parse_ts(cursor["timestamp"])
    if datetime.fromtimestamp(ctx.clock(), timezone.utc) - since > RC_MAX_AGE:
        return _catch_up(wiki, code, ns, cursor, watched, namespaces)
    changes = wiki.recent_changes(cursor["timestamp"], namespaces=())
    newest = dict(cursor)
    found = []
    for rc in changes:
        if rc.rcid <= cursor["rcid"]:
            continue
        newest = {"timestamp": rc.timestamp, "rcid": rc.rcid}
        title = normal_title(rc.title)
        if title in watched or rc.namespace in namespaces:
            found.append(Change(title, rc.revid, rc.old_revid, rc.user, rc.timestamp, rc.namespace))
    return WatchResult(found, False, False, newest)


def _catch_up(wiki, code: str, ns: str, cursor: dict, watched: set[str], namespaces: tuple[int, ...]) -> WatchResult:
    # Recent changes may no longer reach back to the cursor: read page histories.
    log.warning("wiki %s: %s cursor %s is older than %s; catching up from page histories", code, ns,
                cursor["timestamp"], RC_MAX_AGE.days, extra={"job": JOB})
    now = wiki.rc_position()   # taken before the histories are read, so nothing falls between
    found = []
    for title in sorted(watched):
        for rev in wiki.revisions_since(title, cursor["timestamp"], content=False):
            found.append(Change(normal_title(rev["title"]), rev["revid"], rev["parentid"], rev["user"],
                                rev["timestamp"]))
    if namespaces:
        for rc in wiki.revisions_in_namespaces(cursor["timestamp"], namespaces):
            if normal_title(rc.title) not in watched:
                found.append(Change(normal_title(rc.title), rc.revid, rc.old_revid, rc.user, rc.timestamp,
                                    rc.namespace))
    found.sort(key=lambda c: (c.timestamp, c.revid))
    return WatchResult(found, False, True, now)
