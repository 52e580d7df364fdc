"""Test doubles for the adapters, for unit tests of jobs (no servers).

They keep the adapters' contracts: FakeWiki refuses an edit based on a stale
revision exactly like MediaWiki with `baserevid`, and FakePhab pages results and
can fail midway like a real Conduit fetch.
"""
from __future__ import annotations

import itertools
from dataclasses import replace

from bot.adapters.wiki import PageState, RecentChange
from bot.adapters.writes import write_method
from bot.domain.tasks import Task
from bot.errors import Blocked, EditConflict, PartialData, Protected


class FakePhab:
    def __init__(self, tasks=(), users=None, projects=None):
        self.tasks = {t.id: t for t in tasks}
        self.users = users or {}
        self.projects = projects or {"growth-team": "PHID-PROJ-growth"}
        self.calls: list[tuple[str, dict]] = []
        self.fail_search = False

    def project_phids(self, slugs):
        self.calls.append(("project.search", {"slugs": list(slugs)}))
        return {s: self.projects[s] for s in slugs}

    def search_tasks(self, *, projects=(), task_ids=(), statuses=(), subtypes=(), modified_start=None):
        self.calls.append(("maniphest.search", {"projects": list(projects), "modified_start": modified_start,
                                                "statuses": list(statuses)}))
        if self.fail_search:
            raise PartialData("Conduit maniphest.search: stopped after 1 page(s) of results: boom")
        return [t for t in self.tasks.values()
                if (not projects or set(projects) & set(t.projects))
                and (not statuses or t.status in statuses)
                and (modified_start is None or t.date_modified >= modified_start)]

    def user_names(self, phids):
        self.calls.append(("user.search", {"phids": sorted(phids)}))
        return {p: self.users[p] for p in phids if p in self.users}

    def change(self, task_id, **fields):
        task = self.tasks[task_id]
        self.tasks[task_id] = replace(task, date_modified=task.date_modified + 1, **fields)


class FakeWikiSettings:
    def __init__(self, code="cs", language="cs", username="TestBot"):
        self.code, self.language, self.username = code, language, username
        self.min_edit_interval_minutes = 0
        self.run_page = None
        self.run_value = "run"
        self.timezone = "Europe/Prague"


class FakeWiki:
    def __init__(self, settings=None, pages=None):
        self.settings = settings or FakeWikiSettings()
        self.pages: dict[str, list[tuple[int, str, str]]] = {}   # title -> [(revid, user, text)]
        self._revids = itertools.count(100)
        self._rcids = itertools.count(1)
        self.rc: list[RecentChange] = []
        self.reads: list[list[str]] = []
        self.saves: list[str] = []
        self.protected: set[str] = set()
        self.before_save = None     # hook: called with the title before each save (to simulate a human)
        self.block = None           # the server side: why the bot's account is blocked, if it is
        self.blocked = None         # the adapter side: what the client knows (see WikiClient.blocked)
        self.block_checks = 0
        self.refused_for_block = 0  # writes that reached the server while blocked
        self.seconds = 0            # the fake server clock, one second per edit
        for title, text in (pages or {}).items():
            self.edit(title, text, user="OtherUser")

    def edit(self, title, text, user="OtherUser"):
        revid = next(self._revids)
        self.seconds += 1
        self.pages.setdefault(title, []).append((revid, user, text))
        self.rc.append(RecentChange(next(self._rcids), title, 4, revid, 0, user, self._stamp(), "edit", "", False))
        return revid

    def text(self, title):
        return self.pages[title][-1][2]

    def _stamp(self):
        return f"2026-11-24T00:{self.seconds // 60:02d}:{self.seconds % 60:02d}Z"

    def server_time(self):
        self.seconds += 1
        return self._stamp()

    def rc_position(self):
        self.seconds += 1
        return {"timestamp": self._stamp(), "rcid": self.rc[-1].rcid if self.rc else 0}

    def recent_changes(self, since, namespaces=()):
        return [rc for rc in self.rc if since is None or rc.timestamp >= since]

    def read_pages(self, titles):
        self.reads.append(list(titles))
        out = {}
        for t in titles:
            if t in self.pages:
                revid, _, text = self.pages[t][-1]
                out[t] = PageState(t, True, text, revid, "2026-11-24T00:00:00Z", "2026-11-24T00:00:00Z")
            else:
                out[t] = PageState(t, False)
        return out

    def block_reason(self):
        self.block_checks += 1
        self.blocked = self.block
        return self.blocked

    @write_method     # like WikiClient.save: refused unless the job's writer issued it
    def save(self, page, text, summary, minor=False, merge_ok=True):
        if self.blocked:
            raise Blocked(f"{self.blocked}; nothing sent")
        if self.block:
            self.refused_for_block += 1
            self.blocked = f"wiki cs page {page.title!r}: blocked: {self.block}"
            raise Blocked(self.blocked)
        if self.before_save:
            hook, self.before_save = self.before_save, None
            hook(page.title)
        if page.title in self.protected:
            raise Protected(f"wiki cs page {page.title!r}: protectedpage: protected", "protectedpage")
        if self.pages[page.title][-1][0] != page.revid:
            raise EditConflict(f"wiki cs page {page.title!r}: editconflict", "editconflict")
        self.saves.append(page.title)
        return self.edit(page.title, text, user=self.settings.username)


def task(id, title="Task", status="open", priority=50, modified=1_795_000_000, policy="public", owner=None, **kw):
    return Task(id=id, phid=f"PHID-TASK-{id}", title=title, status=status, priority=priority,
                date_modified=modified, view_policy=policy, owner_phid=owner,
                projects=kw.pop("projects", ("PHID-PROJ-growth",)), **kw)
