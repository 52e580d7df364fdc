"""Per wiki: is each resolved task's fix live there, and since when (docs/deployment.md).

Costs, on top of the status sync's own requests:

* a resolved task's history (`transaction.search`) is fetched once and remembered in the
  store; it is fetched again only when the task changed since (a later comment such as a
  backport's merge notice, or the task was reopened and resolved again);
* siteinfo (`siprop=general|extensions`, one request) at most once per wiki per cycle, and
  only while some resolved task shown there has a merged change not yet seen live: a fix
  seen live stays live (its "since" is remembered), so a wiki whose fixes are all live, or
  undecidable for lack of merged changes, costs nothing more.

"Since" is the time this bot first saw the fix live (first cycle whose siteinfo satisfied
the rule), not the deployment's own time, which no public API gives.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.domain.deployment import LIVE, PENDING, UNKNOWN, DeployedCode, MergedChange, deployed_code, merged_changes, \
    task_state
from bot.domain.tasks import Task
from bot.errors import BotError
from bot.jobs.base import JobContext

log = logging.getLogger(__name__)

NS_CHANGES = "deploy-changes"   # task id -> {"key": closed:modified, "changes": [...]}
NS_LIVE = "deploy-live"         # wiki:task:closed -> {"since": epoch, "wiki_id": "cswiki"}
NS_CODE = "deploy-code"         # wiki -> DeployedCode last read (used when siteinfo fails)
NS_BOTS = "deploy-review-bots"  # username -> PHID of a configured review bot
RESOLVED = "resolved"


@dataclass(frozen=True)
class Deployment:
    state: str                 # LIVE, PENDING, UNKNOWN
    since: int | None = None   # first seen live (epoch)
    wiki_id: str = ""


class DeploymentTracker:
    """One per status-sync cycle: remembers what it already asked within the cycle."""

    def __init__(self, ctx: JobContext, problems: list[str]):
        self.ctx = ctx
        self.problems = problems
        self._code: dict[str, DeployedCode | None] = {}
        self._changes: dict[int, list[MergedChange] | None] = {}
        self._authors: tuple[str, ...] | bool | None = None    # review bots' PHIDs; False: could not resolve

    # -- Phabricator: merged changes per task, remembered --------------------------------
    def changes(self, task: Task) -> list[MergedChange] | None:
        if task.id in self._changes:
            return self._changes[task.id]
        stored = self.ctx.store.get(NS_CHANGES, str(task.id))
        if self._authors is None:
            try:
                self._authors = self._review_bots()
            except BotError as exc:
                self.problems.append(f"deployment.review_bots: not resolved ({exc}); deployment shown from what "
                                     f"was known before")
                self._authors = False
        authors = self._authors or ()
        key = None if self._authors is False else f"{task.date_closed}:{task.date_modified}:{','.join(authors)}"
        if stored and (key is None or stored.get("key") == key):
            found = [MergedChange.from_json(c) for c in stored["changes"]]
        elif key is None:
            found = None
        else:
            try:
                rows = self.ctx.phab.transactions(task.monogram, author_phids=authors) if authors else \
                    self.ctx.phab.transactions(task.monogram)
                found = merged_changes(rows, authors=authors)
                self.ctx.store.put(NS_CHANGES, str(task.id), {"key": key, "changes": [c.to_json() for c in found]})
            except BotError as exc:
                self.problems.append(f"{task.monogram}: history not read ({exc}); deployment shown from what was "
                                     f"known before")
                found = [MergedChange.from_json(c) for c in stored["changes"]] if stored else None
        self._changes[task.id] = found
        return found

    def _review_bots(self) -> tuple[str, ...]:
        """PHIDs of `deployment.review_bots` (asked once, remembered); empty: every author counts."""
        options = self.ctx.settings.deployment
        names = options.review_bots if options is not None else ()
        if not names:
            return ()
        known = self.ctx.store.items(NS_BOTS)
        missing = [n for n in names if n not in known]
        if missing:
            for user in self.ctx.phab.users_by_name(missing):
                self.ctx.store.put(NS_BOTS, user.username, user.phid)
                known[user.username] = user.phid
            unknown = [n for n in missing if n not in known]
            if unknown:
                raise BotError(f"no Phabricator account named {', '.join(unknown)}")
        return tuple(sorted(known[n] for n in names))

    # -- the wiki: siteinfo once per cycle, only when needed ------------------------------
    def code(self, wiki: str) -> DeployedCode | None:
        if wiki not in self._code:
            try:
                general, extensions = self.ctx.wikis[wiki].deployed_code_info()
                found = deployed_code(general, extensions, fallback_id=f"{wiki}wiki")
                if self.ctx.store.get(NS_CODE, wiki) != found.to_json():
                    self.ctx.store.put(NS_CODE, wiki, found.to_json())
            except BotError as exc:
                old = self.ctx.store.get(NS_CODE, wiki)
                self.problems.append(f"wiki {wiki}: siteinfo not read ({exc}); deployment shown from the last "
                                     f"siteinfo read" if old else f"wiki {wiki}: siteinfo not read ({exc})")
                found = DeployedCode.from_json(old) if old else None
            self._code[wiki] = found
        return self._code[wiki]

    def state(self, wiki: str, task: Task) -> Deployment | None:
        """None for a task that is not resolved; else its deployment on `wiki`."""
        if task.status != RESOLVED:
            return None
        live_key = f"{wiki}:{task.id}:{task.date_closed}"
        seen = self.ctx.store.get(NS_LIVE, live_key)
        if seen:
            return Deployment(LIVE, seen["since"], seen["wiki_id"])
        changes = self.changes(task)
        if not changes:
            return Deployment(UNKNOWN)
        code = self.code(wiki)
        if code is None:
            return Deployment(UNKNOWN)
        state = task_state(changes, code)
        if state == LIVE:
            since = int(self.ctx.clock())
            self.ctx.store.put(NS_LIVE, live_key, {"since": since, "wiki_id": code.wiki_id})
            log.info("wiki %s: %s is live (first seen now)", wiki, task.monogram, extra={"job": "status-sync"})
            return Deployment(LIVE, since, code.wiki_id)
        return Deployment(PENDING if state == PENDING else UNKNOWN)


# -- newsletters: "what is done" on this wiki -------------------------------------------------

WAITING = "waiting"     # a newsletter section: resolved, merged, not yet live on the wiki


def split_done(ctx: JobContext, code: str, sections: list, problems: list[str]) -> list:
    """With `deployment.newsletters` on: the resolved section keeps the fixes live on `code` and those
    the data cannot decide (e.g. resolved without code); fixes certainly not live there yet move to a
    section of kind WAITING right after it. The same tracker and store as the status tables, so a
    draft and the tables say the same. Off: the sections as given, nothing asked."""
    from bot.domain.newsletter import Section

    options = ctx.settings.deployment
    if options is None or not options.newsletters:
        return sections
    tracker = DeploymentTracker(ctx, problems)
    out = []
    for section in sections:
        if section.kind != "resolved":
            out.append(section)
            continue
        waiting = [t for t in section.tasks if (tracker.state(code, t) or Deployment(UNKNOWN)).state == PENDING]
        done = [t for t in section.tasks if t not in waiting]
        if done:
            out.append(Section("resolved", tuple(done), section.total - len(waiting)))
        if waiting:
            out.append(Section(WAITING, tuple(waiting), len(waiting)))
    return out
