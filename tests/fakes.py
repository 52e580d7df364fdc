"""Test doubles for the adapters, for unit tests of jobs (no servers).

`FakePhab` and `FakeWiki` implement `ConduitPort` and `WikiPort` (bot/adapters/ports.py),
the types of `JobContext.phab` and `.wikis`; tests/unit/test_ports.py checks that every
Protocol method of theirs, and each override in a test's subclass, accepts what the real
adapter accepts, and that theirs carry the adapter's write marks. A test that needs
something special (a slow or refusing server) subclasses them.

They keep the adapters' contracts: FakeWiki refuses an edit based on a stale
revision exactly like MediaWiki with `baserevid`, and FakePhab pages results and
can fail midway like a real Conduit fetch.
"""
from __future__ import annotations

import itertools
from dataclasses import replace

from bot.adapters.wiki import PageState, RecentChange
from bot.adapters.phab import comments_of, transaction_from_conduit
from bot.adapters.writes import write_method
from bot.domain.tasks import PhabUser, Task
from bot.domain.weekly import parse_mw_timestamp
from bot.errors import Blocked, EditConflict, NotFound, PartialData, Protected


class FakePhab:
    """Phabricator as jobs see it through `ConduitPort` (bot/adapters/ports.py).

    `tasks` are what the bot may see; `users` maps PHID -> username; `histories` holds
    `transaction.search` rows per object (monogram, or PHID for objects that are not
    in `tasks`), newest first, as Conduit answers. `calls` records one entry per request.
    """

    def __init__(self, tasks=(), users=None, projects=None, *, bot_phid="PHID-USER-bot", bot_username="GrowthBot",
                 now=1_795_000_000):
        self.tasks = {t.id: t for t in tasks}
        self.users = users or {}
        self.projects = projects or {"growth-team": "PHID-PROJ-growth"}
        self.calls: list[tuple[str, dict]] = []
        self.fail_search = False
        self.bot_phid = bot_phid
        self.bot_username = bot_username
        self.now = now                        # dateCreated of the bot's comments
        self.closers: dict[int, str] = {}     # task id -> PHID of who closed it
        self.subscribers: dict[int, set[str]] = {}
        self.histories: dict[str, list[dict]] = {}
        self.comments: list[tuple[int, str]] = []   # the bot's comments the server acknowledged
        self.fail_transactions: Exception | None = None
        # Raised once by the next comment(), after the server recorded it: an answer lost on the way.
        self.fail_comment: Exception | None = None

    def whoami(self):
        self.calls.append(("user.whoami", {}))
        return PhabUser(self.bot_phid, self.bot_username)

    def project_phids(self, slugs):
        self.calls.append(("project.search", {"slugs": list(slugs)}))
        return {s: self.projects[s] for s in slugs}

    def search_tasks(self, *, projects=(), task_ids=(), statuses=(), subtypes=(), modified_start=None,
                     authors=(), closers=(), subscribers=(), created_start=None, created_end=None,
                     closed_start=None, closed_end=None):
        self.calls.append(("maniphest.search", {"projects": list(projects), "modified_start": modified_start,
                                                "statuses": list(statuses)}))
        if self.fail_search:
            raise PartialData("Conduit maniphest.search: stopped after 1 page(s) of results: boom")

        def within(value, lo, hi):
            return value is not None and (lo is None or value >= lo) and (hi is None or value <= hi)

        return [t for t in self.tasks.values()
                if (not projects or set(projects) & set(t.projects))
                and (not task_ids or t.id in task_ids)
                and (not statuses or t.status in statuses)
                and (not subtypes or t.subtype in subtypes)
                and (modified_start is None or t.date_modified >= modified_start)
                and (not authors or t.author_phid in authors)
                and (not closers or self.closers.get(t.id) in closers)
                and (not subscribers or set(subscribers) & self.subscribers.get(t.id, set()))
                and (created_start is None and created_end is None or within(t.date_created, created_start, created_end))
                and (closed_start is None and closed_end is None or within(t.date_closed, closed_start, closed_end))]

    def user_names(self, phids):
        self.calls.append(("user.search", {"phids": sorted(phids)}))
        return {p: self.users[p] for p in phids if p in self.users}

    def users_by_name(self, usernames):
        usernames = list(usernames)
        self.calls.append(("user.search", {"usernames": usernames}))
        wanted = {u.lower() for u in usernames}
        return [PhabUser(phid, name) for phid, name in self.users.items() if name.lower() in wanted]

    def last_change_by_others(self, task_id, author_phid, *, look_back=20):
        self.calls.append(("transaction.search", {"object": f"T{task_id}", "limit": look_back}))
        return self.tasks[task_id].date_modified

    def transactions(self, object_id, *, author_phids=(), phids=()):
        self.calls.append(("transaction.search", {"object": object_id, "phids": list(phids)}))
        if self.fail_transactions:
            raise self.fail_transactions
        # Read the way the adapter reads Conduit's rows, so a row it would refuse fails here too.
        history = [transaction_from_conduit(r) for r in self.histories.get(self._key(object_id), [])]
        return [x for x in history
                if (not author_phids or x.author_phid in author_phids) and (not phids or x.phid in phids)]

    def task_comments(self, task_id, *, author_phids=()):
        return comments_of(self.transactions(f"T{int(task_id)}", author_phids=author_phids))

    @write_method
    def comment(self, task_id, text):
        self.calls.append(("maniphest.edit", {"object": f"T{task_id}"}))
        phid = self.add_comment(task_id, self.bot_phid, text, self.now)
        if self.fail_comment:
            exc, self.fail_comment = self.fail_comment, None
            raise exc
        self.comments.append((task_id, text))
        return [phid]

    # -- the server side, for setting up a test ----------------------------------------------
    def add_comment(self, task_id, author_phid, text, when, *, removed=False):
        """A comment made on the server (by anyone); returns its transaction PHID."""
        history = self.histories.setdefault(f"T{task_id}", [])
        phid = f"PHID-XACT-T{task_id}-{len(history)}"
        # Phorge removes a comment by adding a removed version, and then blanks every version's text.
        versions = ([{"content": {"raw": ""}, "removed": True}, {"content": {"raw": ""}, "removed": False}]
                    if removed else [{"content": {"raw": text}, "removed": False}])
        history.append({"phid": phid, "type": "comment", "authorPHID": author_phid, "dateCreated": when,
                        "comments": versions})
        history.sort(key=lambda r: -int(r.get("dateCreated") or 0))      # newest first, as Conduit answers
        return phid

    def change(self, task_id, **fields):
        task = self.tasks[task_id]
        self.tasks[task_id] = replace(task, date_modified=task.date_modified + 1, **fields)

    def _key(self, object_id):
        for t in self.tasks.values():
            if object_id == t.phid:
                return t.monogram
        return object_id


class FakeWikiSettings:
    def __init__(self, code="cs", language="cs", username="TestBot"):
        self.code, self.language, self.username = code, language, username
        self.min_edit_interval_minutes = 0
        self.run_page = None
        self.run_value = "run"
        self.timezone = "Europe/Prague"
        self.api_url = f"https://{code}.wikipedia.example/w/api.php"
        from tests.wiki_facts import wiki_settings
        words = wiki_settings(language)
        self.unsigned_templates, self.text_templates = words.unsigned_templates, words.text_templates
        self.signature_format = None


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
        self.code = self.settings.code
        self.users: set[str] = set()                   # accounts that exist
        self.contribs: list = []                       # bot.domain.weekly.Contribution
        self.accounts: list[dict] = []                 # new accounts: {"user", "timestamp"}
        self.tagged_edits: list[dict] = []             # {"user", "timestamp", "tags"}
        self.extensions: set[str] = set()
        self.discussion: dict[int, list[dict]] = {}    # revid -> DiscussionTools thread items
        self.namespaces: dict[int, set[str]] = {0: {""}, 2: {"User"}, 3: {"User talk"}, 4: {"Project"},
                                                14: {"Category"}}
        self.summaries: dict[int, str] = {}            # revid -> edit summary
        self.sections: list[tuple[str, str, str, str]] = []   # (title, heading, text, summary) of section=new
        self.replies: list[tuple[str, str, str]] = []  # (title, comment id, wikitext) of DiscussionTools replies
        self.generator = "MediaWiki 1.43.0"
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

    def recent_changes(self, since, namespaces=(), limit=500):
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


    # -- the rest of WikiPort (bot/adapters/ports.py), answered from the state above ---------------
    @write_method(when="write")
    def api(self, *, write=False, **params):
        if not write and params.get("meta") == "userinfo":
            return {"query": {"userinfo": {"id": 1, "name": self.settings.username}}}
        if not write and (params.get("meta") in ("siteinfo", "allmessages") or params.get("action") == "parse"):
            # The answers the real local wiki of this language gave to the wiki-facts reads.
            from tests.wiki_facts import api_answer
            return api_answer(self.settings.language, params)
        raise AssertionError(f"FakeWiki.api has no answer for {params} (write={write}); "
                             f"use or add a WikiPort method")

    @write_method
    def new_section(self, title, heading, text, summary, *, createonly=False):
        if self.blocked:
            raise Blocked(f"{self.blocked}; nothing sent")
        if createonly and title in self.pages:
            raise NotFound(f"wiki {self.code} page {title!r}: articleexists", "articleexists")
        self.sections.append((title, heading, text, summary))
        old = self.text(title) + "\n\n" if title in self.pages else ""
        revid = self.edit(title, old + f"== {heading} ==\n{text}", user=self.settings.username)
        self.summaries[revid] = f"/* {heading} */ {summary}"
        return revid

    @write_method
    def discussiontools_add_comment(self, title, comment_id, wikitext, summary):
        if self.blocked:
            raise Blocked(f"{self.blocked}; nothing sent")
        self.replies.append((title, comment_id, wikitext))
        revid = self.edit(title, self.text(title) + f"\n: {wikitext}", user=self.settings.username)
        self.summaries[revid] = summary
        return revid

    def read_targets(self, titles, *, category=None):
        out = {}
        for t in dict.fromkeys(titles):
            prefix = t.split(":", 1)[0] if ":" in t else ""
            ns = next((n for n, names in self.namespaces.items() if prefix in names), 0)
            text = self.text(t) if t in self.pages else ""
            out[t] = {"title": t, "ns": ns, "exists": t in self.pages, "invalid": None, "redirected": False,
                      "double_redirect": False, "text": text, "revid": self.pages[t][-1][0] if t in self.pages else 0,
                      "in_category": bool(category) and f"[[{category}]]" in text}
        return out

    def users_exist(self, names):
        return {n for n in names if n in self.users}

    def _revisions(self, title):
        """Oldest first, as dicts like the adapter's (revid, parentid, title, user, timestamp, comment, text)."""
        stamps = {rc.revid: rc.timestamp for rc in self.rc}
        revs, parent = [], 0
        for revid, user, text in self.pages.get(title, []):
            revs.append({"revid": revid, "parentid": parent, "title": title, "user": user,
                         "timestamp": stamps.get(revid, ""), "comment": self.summaries.get(revid, ""), "text": text})
            parent = revid
        return revs

    def page_history(self, title, *, limit=50, content=False):
        revs = [dict(r, text=r["text"] if content else "") for r in reversed(self._revisions(title))]
        return revs[:limit], len(revs) <= limit

    def revisions_by_id(self, revids):
        wanted = set(revids)
        return {r["revid"]: r for title in self.pages for r in self._revisions(title) if r["revid"] in wanted}

    def revisions_since(self, title, since, *, content=True, limit=5000):
        revs = [r for r in self._revisions(title) if r["timestamp"] >= since]
        return [dict(r, text=r["text"] if content else "") for r in revs][:limit]

    def revisions_in_namespaces(self, since, namespaces):
        return [rc for rc in self.rc if rc.timestamp >= since and rc.namespace in set(namespaces)]

    def user_contributions(self, users, start, end):
        lo, hi = parse_mw_timestamp(start), parse_mw_timestamp(end)
        users = set(users)
        return [c for c in self.contribs if c.user in users and lo <= c.timestamp <= hi]

    def new_accounts(self, start, end):
        return [a for a in self.accounts if start <= a["timestamp"] <= end]

    def contributions_with_tags(self, users, start, end):
        users = set(users)
        return [e for e in self.tagged_edits if e["user"] in users and start <= e["timestamp"] <= end]

    def tagged_changes(self, tag, start, end):
        return [{"user": e["user"], "timestamp": e["timestamp"]} for e in self.tagged_edits
                if tag in e["tags"] and start <= e["timestamp"] <= end]

    def discussion_items(self, title, revid=None):
        return self.discussion.get(revid, [])

    def has_extension(self, name):
        return name in self.extensions

    def deployed_code_info(self):
        return {"generator": self.generator, "wikiid": f"{self.code}wiki"}, []

    def namespace_names(self, ns):
        return set(self.namespaces.get(ns, set()))

    def index_url(self):
        return f"https://{self.code}.example.org/w/index.php"


def task(id, title="Task", status="open", priority=50, modified=1_795_000_000, policy="public", owner=None, **kw):
    return Task(id=id, phid=f"PHID-TASK-{id}", title=title, status=status, priority=priority,
                date_modified=modified, view_policy=policy, owner_phid=owner,
                projects=kw.pop("projects", ("PHID-PROJ-growth",)), **kw)
