"""A small Conduit (Phorge API) server on 127.0.0.1 for tests and the demo.

It speaks the real wire format and returns the shapes and errors recorded from
a real Phorge (see ``tests/contract/conduit_samples/``):

* ``POST /api/<method>``, form-encoded, in three forms: arcanist
  (``params=<JSON with __conduit__.token>&output=json&__conduit__=1``),
  python-phabricator (``params=<JSON>&output=json``) and plain form fields
  (``api.token=...&constraints[statuses][0]=open``, loosely typed);
* every answer is HTTP 200 with ``{"result", "error_code", "error_info"}``;
* quirks of the real server are kept on purpose: no-op edits and empty
  comments succeed with ``transactions: []``, ``maniphest.edit`` stores an
  unknown status, ``feed.query`` answers ``[]`` when empty but an object keyed
  by story PHID otherwise, ``#slug``/``@user`` constraints match nothing.

Like the real server (``shared/phorge/README.md``, "Where the real server differs";
``tests/contract/test_conduit_differential.py`` sends the same calls to both and compares):

* visibility is per token: a task is seen when its view policy allows the caller
  (``public``, ``users`` = every account including bots, ``admin``, ``no-one``, a project
  PHID = members of that project, its subprojects' members, a milestone's parent's members)
  or the caller is its assignee, AND its Space allows the caller. ``maniphest.search`` leaves
  the others out silently; ``phid.lookup``/``phid.query`` omit them; ``transaction.search``
  answers ``ERR-INVALID-OBJECT-PHID`` for unknown objects and invisible ones named by
  monogram; ``maniphest.edit`` answers ``ERR-CONDUIT-CORE`` (monogram: "does not identify a
  valid object"; id or PHID: "You Shall Not Pass"). A view policy that would lock its editor
  out is refused. New tasks default to view policy ``users``;
* Spaces have their own view policy; the first one made (``create_space``) comes with a public
  default Space, in which every task made afterwards lives unless a ``space`` transaction
  says otherwise. A task in a restricted Space still reports its own ``policy.view``
  ("public") with ``spacePHID`` set. There is no ``spaces.search``: ``phid.query`` gives a
  Space's uri and fullName ("S2 Name"), and ``GET /S<n>`` answers an (always anonymous)
  reader with the Space's page (title "○ S2 · Name") when it is public, else HTTP 200 with
  a login page titled "Authentication Failure";
* ``project.edit`` makes subprojects (``parent``) and milestones (``milestone``); a
  ``projects`` constraint also matches tasks tagged only with a subproject or milestone, and
  a task removed from the project no longer matches;
* commenting subscribes a human actor but not a bot account; ``T123`` in a comment or a
  description adds a transaction with ``type: null`` to both tasks (once per pair);
* every edit, a bot's comment or being mentioned included, moves ``dateModified`` to the
  current second; several edits in one second keep the same value.

It is still a development sandbox, not Phorge: there are no workboards, task graphs, custom
fields or web sessions (every page reader is anonymous), project transactions are not kept,
and methods it does not implement answer ``ERR-CONDUIT-CALL``. Helpers mirror
``sandbox.phorge.PhorgeServer`` (``create_user``, ``create_project(parent=, milestone=)``,
``create_space``, ``create_task(space=)``, ``update_task(space=)``, ``comments``, ``task``,
``call(method, params, as_user=)``) so a test can run against either server.

Usage in tests::

    sb = ConduitSandbox(); sb.start()
    sb.clock = lambda: 1795476300          # deterministic timestamps
    tid = sb.create_task("Fix signup", projects=["growth-team"])
    Phabricator(host=sb.url + "api/", token=sb.bot_token).maniphest.search()

CLI: ``python -m sandbox.conduit --port 8470 --seed demo``.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import json
import random
import re
import socket
import sys
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["ConduitSandbox", "ConduitError", "seed_demo", "main"]

# --- static data, copied from the recorded Phorge answers (samples 52, 53, 02, 22) ---

STATUSES = [
    {"name": "Open", "value": "open", "closed": False, "special": "default"},
    {"name": "Resolved", "value": "resolved", "closed": True, "special": "closed"},
    {"name": "Wontfix", "value": "wontfix", "closed": True},
    {"name": "Invalid", "value": "invalid", "closed": True},
    {"name": "Duplicate", "value": "duplicate", "closed": True, "special": "duplicate"},
    {"name": "Spite", "value": "spite", "closed": True},
]
_STATUS_BY_KEY = {s["value"]: s for s in STATUSES}

PRIORITIES = [
    {"name": "Unbreak Now!", "keywords": ["unbreak"], "short": "Unbreak!", "color": "pink", "value": 100},
    {"name": "Needs Triage", "keywords": ["triage"], "short": "Triage", "color": "violet", "value": 90},
    {"name": "High", "keywords": ["high"], "short": "High", "color": "red", "value": 80},
    {"name": "Normal", "keywords": ["normal"], "short": "Normal", "color": "orange", "value": 50},
    {"name": "Low", "keywords": ["low"], "short": "Low", "color": "yellow", "value": 25},
    {"name": "Wishlist", "keywords": ["wish", "wishlist"], "short": "Wish", "color": "sky", "value": 0},
]
_PRIORITY_BY_VALUE = {p["value"]: p for p in PRIORITIES}
_PRIORITY_BY_KEYWORD = {k: p for p in PRIORITIES for k in p["keywords"]}
DEFAULT_PRIORITY = 90  # a task created over maniphest.edit starts as "Needs Triage"

EDIT_TYPES = (
    "parent, column, space, title, owner, status, priority, description, parents.add, "
    "parents.remove, parents.set, subtasks.add, subtasks.remove, subtasks.set, commits.add, "
    "commits.remove, commits.set, view, edit, projects.add, projects.remove, projects.set, "
    "subscribers.add, subscribers.remove, subscribers.set, subtype, comment, mfa"
).split(", ")
_SUPPORTED_EDIT_TYPES = {
    "title", "owner", "status", "priority", "description", "view", "edit", "space",
    "projects.add", "projects.remove", "projects.set",
    "subscribers.add", "subscribers.remove", "subscribers.set", "subtype", "comment",
}

TASK_BUILTIN_ORDERS = (
    "priority, order-priority, updated, order-modified, outdated, newest, created, "
    "order-created, oldest, closed, title, order-title, relevance"
).split(", ")

_PROJECT_ICONS = {
    "project": ("Project", "fa-briefcase"), "tag": ("Tag", "fa-tags"),
    "policy": ("Policy", "fa-lock"), "group": ("Group", "fa-users"),
    "folder": ("Folder", "fa-folder"), "timeline": ("Timeline", "fa-calendar"),
    "goal": ("Goal", "fa-flag-checkered"), "release": ("Release", "fa-truck"),
    "bugs": ("Bugs", "fa-bug"), "cleanup": ("Cleanup", "fa-trash-o"),
    "umbrella": ("Umbrella", "fa-umbrella"), "milestone": ("Milestone", "fa-map-marker"), "communication": ("Communication", "fa-envelope"),
    "organization": ("Organization", "fa-building"), "infrastructure": ("Infrastructure", "fa-cloud"),
    "account": ("Account", "fa-credit-card"), "experimental": ("Experimental", "fa-flask"),
}
_PROJECT_COLORS = {
    "red": "Red", "orange": "Orange", "yellow": "Yellow", "green": "Green", "blue": "Blue",
    "indigo": "Indigo", "violet": "Violet", "pink": "Pink", "grey": "Grey", "checkered": "Checkered",
}

# Parameters each method accepts (from conduit.query); anything else is
# ERR-CONDUIT-CALL "does not define these parameters" (sample 32).
_SEARCH_PARAMS = {"after", "attachments", "before", "constraints", "limit", "order", "queryKey"}
METHOD_PARAMS = {
    "conduit.ping": set(),
    "user.whoami": set(),
    "user.search": _SEARCH_PARAMS,
    "project.search": _SEARCH_PARAMS,
    "maniphest.search": _SEARCH_PARAMS,
    "maniphest.edit": {"objectIdentifier", "transactions"},
    "maniphest.status.search": set(),
    "maniphest.priority.search": set(),
    "transaction.search": {"after", "before", "constraints", "limit", "objectIdentifier", "objectType"},
    "phid.lookup": {"names"},
    "phid.query": {"phids"},
    "project.edit": {"objectIdentifier", "transactions"},
    "feed.query": {"after", "before", "filterPHIDs", "limit", "view"},
}
_UNAUTHENTICATED = {"conduit.ping"}
MAX_PAGE_SIZE = 100
_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


class ConduitError(Exception):
    """An error answered as ``{"result": null, "error_code": code, "error_info": info}``."""

    def __init__(self, info, code="ERR-CONDUIT-CORE"):
        super().__init__(info)
        self.code = code
        self.info = info


def _core(msg):
    return ConduitError(msg, "ERR-CONDUIT-CORE")


def _derived(kind, name, length):
    """Stable lowercase-alphanumeric string derived from a name (tokens and user PHIDs
    survive reset() and sandbox restarts, which keeps tests simple)."""
    digest = hashlib.sha256(f"{kind}:{name}".encode()).digest()
    return base64.b32encode(digest).decode().lower()[:length]


# --- PHP-ish value handling ------------------------------------------------------------

def _php_truthy(value):
    if isinstance(value, str):
        return value not in ("", "0")
    return bool(value)


def _listify(value):
    """PHP arrays with keys 0..n-1 are lists (that is how form fields arrive)."""
    if isinstance(value, dict):
        value = {k: _listify(v) for k, v in value.items()}
        if value and list(value.keys()) == [str(i) for i in range(len(value))]:
            return list(value.values())
        return value
    if isinstance(value, list):
        return [_listify(v) for v in value]
    return value


def parse_php_form(pairs):
    """Decode ``a[b][0]=x`` style form fields into nested dicts/lists like PHP does."""
    root = {}
    for key, value in pairs:
        if "[" in key and key.endswith("]"):
            head, rest = key.split("[", 1)
            parts = [head] + rest[:-1].split("][")
        else:
            parts = [key]
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "" and isinstance(node, dict):  # "a[]" appends
                part = str(len(node))
            if last:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                node = child
    return _listify(root)


def _read_list(value, key):
    if not isinstance(value, list):
        raise _core(f'Error while reading "{key}": Expected a list, but value is not a list.')
    return value


def _read_string_list(value, key):
    items = _read_list(value, key)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise _core(f'Error while reading "{key}": Expected a list of strings, but item with index "{i}" is not a string.')
    return items


def _read_int_list(value, key):
    items = _read_list(value, key)
    out = []
    for i, item in enumerate(items):
        if isinstance(item, str) and item.lstrip("-").isdigit():
            item = int(item)
        if not isinstance(item, int) or isinstance(item, bool):
            raise _core(f'Error while reading "{key}": Expected a list of integers, but item with index "{i}" is not an integer.')
        out.append(item)
    return out


def _read_int(value, key, what="integer"):
    if isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _core(f'Error while reading "{key}": Expected {what}, got something else.')
    return value


def _read_bool(value, key):
    if isinstance(value, str) and value.lower() in ("0", "1", "true", "false", ""):
        return value.lower() in ("1", "true")
    if not isinstance(value, bool):
        raise _core(f'Error while reading "{key}": Expected boolean, got something else.')
    return value


def _to_int_cursor(value, noun):
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise _core(f"{noun} IDs must be integer numbers.")


def _has_value(params, key):
    value = params.get(key)
    return value is not None and value != ""


# --- state objects -----------------------------------------------------------------------

class _User:
    def __init__(self, uid, username, realname, bot, admin, created):
        self.id = uid
        self.username = username
        self.realname = realname
        self.bot = bot
        self.admin = admin
        self.phid = "PHID-USER-" + _derived("user", username, 20)
        self.token = "api-" + _derived("token", username, 28)
        self.created = created
        self.modified = created


def _normal_slug(text):
    """Phorge's project slug normalisation: lowercase, runs of spaces and most punctuation -> "_"."""
    out = re.sub(r"[\s,;:/\\'\"<>()\[\]{}&#?%*+=!]+", "_", str(text).strip().lower())
    return out.strip("_")


class _Project:
    def __init__(self, pid, phid, name, slug, created):
        self.id = pid
        self.phid = phid
        self.name = name
        self.slug = slug            # primary slug (None for a milestone)
        self.slugs = [slug] if slug else []   # every hashtag that names the project
        self.parent = None          # PHID of the parent project (subprojects and milestones)
        self.milestone = None       # milestone number, or None
        self.description = ""
        self.icon = "project"
        self.color = "blue"
        self.members = []   # newest first, like Phorge's edge lists
        self.watchers = []
        self.created = created
        self.modified = created


class _Space:
    def __init__(self, sid, phid, name, view, created, default=False):
        self.id = sid
        self.phid = phid
        self.name = name
        self.view = view            # "public", "users", "admin", "no-one" or a project/user PHID
        self.edit = "admin" if view == "public" else view
        self.default = default
        self.created = created

    @property
    def monogram(self):
        return f"S{self.id}"


class _Task:
    FIELDS = ("title", "description", "owner", "status", "priority", "projects",
              "subscribers", "subtype", "view", "edit", "closer", "closed_at", "space")

    def __init__(self):
        self.id = None
        self.phid = None
        self.author = None
        self.title = ""
        self.description = ""
        self.owner = None
        self.status = "open"
        self.priority = DEFAULT_PRIORITY
        self.projects = []      # newest first
        self.subscribers = []   # newest first
        self.subtype = "default"
        self.view = "users"     # Phorge's default view policy for tasks
        self.edit = "users"
        self.interact = "users"
        self.closer = None
        self.closed_at = None
        self.space = None       # Space PHID; None for tasks made before any Space existed
        self.mentions = set()   # PHIDs of tasks this one mentions (the "mentioned in" edges)
        self.created = None
        self.modified = None

    def copy_state(self):
        return {f: (list(getattr(self, f)) if isinstance(getattr(self, f), list) else getattr(self, f))
                for f in self.FIELDS}


class _Xact:
    def __init__(self, type_, fields=None, comment=None):
        self.id = None
        self.phid = None
        self.type = type_           # type as transaction.search reports it (None if hidden)
        self.fields = fields or {}
        self.comment = comment      # raw text of a comment transaction
        self.comment_id = None
        self.comment_phid = None
        self.author = None
        self.object_phid = None
        self.date = None
        self.group = None


# "T123" as Phorge's remarkup links it: not inside a word, a path or a hashtag
_MENTION = re.compile(r"(?<![\w/#@.-])T(\d+)\b")


def _is_closed(status):
    # Unknown statuses (pitfall 26) behave as closed ones in Phorge.
    spec = _STATUS_BY_KEY.get(status)
    return True if spec is None else spec["closed"]


# --- the sandbox ---------------------------------------------------------------------------

class ConduitSandbox:
    """An in-memory Phorge with a Conduit endpoint on ``host:port`` (0 = free port)."""

    SEED_USERS = (
        # username, realname, bot, admin
        ("admin", "Admin Example", False, True),
        ("GrowthBot", "Growth Bot", True, False),
        ("alice", "Alice Example", False, False),
        ("bob", "Bob Example", False, False),
    )

    def __init__(self, host="127.0.0.1", port=0):
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}/" if port else None
        self.clock = time.time
        self.requests = []
        self._lock = threading.RLock()
        self._faults = {}
        self._delays = {}
        self._server = None
        self._thread = None
        self.reset()

    # -- lifecycle --

    def start(self):
        """Serve in a daemon thread; ``url`` is set once the port is known."""
        handler = type("_Handler", (_Handler,), {"sandbox": self})
        self._server = ThreadingHTTPServer((self.host, self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://{self.host}:{self.port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, name="conduit-sandbox", daemon=True)
        self._thread.start()

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def now(self):
        return int(self.clock())

    def reset(self):
        """Back to the seeded state: users GrowthBot/admin/alice/bob, nothing else."""
        with self._lock:
            self._rng = random.Random(1795476300)
            self.users = {}          # phid -> _User
            self.projects = {}       # phid -> _Project
            self.spaces = {}         # phid -> _Space (the first one made is the public default)
            self.space_names = {}    # name -> phid, for the helpers (create_task(space="Secret"))
            self.tasks = {}          # id -> _Task
            self.xacts = []          # every transaction, in id order
            self.stories = []        # feed stories, oldest first
            self.subtypes = {"default"}
            self._next = {"user": 1, "project": 1, "task": 1, "xact": 1, "comment": 1, "story": 1, "space": 1}
            self._last_story_epoch = 0
            self.user_tokens = {}
            for username, realname, bot, admin in self.SEED_USERS:
                self.create_user(username, realname, bot=bot, admin=admin)
            self.bot_token = self.user_tokens["GrowthBot"]
            self._faults.clear()
            self._delays.clear()
            self.clear_request_log()

    # -- ids --

    def _rand(self, n):
        return "".join(self._rng.choice(_ALNUM) for _ in range(n))

    def _next_id(self, kind):
        value = self._next[kind]
        self._next[kind] = value + 1
        return value

    # -- lookups --

    def _user_by_name(self, username):
        for user in self.users.values():
            if user.username.lower() == str(username).lower():
                return user
        return None

    def _user(self, ref):
        """A user by PHID or username (None if unknown)."""
        if ref is None:
            return None
        return self.users.get(ref) or self._user_by_name(ref)

    def _project_by_slug(self, slug):
        slug = str(slug).lower()
        for project in self.projects.values():
            if slug in project.slugs:
                return project
        return None

    # -- policies, Spaces and visibility (what the real server enforces) --

    def _project_members(self, project):
        """Members as policies see them: a milestone has its parent's members, a parent
        project also has the members of its subprojects."""
        if project.milestone is not None and project.parent in self.projects:
            return self._project_members(self.projects[project.parent])
        members = list(project.members)
        for child in self.projects.values():
            if child.parent == project.phid and child.milestone is None:
                members += [m for m in self._project_members(child) if m not in members]
        return members

    def _descendants(self, project_phid):
        """The project, its subprojects and milestones, recursively (the projects constraint)."""
        out = {project_phid}
        for child in self.projects.values():
            if child.parent == project_phid:
                out |= self._descendants(child.phid)
        return out

    def _policy_allows(self, user, policy):
        if policy == "public":
            return True
        if user is None:
            return False
        if policy == "users":
            return True
        if policy == "admin":
            return bool(user.admin)
        if isinstance(policy, str) and policy.startswith("PHID-PROJ-"):
            project = self.projects.get(policy)
            return project is not None and user.phid in self._project_members(project)
        if isinstance(policy, str) and policy.startswith("PHID-USER-"):
            return user.phid == policy
        return False  # "no-one" and anything unknown

    def _default_space(self):
        return next((sp for sp in self.spaces.values() if sp.default), None)

    def _task_space(self, task):
        """The Space a task lives in: its own, else the default one (if Spaces exist)."""
        return self.spaces.get(task.space) if task.space else self._default_space()

    def _can_see_space(self, user, space):
        return space is None or self._policy_allows(user, space.view)

    def _can_see_task(self, user, task, view=None, owner=None):
        """Phorge's rule: the task's view policy (the assignee always passes) AND its Space's policy.
        A task in a restricted Space keeps reporting its own policy ("public")."""
        view = task.view if view is None else view
        owner = task.owner if owner is None else owner
        allowed = self._policy_allows(user, view) or (user is not None and owner is not None and owner == user.phid)
        return allowed and self._can_see_space(user, self._task_space(task))

    def _visible_task(self, user, task_id):
        task = self.tasks.get(task_id)
        return task if task is not None and self._can_see_task(user, task) else None

    def _task_by_phid(self, phid):
        for task in self.tasks.values():
            if task.phid == phid:
                return task
        return None

    def _resolve_user_ref(self, ref):
        """PHID or username -> PHID; unresolvable (e.g. "@name") -> a PHID matching nothing."""
        user = self._user(ref)
        return user.phid if user else f"<unresolved:{ref}>"

    def _resolve_project_ref(self, ref):
        if isinstance(ref, str) and ref.startswith("PHID-"):
            return ref
        project = self._project_by_slug(ref)
        return project.phid if project else f"<unresolved:{ref}>"

    # -- test helpers (no HTTP) --

    def create_user(self, username, realname=None, bot=False, admin=False):
        with self._lock:
            if self._user_by_name(username):
                raise ValueError(f"user {username!r} exists")
            user = _User(self._next_id("user"), username, realname or username, bot, admin, self.now())
            self.users[user.phid] = user
            self.user_tokens[username] = user.token
            return user.phid

    def user_phid(self, ref):
        return ref if str(ref).startswith("PHID-") else self._require_user(ref).phid

    def create_project(self, name, slug=None, *, members=(), description="", icon="project", color="blue",
                       parent=None, milestone=None):
        """Like PhorgeServer.create_project, through ``project.edit`` as admin: the primary slug
        comes from the name, ``slug`` is an extra hashtag; ``parent`` makes a subproject,
        ``milestone`` a milestone of that project (no slug, icon "milestone")."""
        from sandbox.phorge import project_transactions

        xactions = project_transactions(name, slug, members=[self.user_phid(m) for m in members],
                                        description=description, icon=icon, color=color,
                                        parent=parent and self._project_phid_for_helper(parent),
                                        milestone=milestone and self._project_phid_for_helper(milestone))
        with self._lock:
            return self._edit_project(self._require_user("admin"), None, xactions)["object"]["phid"]

    def create_space(self, name, view_policy, *, actor="admin"):
        """A Space whose view policy is ``view_policy`` ("public", "users", "admin", a PHID or
        "#slug"), made by ``actor``, who must be able to see it. The first Space made also makes
        a public default Space named "Public", as PhorgeServer.create_space does."""
        with self._lock:
            user = self._require_user(actor)
            if not self.spaces:
                self._add_space("Public", "public", default=True)
            policy = self._helper_policy(view_policy)
            if not self._policy_allows(user, policy):
                raise ValueError(f"the view policy {view_policy!r} would lock {actor!r} out of the Space")
            return self._add_space(name, policy).phid

    def _add_space(self, name, policy, default=False):
        space = _Space(self._next_id("space"), "PHID-SPCE-" + self._rand(20), name, policy, self.now(), default)
        self.spaces[space.phid] = space
        self.space_names["default" if default else name] = space.phid
        return space

    def _helper_policy(self, policy):
        # Tests name a project by slug ("#growth-team") for "members of project".
        return self._project_phid_for_helper(policy[1:]) if str(policy).startswith("#") else policy

    def _space_phid_for_helper(self, ref):
        return ref if str(ref).startswith("PHID-") else self.space_names.get(ref, ref)

    def call(self, method, params=None, *, as_user="admin"):
        """Call a Conduit method as a named user, without HTTP and without logging the request
        (PhorgeServer.call does the same); an error answer raises RuntimeError."""
        with self._lock:
            metadata = {"token": self.user_tokens[as_user]}
            answer = self._dispatch(method, json.loads(json.dumps(params or {})), metadata)
        if answer.get("error_code"):
            raise RuntimeError(f"{method} as {as_user}: {answer['error_code']}: {answer['error_info']}")
        return answer["result"]

    def create_task(self, title, *, description="", status="open", priority="normal", projects=(),
                    owner=None, author="alice", view_policy="public", subtype="default",
                    date_modified=None, subscribers=(), space=None):
        """Create a task as ``author`` through the same editor as ``maniphest.edit``, with the
        same transactions as PhorgeServer.create_task: the view policy is always sent; one that
        is neither "public" nor "users" is set by admin in a second edit (Phorge refuses a
        policy that locks the author out).

        ``date_modified`` backdates the whole creation (dateCreated = dateModified)."""
        with self._lock:
            actor = self._require_user(author)
            self.subtypes.add(subtype)
            xactions = [{"type": "title", "value": title}]
            if description:
                xactions.append({"type": "description", "value": description})
            xactions.append({"type": "priority", "value": priority})
            xactions.append({"type": "status", "value": status})
            if projects:
                xactions.append({"type": "projects.add", "value": [self._project_phid_for_helper(p) for p in projects]})
            if owner is not None:
                xactions.append({"type": "owner", "value": self._require_user(owner).phid})
            if subscribers:
                xactions.append({"type": "subscribers.add", "value": [self._require_user(s).phid for s in subscribers]})
            restricted = view_policy not in ("public", "users")
            xactions.append({"type": "view", "value": "users" if restricted else view_policy})
            if space:
                xactions.append({"type": "space", "value": self._space_phid_for_helper(space)})
            if subtype != "default":
                xactions.append({"type": "subtype", "value": subtype})
            result = self._edit_task(actor, None, xactions, at=date_modified)
            task_id = result["object"]["id"]
            if restricted:
                self._edit_task(self._require_user("admin"), self.tasks[task_id],
                                [{"type": "view", "value": self._helper_policy(view_policy)}], at=date_modified)
            return task_id

    def update_task(self, task_id, *, actor="alice", **changes):
        """Edit like maniphest.edit: title, status, priority, owner (username/PHID/None),
        view_policy ("#slug" for members of a project), description, comment, subtype, space
        (a name given to create_space, or a PHID), projects_add/projects_remove (PHIDs or slugs),
        subscribers_add (usernames/PHIDs). Returns the new transaction PHIDs."""
        mapping = {"title": "title", "status": "status", "priority": "priority", "owner": "owner",
                   "view_policy": "view", "description": "description", "comment": "comment",
                   "subtype": "subtype", "projects_add": "projects.add", "projects_remove": "projects.remove",
                   "subscribers_add": "subscribers.add", "space": "space"}
        with self._lock:
            user = self._require_user(actor)
            xactions = []
            for key, value in changes.items():
                if key not in mapping:
                    raise TypeError(f"update_task() got an unexpected change {key!r}")
                if key == "owner" and value is not None:
                    value = self._require_user(value).phid
                elif key in ("projects_add", "projects_remove"):
                    value = [self._project_phid_for_helper(p) for p in value]
                elif key == "subscribers_add":
                    value = [self._require_user(s).phid for s in value]
                elif key == "subtype":
                    self.subtypes.add(value)
                elif key == "view_policy":
                    value = self._helper_policy(value)
                elif key == "space":
                    value = self._space_phid_for_helper(value)
                xactions.append({"type": mapping[key], "value": value})
            if task_id not in self.tasks:
                raise KeyError(f"no task T{task_id}")
            result = self._edit_task(user, self.tasks[task_id], xactions)
            return [x["phid"] for x in result["transactions"]]

    def comments(self, task_id):
        with self._lock:
            task = self.tasks[task_id]
            return [{"author": self.users[x.author].username, "text": x.comment, "date": x.date}
                    for x in self.xacts if x.object_phid == task.phid and x.comment is not None]

    def task(self, task_id):
        """The task as maniphest.search would show it (all attachments), whoever may see it."""
        with self._lock:
            return self._task_json(self.tasks[task_id], {"projects": True, "subscribers": True}, None)

    def set_delay(self, method, seconds):
        """Answer ``method`` only after ``seconds`` (the call itself runs at once)."""
        with self._lock:
            if seconds:
                self._delays[method] = float(seconds)
            else:
                self._delays.pop(method, None)

    def fail_next(self, method, count=1, mode="http500"):
        """Fail the next ``count`` calls of ``method`` without running them:
        ``http500`` (HTTP 500 page), ``drop`` (close the connection, no answer),
        ``error`` (HTTP 200 with ERR-CONDUIT-CORE)."""
        if mode not in ("http500", "drop", "error"):
            raise ValueError(mode)
        with self._lock:
            self._faults.setdefault(method, []).extend([mode] * count)

    def clear_request_log(self):
        with self._lock:
            self.requests = []

    def _require_user(self, ref):
        user = self._user(ref)
        if user is None:
            raise ValueError(f"unknown user {ref!r}")
        return user

    def _project_phid_for_helper(self, ref):
        if ref.startswith("PHID-"):
            return ref
        project = self._project_by_slug(ref.lstrip("#"))
        if project is None:
            raise ValueError(f"unknown project {ref!r}")
        return project.phid

    # -- request handling --

    def handle(self, method, content_type, body):
        """Decode, authenticate and run one call; returns the answer dict.
        Raises nothing: every failure becomes an error answer."""
        params = {}
        try:
            if (content_type or "").split(";")[0].strip().lower() == "application/json":
                raise _core("Use form-encoded data to submit parameters to Conduit endpoints. "
                            "Sending a JSON-encoded body and setting 'Content-Type': 'application/json' "
                            "is not currently supported.")
            params, metadata = self._decode(method, body)
        except ConduitError as exc:
            with self._lock:
                self.requests.append((method, params))
            return {"result": None, "error_code": exc.code, "error_info": exc.info}
        try:
            return self._dispatch(method, params, metadata)
        finally:
            with self._lock:
                self.requests.append((method, params))

    def _dispatch(self, method, params, metadata):
        try:
            if method not in METHOD_PARAMS:
                raise ConduitError(f'Conduit API method "{method}" does not exist.', "ERR-CONDUIT-CALL")
            extra = [k for k in params if k not in METHOD_PARAMS[method]]
            if extra:
                names = ", ".join(f"'{k}'" for k in extra)
                raise ConduitError(f'API Method "{method}" does not define these parameters: {names}.',
                                   "ERR-CONDUIT-CALL")
            with self._lock:
                viewer = None
                if method not in _UNAUTHENTICATED:
                    viewer = self._authenticate(metadata)
                result = getattr(self, "_m_" + method.replace(".", "_"))(viewer, params)
            return {"result": result, "error_code": None, "error_info": None}
        except ConduitError as exc:
            return {"result": None, "error_code": exc.code, "error_info": exc.info}
        except Exception as exc:  # a sandbox bug: still answer like Phorge does
            traceback.print_exc(file=sys.stderr)
            return {"result": None, "error_code": "ERR-CONDUIT-CORE", "error_info": str(exc)}

    def _decode(self, method, body):
        pairs = urllib.parse.parse_qsl(body, keep_blank_values=True)
        fields = dict(pairs)
        if fields.get("params", "") != "":
            try:
                params = json.loads(fields["params"])
            except ValueError:
                params = None
            if not isinstance(params, dict):
                raise _core(f"Invalid parameter information was passed to method '{method}'.")
            metadata = params.pop("__conduit__", None) or {}
            if not isinstance(metadata, dict):
                metadata = {}
            return params, metadata
        params, metadata = {}, {}
        for key, value in parse_php_form(pairs).items():
            if key.startswith("api."):
                metadata[key[4:]] = value
            elif key not in ("output", "__conduit__", "params"):
                params[key] = value
        return params, metadata

    def _authenticate(self, metadata):
        token = metadata.get("token")
        if token:
            token = str(token)
            if len(token) != 32:
                raise ConduitError(f'API token "{token}" has the wrong length. API tokens should be 32 '
                                   "characters long.", "ERR-INVALID-AUTH")
            if token.split("-")[0] not in ("api", "cli"):
                raise ConduitError(f'API token "{token}" has the wrong format. API tokens should be 32 '
                                   'characters long and begin with one of these prefixes: "api-", "cli-".',
                                   "ERR-INVALID-AUTH")
            for user in self.users.values():
                if user.token == token:
                    return user
            raise ConduitError(f'API token "{token}" is not valid.', "ERR-INVALID-AUTH")
        raise ConduitError("Session key is not present.", "ERR-INVALID-SESSION")

    # -- simple methods --

    def _m_conduit_ping(self, viewer, params):
        return socket.gethostname()

    def _m_maniphest_status_search(self, viewer, params):
        return {"data": [dict(s) for s in STATUSES]}

    def _m_maniphest_priority_search(self, viewer, params):
        return {"data": [dict(p, keywords=list(p["keywords"])) for p in PRIORITIES]}

    def _m_user_whoami(self, viewer, params):
        roles = []
        if viewer.admin:
            roles.append("admin")
        if viewer.bot:
            roles.append("agent")  # whoami says "agent" where user.search says "bot" (samples 08, 55)
        roles += ["verified", "approved", "activated"]
        return {
            "phid": viewer.phid,
            "userName": viewer.username,
            "realName": viewer.realname,
            "image": f"{self.url}res/phabricator/user0.png",
            "uri": f"{self.url}p/{viewer.username}/",
            "roles": roles,
            "primaryEmail": f"{viewer.username.lower()}@example.com",
        }

    # -- search plumbing --

    def _search_common(self, params, valid_constraints, valid_attachments):
        constraints = params.get("constraints") or {}
        if isinstance(constraints, list) and not constraints:
            constraints = {}
        if not isinstance(constraints, dict):
            raise _core('Parameter "constraints" must be a map of constraints.')
        for key in constraints:
            if key not in valid_constraints:
                raise ConduitError('Parameter "constraints" includes an invalid key.', "ERR-INVALID-CONSTRAINT")
        attachments = params.get("attachments") or {}
        if not isinstance(attachments, dict):
            attachments = {}
        wanted = {}
        for key, value in attachments.items():
            if key not in valid_attachments:
                raise _core(f'Attachment "{key}" is not recognized. Valid attachments are: '
                            f'{", ".join(valid_attachments)}.')
            if _php_truthy(value):
                wanted[key] = True
        raw_limit = params.get("limit")
        limit = MAX_PAGE_SIZE
        if raw_limit is not None and raw_limit != "":
            limit = _read_int(raw_limit, "limit")
            if limit > MAX_PAGE_SIZE:
                raise ConduitError(f"Maximum page size for Conduit API method calls is {MAX_PAGE_SIZE}, "
                                   f"but this call specified {limit}.", "ERR-INVALID-PAGE-SIZE")
            if limit < 1:
                limit, raw_limit = MAX_PAGE_SIZE, None
        return constraints, wanted, limit, (MAX_PAGE_SIZE if raw_limit in (None, "") else raw_limit)

    @staticmethod
    def _page(rows, cmp, find, after, before, limit, noun, query_class):
        """Cursor paging exactly like PhabricatorCursorPagedPolicyAwareQuery (samples 35-38).
        ``rows`` are in display order; cursors are ids of any existing object."""
        def cursor_obj(raw):
            obj = find(_to_int_cursor(raw, noun))
            if obj is None:
                raise _core(f'Cursor "{raw}" does not identify a valid object in query "{query_class}".')
            return obj

        if after not in (None, ""):
            cur = cursor_obj(after)
            rows = [r for r in rows if cmp(r, cur) > 0]
            page, more = rows[:limit], len(rows) > limit
            next_id = page[-1].id if page and more else None
            prev_id = page[0].id if page else None
        elif before not in (None, ""):
            cur = cursor_obj(before)
            rows = [r for r in rows if cmp(r, cur) < 0]
            page, more = rows[-limit:], len(rows) > limit
            next_id = page[-1].id if page else None
            prev_id = page[0].id if page and more else None
        else:
            page, more = rows[:limit], len(rows) > limit
            next_id = page[-1].id if page and more else None
            prev_id = None
        return page, (None if next_id is None else str(next_id)), (None if prev_id is None else str(prev_id))

    @staticmethod
    def _comparator(columns):
        """columns: [(getter, descending)], compared in order."""
        def cmp(a, b):
            for getter, desc in columns:
                va, vb = getter(a), getter(b)
                # None sorts lowest (so last in descending order)
                ka = (0, 0) if va is None else (1, va)
                kb = (0, 0) if vb is None else (1, vb)
                if ka != kb:
                    res = -1 if ka < kb else 1
                    return -res if desc else res
            return 0
        return cmp

    # -- maniphest.search --

    _TASK_CONSTRAINTS = {
        "ids", "phids", "assigned", "authorPHIDs", "statuses", "priorities", "subtypes", "columnPHIDs",
        "hasParents", "hasSubtasks", "parentIDs", "subtaskIDs", "createdStart", "createdEnd",
        "modifiedStart", "modifiedEnd", "closedStart", "closedEnd", "closerPHIDs", "query",
        "subscribers", "projects", "spaces",
    }
    _TASK_COLUMNS = {
        "id": (lambda t: t.id, True),
        "priority": (lambda t: t.priority, True),
        "updated": (lambda t: t.modified, True),
        "closed": (lambda t: t.closed_at, True),
        "title": (lambda t: t.title.lower(), False),
        "status": (lambda t: t.status, False),
    }
    _TASK_ORDERS = {
        "priority": ["priority", "id"], "order-priority": ["priority", "id"],
        "updated": ["updated", "id"], "order-modified": ["updated", "id"],
        "outdated": ["-updated", "-id"],
        "newest": ["id"], "created": ["id"], "order-created": ["id"], "relevance": ["id"],
        "oldest": ["-id"],
        "closed": ["closed", "id"],
        "title": ["title", "id"], "order-title": ["title", "id"],
    }

    def _order_columns(self, order, builtins, columns, default, query_class):
        if order is None or order == "":
            vector = builtins[default]
        elif isinstance(order, str):
            if order not in builtins:
                supported = TASK_BUILTIN_ORDERS if query_class == "ManiphestTaskQuery" else list(builtins)
                raise _core(f'Query "{query_class}" does not support a builtin order "{order}". '
                            f'Supported orders are: {", ".join(supported)}.')
            vector = builtins[order]
        elif isinstance(order, list):
            vector = [str(v) for v in order]
            if "id" not in [v.lstrip("-") for v in vector]:
                vector.append("id")
        else:
            raise _core('Parameter "order" must be a string or a list of column keys.')
        out = []
        for item in vector:
            name = item.lstrip("-")
            if name not in columns:
                raise _core(f'Order vector specifies an unsupported column "{name}" for query '
                            f'"{query_class}". Supported columns are: {", ".join(columns)}.')
            getter, desc = columns[name]
            out.append((getter, (not desc) if item.startswith("-") else desc))
        return self._comparator(out)

    def _m_maniphest_search(self, viewer, params):
        constraints, attachments, limit, raw_limit = self._search_common(
            params, self._TASK_CONSTRAINTS, ["columns", "subscribers", "projects"])
        query_key = params.get("queryKey") or None
        # Tasks the caller may not see are left out, silently (README difference 1).
        tasks = [t for t in self.tasks.values() if self._can_see_task(viewer, t)]
        if query_key is not None:
            builtin = {
                "all": lambda t: True,
                "open": lambda t: not _is_closed(t.status),
                "authored": lambda t: t.author == viewer.phid,
                "assigned": lambda t: t.owner == viewer.phid and not _is_closed(t.status),
                "subscribed": lambda t: viewer.phid in t.subscribers and not _is_closed(t.status),
            }
            if query_key not in builtin:
                raise _core(f'Query key "{query_key}" does not correspond to a valid query.')
            tasks = [t for t in tasks if builtin[query_key](t)]
        for key, value in constraints.items():
            tasks = self._apply_task_constraint(tasks, key, value)
        cmp = self._order_columns(params.get("order"), self._TASK_ORDERS, self._TASK_COLUMNS,
                                  "priority", "ManiphestTaskQuery")
        tasks.sort(key=functools.cmp_to_key(cmp))
        page, after, before = self._page(tasks, cmp, self.tasks.get, params.get("after"), params.get("before"),
                                         limit, "Task", "ManiphestTaskQuery")
        return {
            "data": [self._task_json(t, attachments, viewer) for t in page],
            "maps": {},
            "query": {"queryKey": query_key},
            "cursor": {"limit": raw_limit, "after": after, "before": before, "order": params.get("order")},
        }

    def _apply_task_constraint(self, tasks, key, value):
        if key in ("ids", "priorities"):
            wanted = set(_read_int_list(value, key))
            if not wanted:
                return tasks
            attr = "id" if key == "ids" else "priority"
            return [t for t in tasks if getattr(t, attr) in wanted]
        if key in ("createdStart", "createdEnd", "modifiedStart", "modifiedEnd", "closedStart", "closedEnd"):
            if value is None or value == "":
                return tasks
            stamp = _read_int(value, key, "epoch timestamp")
            attr = {"created": "created", "modified": "modified", "closed": "closed_at"}[key[:-5] if key.endswith("Start") else key[:-3]]
            if key.endswith("Start"):
                return [t for t in tasks if getattr(t, attr) is not None and getattr(t, attr) >= stamp]
            return [t for t in tasks if getattr(t, attr) is not None and getattr(t, attr) <= stamp]
        if key == "query":
            if not isinstance(value, str):
                raise _core(f'Error while reading "{key}": Expected string, got something else.')
            words = value.lower().split()
            return [t for t in tasks if all(w in (t.title + " " + t.description).lower() for w in words)]
        if key in ("hasParents", "hasSubtasks"):
            if value is None or value == "":
                return tasks
            # The sandbox has no task graph: nothing has parents or subtasks.
            return tasks if not _read_bool(value, key) else []
        if key == "spaces":
            wanted = set(_read_string_list(value, key))
            if not wanted:
                return tasks
            return [t for t in tasks if (self._task_space(t).phid if self._task_space(t) else None) in wanted]
        if key in ("columnPHIDs", "parentIDs", "subtaskIDs"):
            raise _core(f'Conduit sandbox: constraint "{key}" is valid in Phorge but not implemented here.')
        items = _read_string_list(value, key)
        if not items:
            return tasks
        if key == "phids":
            return [t for t in tasks if t.phid in items]
        if key == "statuses":
            return [t for t in tasks if t.status in items]
        if key == "subtypes":
            return [t for t in tasks if t.subtype in items]
        if key == "projects":
            # all projects must match (tag AND); "#slug" does not resolve and matches nothing (sample 43);
            # a project also matches tasks tagged only with its subprojects or milestones (difference 3)
            wanted = [self._descendants(self._resolve_project_ref(v)) for v in items]
            return [t for t in tasks if all(family & set(t.projects) for family in wanted)]
        wanted = {self._resolve_user_ref(v) for v in items}
        if key == "assigned":
            return [t for t in tasks if t.owner in wanted]
        if key == "authorPHIDs":
            return [t for t in tasks if t.author in wanted]
        if key == "closerPHIDs":
            return [t for t in tasks if t.closer in wanted]
        if key == "subscribers":
            return [t for t in tasks if wanted & set(t.subscribers)]
        raise AssertionError(key)

    def _task_json(self, task, attachments, viewer):
        status = _STATUS_BY_KEY.get(task.status)
        priority = _PRIORITY_BY_VALUE.get(task.priority, {"name": f"Unknown Priority ({task.priority})", "color": "grey"})
        out = {
            "id": task.id,
            "type": "TASK",
            "phid": task.phid,
            "fields": {
                "name": task.title,
                "description": {"raw": task.description},
                "authorPHID": task.author,
                "ownerPHID": task.owner,
                "status": {"value": task.status, "name": status["name"] if status else "Unknown Status", "color": None},
                "priority": {"value": task.priority, "name": priority["name"], "color": priority["color"]},
                "points": None,
                "subtype": task.subtype,
                "closerPHID": task.closer,
                "dateClosed": task.closed_at,
                "groupByProjectPHID": None,
                "spacePHID": task.space,
                "dateCreated": task.created,
                "dateModified": task.modified,
                "policy": {"view": task.view, "interact": task.interact, "edit": task.edit},
            },
            "attachments": {},
        }
        for key in attachments:
            if key == "subscribers":
                out["attachments"]["subscribers"] = {
                    "subscriberPHIDs": list(task.subscribers),
                    "subscriberCount": len(task.subscribers),
                    "viewerIsSubscribed": bool(viewer and viewer.phid in task.subscribers),
                }
            elif key == "projects":
                out["attachments"]["projects"] = {"projectPHIDs": list(task.projects)}
            elif key == "columns":
                out["attachments"]["columns"] = {"boards": []}
        return out

    # -- user.search / project.search --

    _SIMPLE_ORDERS = {"newest": ["id"], "oldest": ["-id"], "relevance": ["id"]}

    def _m_user_search(self, viewer, params):
        constraints, attachments, limit, raw_limit = self._search_common(
            params,
            {"ids", "phids", "usernames", "nameLike", "isAdmin", "isDisabled", "isBot", "isMailingList",
             "needsApproval", "createdStart", "createdEnd", "query"},
            ["availability"])
        users = list(self.users.values())
        query_key = params.get("queryKey") or None
        if query_key not in (None, "all", "active", "approval"):
            raise _core(f'Query key "{query_key}" does not correspond to a valid query.')
        for key, value in constraints.items():
            if key == "ids":
                wanted = set(_read_int_list(value, key))
                users = [u for u in users if not wanted or u.id in wanted]
            elif key == "phids":
                wanted = set(_read_string_list(value, key))
                users = [u for u in users if not wanted or u.phid in wanted]
            elif key == "usernames":
                wanted = {v.lower() for v in _read_string_list(value, key)}
                users = [u for u in users if not wanted or u.username.lower() in wanted]
            elif key in ("nameLike", "query"):
                users = [u for u in users if str(value).lower() in (u.username + " " + u.realname).lower()]
            elif key in ("isAdmin", "isBot"):
                flag = _read_bool(value, key)
                attr = "admin" if key == "isAdmin" else "bot"
                users = [u for u in users if getattr(u, attr) == flag]
            elif key in ("isDisabled", "isMailingList", "needsApproval"):
                if _read_bool(value, key):
                    users = []
            elif key in ("createdStart", "createdEnd"):
                stamp = _read_int(value, key, "epoch timestamp")
                users = [u for u in users if (u.created >= stamp if key == "createdStart" else u.created <= stamp)]
        cmp = self._order_columns(params.get("order"), self._SIMPLE_ORDERS, {"id": (lambda u: u.id, True)},
                                  "newest", "PhabricatorPeopleQuery")
        users.sort(key=functools.cmp_to_key(cmp))
        by_id = {u.id: u for u in self.users.values()}
        page, after, before = self._page(users, cmp, by_id.get, params.get("after"), params.get("before"),
                                         limit, "User", "PhabricatorPeopleQuery")
        data = []
        for u in page:
            roles = (["bot"] if u.bot else []) + (["admin"] if u.admin else []) + ["verified", "approved", "activated"]
            item = {"id": u.id, "type": "USER", "phid": u.phid, "fields": {
                "username": u.username, "realName": u.realname, "roles": roles,
                "dateCreated": u.created, "dateModified": u.modified,
                "policy": {"view": "public", "edit": "admin" if u.bot else "no-one"}}, "attachments": {}}
            if "availability" in attachments:
                item["attachments"]["availability"] = {"value": "available", "until": None, "name": "Available", "color": None, "eventPHID": None}
            data.append(item)
        return {"data": data, "maps": {}, "query": {"queryKey": query_key},
                "cursor": {"limit": raw_limit, "after": after, "before": before, "order": params.get("order")}}

    def _m_project_search(self, viewer, params):
        constraints, attachments, limit, raw_limit = self._search_common(
            params,
            {"ids", "phids", "name", "slugs", "members", "watchers", "status", "isMilestone", "isRoot",
             "minDepth", "maxDepth", "subtypes", "icons", "colors", "parents", "ancestors", "query", "spaces"},
            ["members", "watchers", "ancestors"])
        projects = list(self.projects.values())
        query_key = params.get("queryKey") or None
        if query_key not in (None, "all", "active", "joined", "watching"):
            raise _core(f'Query key "{query_key}" does not correspond to a valid query.')
        if query_key == "joined":
            projects = [p for p in projects if viewer.phid in p.members]
        if query_key == "watching":
            projects = [p for p in projects if viewer.phid in p.watchers]
        slug_map = {}
        for key, value in constraints.items():
            if key == "ids":
                wanted = set(_read_int_list(value, key))
                projects = [p for p in projects if not wanted or p.id in wanted]
            elif key == "phids":
                wanted = set(_read_string_list(value, key))
                projects = [p for p in projects if not wanted or p.phid in wanted]
            elif key == "name":
                tokens = str(value).lower().split()
                def matches(p):
                    words = "".join(c if c.isalnum() else " " for c in p.name.lower()).split()
                    return all(any(w.startswith(t) for w in words) for t in tokens)
                projects = [p for p in projects if matches(p)]
            elif key == "slugs":
                wanted = [v.lower() for v in _read_string_list(value, key)]
                if wanted:
                    projects = [p for p in projects if set(p.slugs) & set(wanted)]
                    for p in projects:
                        for slug in p.slugs:
                            if slug in wanted:
                                slug_map[slug] = {"slug": p.slug, "projectPHID": p.phid}
            elif key in ("members", "watchers"):
                wanted = {self._resolve_user_ref(v) for v in _read_string_list(value, key)}
                if wanted:
                    get = self._project_members if key == "members" else (lambda p: p.watchers)
                    projects = [p for p in projects if wanted <= set(get(p))]
            elif key == "status":
                if value not in ("all", "active", "archived"):
                    raise _core(f'Error while reading "status": Expected one of "all", "active", "archived".')
                if value == "archived":
                    projects = []
            elif key == "isMilestone":
                flag = _read_bool(value, key)
                projects = [p for p in projects if (p.milestone is not None) == flag]
            elif key == "isRoot":
                flag = _read_bool(value, key)
                projects = [p for p in projects if (p.parent is None) == flag]
            elif key in ("minDepth", "maxDepth"):
                depth = _read_int(value, key)
                projects = [p for p in projects
                            if (self._depth(p) >= depth if key == "minDepth" else self._depth(p) <= depth)]
            elif key in ("parents", "ancestors"):
                wanted = {self._resolve_project_ref(v) for v in _read_string_list(value, key)}
                if wanted:
                    get = (lambda p: {p.parent}) if key == "parents" else (lambda p: {a.phid for a in self._ancestors(p)})
                    projects = [p for p in projects if get(p) & wanted]
            elif key in ("icons", "colors"):
                wanted = set(_read_string_list(value, key))
                attr = key[:-1]
                projects = [p for p in projects if not wanted or getattr(p, attr) in wanted]
            elif key == "query":
                projects = [p for p in projects if str(value).lower() in (p.name + " " + p.description).lower()]
            else:
                raise _core(f'Conduit sandbox: constraint "{key}" is valid in Phorge but not implemented here.')
        orders = dict(self._SIMPLE_ORDERS, name=["name", "id"])
        cmp = self._order_columns(params.get("order"), orders,
                                  {"id": (lambda p: p.id, True), "name": (lambda p: p.name.lower(), False)},
                                  "newest", "PhabricatorProjectQuery")
        projects.sort(key=functools.cmp_to_key(cmp))
        by_id = {p.id: p for p in self.projects.values()}
        page, after, before = self._page(projects, cmp, by_id.get, params.get("after"), params.get("before"),
                                         limit, "Project", "PhabricatorProjectQuery")
        data = []
        for p in page:
            icon_name, icon_class = _PROJECT_ICONS.get(p.icon, (p.icon.title(), "fa-briefcase"))
            parent = self.projects.get(p.parent)
            item = {"id": p.id, "type": "PROJ", "phid": p.phid, "fields": {
                "name": p.name, "slug": p.slug, "subtype": "default", "milestone": p.milestone,
                "depth": self._depth(p),
                "parent": {"id": parent.id, "phid": parent.phid, "name": parent.name} if parent else None,
                "icon": {"key": p.icon, "name": icon_name, "icon": icon_class},
                "color": {"key": p.color, "name": _PROJECT_COLORS.get(p.color, p.color.title())},
                "status": "active", "spacePHID": None, "dateCreated": p.created, "dateModified": p.modified,
                "policy": {"view": "users", "edit": "users", "join": "users"}, "description": p.description},
                "attachments": {}}
            if "members" in attachments:
                item["attachments"]["members"] = {"members": [{"phid": m} for m in self._project_members(p)]}
            if "watchers" in attachments:
                item["attachments"]["watchers"] = {"watchers": [{"phid": w} for w in p.watchers]}
            if "ancestors" in attachments:
                item["attachments"]["ancestors"] = {"ancestors": [
                    {"id": a.id, "phid": a.phid, "name": a.name} for a in self._ancestors(p)]}
            data.append(item)
        return {"data": data, "maps": {"slugMap": slug_map}, "query": {"queryKey": query_key},
                "cursor": {"limit": raw_limit, "after": after, "before": before, "order": params.get("order")}}

    def _ancestors(self, project):
        out = []
        while project.parent in self.projects:
            project = self.projects[project.parent]
            out.append(project)
        return out

    def _depth(self, project):
        return len(self._ancestors(project))

    # -- project.edit --

    _PROJECT_EDIT_TYPES = {"name", "slugs", "description", "icon", "color", "parent", "milestone",
                           "members.add", "members.remove", "members.set"}

    def _m_project_edit(self, viewer, params):
        ident = params.get("objectIdentifier")
        project = None
        if ident not in (None, ""):
            phid = self._resolve_project_ref(str(ident)) if not str(ident).isdigit() else next(
                (p.phid for p in self.projects.values() if p.id == int(ident)), None)
            project = self.projects.get(phid)
            if project is None:
                raise _core(f'No object exists with ID "{ident}".' if str(ident).isdigit()
                            else f'Monogram "{ident}" does not identify a valid object.')
        return self._edit_project(viewer, project, params.get("transactions"))

    def _edit_project(self, actor, project, xactions):
        """A small project editor: name, slugs, description, icon, color, members, and on
        create a parent (subproject) or milestone. Project transactions are not kept."""
        if not isinstance(xactions, list):
            raise _core('Parameter "transactions" is not a list of transactions.')
        creating = project is None
        values = []
        for key, item in enumerate(xactions):
            if not isinstance(item, dict) or "type" not in item or "value" not in item:
                raise _core(f'Parameter "transactions" must contain a list of transaction descriptions, '
                            f'but item with key "{key}" is not valid.')
            if item["type"] not in self._PROJECT_EDIT_TYPES:
                raise _core(f'Conduit sandbox: project transaction type "{item["type"]}" is not implemented here.')
            values.append((item["type"], item["value"]))
        get = dict(values).get
        errors = []
        parent_phid = get("milestone") or get("parent")
        parent = self.projects.get(parent_phid) if parent_phid else None
        if parent_phid and (parent is None or not creating):
            errors.append("Parent or milestone must be an existing project, set when the project is made.")
        name = get("name") if get("name") is not None else (project.name if project else "")
        if not str(name).strip() and not get("milestone"):
            errors.append("Projects must have a name.")
        slugs = [] if get("milestone") else ([_normal_slug(name)] + [_normal_slug(v) for v in (get("slugs") or [])])
        for slug in slugs:
            other = self._project_by_slug(slug)
            if other is not None and other is not project:
                errors.append(f'Project name or hashtag "{slug}" is already in use.')
        if errors:
            raise _core("Validation errors:\n" + "\n".join(f"  - {e}" for e in errors))
        if creating:
            project = _Project(self._next_id("project"), "PHID-PROJ-" + self._rand(20), name, None, self.now())
            if parent is not None:
                project.parent = parent.phid
                if get("milestone"):
                    project.milestone = 1 + sum(1 for p in self.projects.values()
                                                if p.parent == parent.phid and p.milestone is not None)
                    project.icon = "milestone"
                elif not any(p.parent == parent.phid and p.milestone is None for p in self.projects.values()):
                    project.members = list(parent.members)  # the first subproject takes the parent's members
        project.name = name
        if slugs:
            project.slug = slugs[0]
            project.slugs = list(dict.fromkeys(slugs))
        for xtype, value in values:
            if xtype == "description":
                project.description = value
            elif xtype in ("icon", "color") and project.milestone is None:
                setattr(project, xtype, value)
            elif xtype.startswith("members."):
                phids = [self._require_user(v).phid for v in value]
                self._edge_ops(project.members, xtype.split(".")[1], phids)
        project.modified = self.now()
        self.projects[project.phid] = project
        return {"object": {"id": project.id, "phid": project.phid},
                "transactions": [{"phid": "PHID-XACT-PROJ-" + self._rand(15)} for _ in values]}

    # -- maniphest.edit --

    def _m_maniphest_edit(self, viewer, params):
        ident = params.get("objectIdentifier")
        task = None
        if ident is not None and ident != "":
            task = self._load_task_for_edit(ident, viewer)
        return self._edit_task(viewer, task, params.get("transactions"))

    def _load_task_for_edit(self, ident, viewer):
        """Measured on the real server: maniphest.edit answers ERR-CONDUIT-CORE (not
        ERR-INVALID-OBJECT-PHID, which is transaction.search's); an invisible task named by
        monogram is "not a valid object", named by id or PHID it is a policy exception."""
        if isinstance(ident, int) or (isinstance(ident, str) and ident.isdigit()):
            task = self.tasks.get(int(ident))
            if task is None:
                raise _core(f'No object exists with ID "{ident}".')
            return self._require_can_see(viewer, task)
        ident = str(ident)
        if ident.startswith("PHID-"):
            task = self._task_by_phid(ident)
            if task is None:
                raise _core(f'No object exists with PHID "{ident}".')
            return self._require_can_see(viewer, task)
        if ident[:1] == "T" and ident[1:].isdigit():
            task = self._visible_task(viewer, int(ident[1:]))
            if task is not None:
                return task
        raise _core(f'Monogram "{ident}" does not identify a valid object.')

    _POLICY_WHO = {"users": "Logged in users can take this action.", "admin": "Administrators can take this action.",
                   "no-one": "No one can take this action."}

    def _require_can_see(self, viewer, task):
        if self._can_see_task(viewer, task):
            return task
        if not self._can_see_space(viewer, self._task_space(task)):
            who = "This object is in a space you do not have permission to access."
        elif task.view.startswith("PHID-PROJ-") and task.view in self.projects:
            who = f"Members of project {self.projects[task.view].name} can take this action."
        else:
            who = self._POLICY_WHO.get(task.view, "No one can take this action.")
        raise _core("[You Shall Not Pass: Restricted Maniphest Task] (Can View) You do not have permission to "
                    f"view this object. // {who} The assignee of a task can always view and edit it.")

    def _edit_task(self, actor, task, xactions, at=None):
        """The transaction editor: validate everything, then apply atomically.
        Returns the maniphest.edit result."""
        if not isinstance(xactions, list):
            raise _core('Parameter "transactions" is not a list of transactions.')
        specs = []
        for key, item in enumerate(xactions):
            if not isinstance(item, dict):
                raise _core(f'Parameter "transactions" must contain a list of transaction descriptions, '
                            f'but item with key "{key}" is not a dictionary.')
            if "type" not in item:
                raise _core(f'Parameter "transactions" must contain a list of transaction descriptions, '
                            f'but item with key "{key}" is missing a "type" field. Each transaction must have a type field.')
            xtype = item["type"]
            if xtype not in EDIT_TYPES:
                raise _core(f'Transaction with key "{key}" has invalid type "{xtype}". This type is not '
                            f'recognized. Valid types are: {", ".join(EDIT_TYPES)}.')
            if xtype not in _SUPPORTED_EDIT_TYPES:
                raise _core(f'Conduit sandbox: transaction type "{xtype}" is valid in Phorge but not implemented here.')
            if "value" not in item:
                raise _core(f'Parameter "transactions" must contain a list of transaction descriptions, '
                            f'but item with key "{key}" is missing a "value" field. Each transaction must have a value field.')
            specs.append((xtype, self._read_edit_value(xtype, item["value"])))

        creating = task is None
        state = (_Task() if creating else task).copy_state()
        if creating and self.spaces:
            state["space"] = self._default_space().phid  # once Spaces exist, every new object is in one
        errors = []
        out = []  # _Xact list, in order
        if creating:
            out.append(_Xact("create"))
        explicit_owner = any(t == "owner" for t, _ in specs)

        def add_subscribers(phids):
            added = [p for p in phids if p not in state["subscribers"]]
            for p in added:
                state["subscribers"].insert(0, p)
            return added

        for xtype, value in specs:
            if xtype in ("title", "description"):
                if xtype == "title" and not value.strip():
                    errors.append("Tasks must have a title.")
                    continue
                if value != state[xtype]:
                    out.append(_Xact(xtype, {"old": state[xtype], "new": value}))
                    state[xtype] = value
            elif xtype == "status":
                old = state["status"]
                if value == old:
                    continue
                out.append(_Xact("status", {"old": old, "new": value}))
                state["status"] = value
                if _is_closed(value) and not _is_closed(old):
                    state["closer"] = actor.phid
                    state["closed_at"] = "<now>"
                    if state["owner"] is None and not explicit_owner:
                        # closing an unowned task assigns it to the actor (sample 26, 44)
                        out.append(_Xact("owner", {"old": None, "new": actor.phid}))
                        state["owner"] = actor.phid
                elif not _is_closed(value):
                    state["closer"] = None
                    state["closed_at"] = None
            elif xtype == "priority":
                spec = _PRIORITY_BY_KEYWORD.get(value)
                if spec is None:
                    errors.append(f'Task priority "{value}" is not a valid task priority. Use a priority keyword '
                                  f'to choose a task priority: {", ".join(k for p in PRIORITIES for k in p["keywords"])}.')
                    continue
                if spec["value"] != state["priority"]:
                    old = _PRIORITY_BY_VALUE.get(state["priority"], {"name": "Unknown"})
                    out.append(_Xact("priority", {"old": {"value": state["priority"], "name": old["name"]},
                                                  "new": {"value": spec["value"], "name": spec["name"]}}))
                    state["priority"] = spec["value"]
            elif xtype == "owner":
                phid = None
                if value is not None:
                    user = self._user(value)
                    if user is None:
                        errors.append(f'Owner "{value}" is not a valid user.')
                        continue
                    phid = user.phid
                if phid != state["owner"]:
                    out.append(_Xact("owner", {"old": state["owner"], "new": phid}))
                    state["owner"] = phid
            elif xtype in ("view", "edit"):
                if xtype == "view" and not self._can_see_task(actor, _Task(), view=value, owner=state["owner"]
                                                              or "<none>"):
                    errors.append("The view policy of this object would no longer allow you to view the object.")
                    continue
                if creating or value != state[xtype]:
                    # on create Phorge records the policy even when it is the default (old: null)
                    kind = "core:view-policy" if xtype == "view" else "core:edit-policy"
                    out.append(_Xact(kind, {"old": None if creating else state[xtype], "new": value}))
                    state[xtype] = value
            elif xtype == "space":
                space = self.spaces.get(value)
                if space is None or not self._can_see_space(actor, space):
                    errors.append("You can not shift this object in the selected space, because the space "
                                  "does not exist or you do not have access to it.")
                    continue
                if value != state["space"]:
                    out.append(_Xact(None))   # the space transaction has no conduit type
                    state["space"] = value
            elif xtype == "subtype":
                if value not in self.subtypes:
                    errors.append(f'Subtype "{value}" is not a valid subtype.')
                    continue
                if value != state["subtype"]:
                    out.append(_Xact(None))
                    state["subtype"] = value
            elif xtype.startswith("projects."):
                phids = []
                for ref in value:
                    phid = self._resolve_project_ref(ref)
                    if phid.startswith("<unresolved"):
                        errors.append(f'Project "{ref}" is not a valid project PHID or hashtag.')
                    phids.append(phid)
                ops = self._edge_ops(state["projects"], xtype.split(".")[1], phids)
                if ops:
                    out.append(_Xact("projects", {"operations": ops}))
            elif xtype.startswith("subscribers."):
                phids = []
                for ref in value:
                    user = self._user(ref)
                    if user is None and not str(ref).startswith("PHID-PROJ-"):
                        errors.append(f'Subscriber "{ref}" is not a valid user or project.')
                        continue
                    phids.append(user.phid if user else ref)
                ops = self._edge_ops(state["subscribers"], xtype.split(".")[1], phids)
                if ops:
                    out.append(_Xact("subscribers", {"operations": ops}))
            elif xtype == "comment":
                if not value.strip():
                    continue  # an empty comment is silently dropped (sample 28)
                if actor.phid not in state["subscribers"] and not actor.bot:
                    # commenting subscribes a human actor, recorded first (sample 04);
                    # bot accounts are not subscribed (README difference 6)
                    add_subscribers([actor.phid])
                    out.append(_Xact("subscribers", {"operations": [{"operation": "add", "phid": actor.phid}]}))
                out.append(_Xact("comment", comment=value))
        if creating and not state["title"].strip() and "Tasks must have a title." not in errors:
            errors.append("Tasks must have a title.")
        if errors:
            raise _core("Validation errors:\n" + "\n".join(f"  - {e}" for e in errors))

        if creating and actor.phid not in state["subscribers"]:
            # the author is subscribed on create, inside the explicit subscribers transaction if any
            state["subscribers"].append(actor.phid)
            for x in out:
                if x.type == "subscribers":
                    x.fields["operations"].insert(0, {"operation": "add", "phid": actor.phid})
                    break
            else:
                out.append(_Xact("subscribers", {"operations": [{"operation": "add", "phid": actor.phid}]}))

        # "T123" in a comment or the description adds a "mentioned" edge (type null) on both tasks
        mentioned = []
        texts = [v for t, v in specs if t == "comment" and v.strip()]
        if any(t == "description" for t, _ in specs) and (creating or state["description"] != task.description):
            texts.append(state["description"])
        for text in texts:
            for number in _MENTION.findall(text):
                target = self._visible_task(actor, int(number))
                if (target is None or target is task or target.phid in mentioned
                        or (task is not None and target.phid in task.mentions)):
                    continue
                mentioned.append(target.phid)
        if mentioned:
            at_comment = next((i for i, x in enumerate(out) if x.type == "comment"), len(out))
            out.insert(at_comment, _Xact(None))

        if not creating and not out:
            return {"object": {"id": task.id, "phid": task.phid}, "transactions": []}

        now = self.now() if at is None else int(at)
        if creating:
            task = _Task()
            task.id = self._next_id("task")
            task.phid = "PHID-TASK-" + self._rand(20)
            task.author = actor.phid
            task.created = now
            stamp = now
        else:
            # every edit moves dateModified to its own second; several edits in one second
            # keep the same value (README difference 8), so it never runs ahead of the clock
            stamp = max(now, task.modified)
        if state["closed_at"] == "<now>":
            state["closed_at"] = stamp
        for field_name, value in state.items():
            setattr(task, field_name, value)
        task.modified = stamp
        self.tasks[task.id] = task
        group = self._rand(32)
        for x in out:
            self._add_xact(task, actor, x, stamp, group)
        self._publish_story(actor, task, out, stamp)
        for phid in mentioned:
            task.mentions.add(phid)
            target = self._task_by_phid(phid)
            self._add_xact(target, actor, _Xact(None), stamp, self._rand(32))  # "mentioned in"
            target.modified = max(stamp, target.modified)
        return {"object": {"id": task.id, "phid": task.phid}, "transactions": [{"phid": x.phid} for x in out]}

    def _add_xact(self, task, actor, x, stamp, group):
        x.id = self._next_id("xact")
        x.phid = "PHID-XACT-TASK-" + self._rand(15)
        x.author = actor.phid
        x.object_phid = task.phid
        x.date = stamp
        x.group = group
        if x.comment is not None:
            x.comment_id = self._next_id("comment")
            x.comment_phid = "PHID-XCMT-" + self._rand(20)
        self.xacts.append(x)

    def _read_edit_value(self, xtype, value):
        def bad(message):
            return _core(f'Exception when processing transaction of type "{xtype}": '
                         f'Error while reading "value": {message}')
        if xtype in ("title", "description", "status", "priority", "view", "edit", "subtype", "comment", "space"):
            if not isinstance(value, str):
                raise bad("Expected string, got something else.")
            return value
        if xtype == "owner":
            if value is not None and not isinstance(value, str):
                raise bad("Expected PHID or null, got something else.")
            return value or None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad("Expected a list of PHIDs, got something else.")
        return value

    @staticmethod
    def _edge_ops(current, mode, phids):
        """Apply add/remove/set to an edge list (newest first, in place); return operations."""
        ops = []
        if mode == "set":
            for p in list(current):
                if p not in phids:
                    current.remove(p)
                    ops.append({"operation": "remove", "phid": p})
            mode = "add"
        for p in phids:
            if mode == "add" and p not in current:
                current.insert(0, p)
                ops.append({"operation": "add", "phid": p})
            elif mode == "remove" and p in current:
                current.remove(p)
                ops.append({"operation": "remove", "phid": p})
        return ops

    # -- feed --

    def _publish_story(self, actor, task, xacts, stamp):
        if all(x.type == "subscribers" for x in xacts):
            return  # subscription-only edits are hidden from the feed
        types = [x.type for x in xacts]
        monogram = f"T{task.id}: {task.title}"
        if "create" in types:
            text = f"{actor.username} created {monogram}."
        elif "status" in types:
            new = next(x.fields["new"] for x in xacts if x.type == "status")
            spec = _STATUS_BY_KEY.get(new)
            name = spec["name"] if spec else "Unknown Status"
            verb = "closed" if _is_closed(new) else "reopened"
            text = f'{actor.username} {verb} {monogram} as "{name}".' if verb == "closed" else f"{actor.username} reopened {monogram}."
        elif types == ["comment"] or set(types) == {"comment", "subscribers"}:
            text = f"{actor.username} added a comment to {monogram}."
        else:
            text = f"{actor.username} updated {monogram}."
        # chronologicalKey = epoch << 32 | sequence; strictly increasing here
        key = (stamp << 32) + self._next_id("story")
        self.stories.append({
            "phid": "PHID-STRY-" + self._rand(20),
            "epoch": stamp,
            "authorPHID": actor.phid,
            "chronologicalKey": key,
            "objectPHID": task.phid,
            "transactionPHIDs": [x.phid for x in xacts],
            "related": {task.phid, actor.phid, *task.projects},
            "text": text,
        })

    def _m_feed_query(self, viewer, params):
        visible = {t.phid for t in self.tasks.values() if self._can_see_task(viewer, t)}
        stories = sorted((s for s in self.stories if s["objectPHID"] in visible),
                         key=lambda s: s["chronologicalKey"], reverse=True)
        filters = params.get("filterPHIDs")
        if filters:
            wanted = set(_read_string_list(filters, "filterPHIDs"))
            stories = [s for s in stories if s["related"] & wanted]
        limit = 100 if params.get("limit") in (None, "") else _read_int(params["limit"], "limit")
        view = params.get("view") or "data"
        if _has_value(params, "after"):
            after = _read_int(params["after"], "after")
            stories = [s for s in stories if s["chronologicalKey"] < after][:limit]
        elif _has_value(params, "before"):
            # "before" pages toward NEWER stories: the ones just above the key (sample 49)
            before = _read_int(params["before"], "before")
            stories = [s for s in stories if s["chronologicalKey"] > before][-limit:]
        else:
            stories = stories[:limit]
        result = {}
        for s in stories:
            base = {"class": "PhabricatorApplicationTransactionFeedStory", "epoch": s["epoch"],
                    "authorPHID": s["authorPHID"], "chronologicalKey": str(s["chronologicalKey"])}
            if view == "data":
                base["data"] = {"objectPHID": s["objectPHID"],
                                "transactionPHIDs": {p: p for p in s["transactionPHIDs"]}}
            elif view == "text":
                base["objectPHID"] = s["objectPHID"]
                base["text"] = s["text"]
            elif view in ("html", "html-summary"):
                base = "<div class=\"phabricator-feed-story\">" + _html_escape(s["text"]) + "</div>"
            else:
                base = {"error": f"Unknown view type: {view}"}
            result[s["phid"]] = base
        return result or []  # PHP's empty array is a JSON list (samples 14, 15)

    # -- transaction.search --

    def _m_transaction_search(self, viewer, params):
        name = params.get("objectIdentifier")
        if not name:
            raise _core('When calling "transaction.search", you must provide an object to retrieve transactions for.')
        task = self._task_by_phid(str(name))
        if task is not None:
            self._require_can_see(viewer, task)  # an invisible task named by PHID: a policy exception
        phid = self._lookup_name(str(name), viewer)
        if phid is None:
            # unknown objects, and invisible ones named by monogram, answer alike (README difference 5)
            raise ConduitError('Specified "objectIdentifier" does not exist.', "ERR-INVALID-OBJECT-PHID")
        constraints = params.get("constraints") or {}
        if not isinstance(constraints, dict):
            constraints = {}
        for key in constraints:
            if key not in ("phids", "authorPHIDs"):
                raise ConduitError('Parameter "constraints" includes an invalid key.', "ERR-INVALID-CONSTRAINT")
        rows = [x for x in self.xacts if x.object_phid == phid]
        if "phids" in constraints:
            wanted = set(_read_string_list(constraints["phids"], "phids"))
            rows = [x for x in rows if x.phid in wanted]
        if "authorPHIDs" in constraints:
            wanted = {self._resolve_user_ref(v) for v in _read_string_list(constraints["authorPHIDs"], "authorPHIDs")}
            rows = [x for x in rows if x.author in wanted]
        _, _, limit, raw_limit = self._search_common({"limit": params.get("limit")}, set(), [])
        rows.sort(key=lambda x: -x.id)
        cmp = self._comparator([(lambda x: x.id, True)])
        by_id = {x.id: x for x in self.xacts}
        page, after, before = self._page(rows, cmp, by_id.get, params.get("after"), params.get("before"),
                                         limit, "Transaction", "PhabricatorApplicationTransactionQuery")
        data = []
        for x in page:
            comments = []
            if x.comment is not None:
                comments.append({"id": x.comment_id, "phid": x.comment_phid, "version": 1, "authorPHID": x.author,
                                 "dateCreated": x.date, "dateModified": x.date, "removed": False,
                                 "content": {"raw": x.comment}})
            data.append({"id": x.id, "phid": x.phid, "type": x.type, "authorPHID": x.author,
                         "objectPHID": x.object_phid, "dateCreated": x.date, "dateModified": x.date,
                         "groupID": x.group, "comments": comments, "fields": json.loads(json.dumps(x.fields))})
        return {"data": data, "cursor": {"limit": raw_limit, "after": after, "before": before}}

    # -- phid.lookup --

    def _lookup_name(self, name, viewer):
        """An object name ("T1", "S2", "@user", "#slug" or a PHID) -> PHID, or None when
        unknown or not visible to ``viewer``."""
        if name.startswith("PHID-"):
            task = self._task_by_phid(name)
            if task is not None:
                return name if self._can_see_task(viewer, task) else None
            if name in self.spaces:
                return name if self._can_see_space(viewer, self.spaces[name]) else None
            return name if name in self.users or name in self.projects else None
        if name[:1] == "T" and name[1:].isdigit():
            task = self._visible_task(viewer, int(name[1:]))
            return task.phid if task else None
        if name[:1] == "S" and name[1:].isdigit():
            space = next((sp for sp in self.spaces.values() if sp.id == int(name[1:])), None)
            return space.phid if space is not None and self._can_see_space(viewer, space) else None
        if name.startswith("@"):
            user = self._user_by_name(name[1:])
            return user.phid if user else None
        if name.startswith("#"):
            project = self._project_by_slug(name[1:])
            return project.phid if project else None
        return None

    def _m_phid_lookup(self, viewer, params):
        names = params.get("names")
        if names is None:
            raise _core('Parameter "names" is required.')
        result = {}
        for name in _read_string_list(names, "names"):
            phid = self._lookup_name(name, viewer)
            if phid is not None:
                result[name] = self._handle(phid)
        return result or []

    def _m_phid_query(self, viewer, params):
        """Handles by PHID; unknown and invisible objects are left out. For a Space the
        handle carries its page (uri) and "S<n> <name>" as fullName (Conduit has no spaces.search)."""
        phids = params.get("phids")
        if phids is None:
            raise _core('Parameter "phids" is required.')
        result = {}
        for phid in _read_string_list(phids, "phids"):
            if phid.startswith("PHID-") and self._lookup_name(phid, viewer) is not None:
                result[phid] = self._handle(phid)
        return result or []

    def _handle(self, phid):
        if phid in self.spaces:
            sp = self.spaces[phid]
            return {"phid": phid, "uri": f"{self.url}{sp.monogram}", "typeName": "Space", "type": "SPCE",
                    "name": sp.name, "fullName": f"{sp.monogram} {sp.name}", "status": "open"}
        if phid in self.users:
            u = self.users[phid]
            return {"phid": phid, "uri": f"{self.url}p/{u.username}/", "typeName": "User", "type": "USER",
                    "name": u.username, "fullName": f"{u.username} ({u.realname})", "status": "open"}
        if phid in self.projects:
            p = self.projects[phid]
            uri = f"{self.url}tag/{p.slug}/" if p.slug else f"{self.url}project/view/{p.id}/"
            return {"phid": phid, "uri": uri, "typeName": "Project", "type": "PROJ",
                    "name": p.name, "fullName": p.name, "status": "open"}
        t = self._task_by_phid(phid)
        return {"phid": phid, "uri": f"{self.url}T{t.id}", "typeName": "Maniphest Task", "type": "TASK",
                "name": f"T{t.id}", "fullName": f"T{t.id}: {t.title}",
                "status": "closed" if _is_closed(t.status) else "open"}


def _html_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


class _Handler(BaseHTTPRequestHandler):
    sandbox = None  # set on the subclass made by ConduitSandbox.start()
    server_version = "ConduitSandbox/1"

    def log_message(self, format, *args):  # quiet: tests read sandbox.requests instead
        pass

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        match = re.fullmatch(r"/S(\d+)/?", path)
        if match:
            self._space_page(int(match.group(1)))
            return
        self._serve(urllib.parse.urlsplit(self.path).query)

    def _space_page(self, number):
        """A Space's page as an anonymous reader gets it from the real server: a public Space
        shows its page, titled with its monogram; any other answers HTTP 200 with a login page
        titled "Authentication Failure"; an unknown one is a 404. (Cookies are ignored: the
        sandbox has no web sessions, every reader is anonymous.)"""
        sb = self.sandbox
        with sb._lock:
            space = next((sp for sp in sb.spaces.values() if sp.id == number), None)
            public = space is not None and sb._policy_allows(None, space.view)
        if space is None:
            status, title, body = 404, "404 Not Found", "The requested page could not be found."
        elif public:
            status, title, body = 200, f"\u25cb S{space.id} \u00b7 {_html_escape(space.name)}", "Space"
        else:
            status, title, body = 200, "Authentication Failure", "You must log in to continue."
        page = f"<!DOCTYPE html><html><head><title>{title}</title></head><body>{body}</body></html>"
        self._send(status, "text/html; charset=UTF-8", page.encode())

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        self._serve(body)

    def _serve(self, body):
        path = urllib.parse.urlsplit(self.path).path
        if not path.startswith("/api/") or len(path) <= 5:
            self._send(404, "text/plain", b"Not found: the Conduit sandbox only serves /api/<method>.\n")
            return
        method = path[5:].strip("/")
        sb = self.sandbox
        with sb._lock:
            pending = sb._faults.get(method)
            fault = pending.pop(0) if pending else None
            delay = sb._delays.get(method, 0)
        if fault:
            with sb._lock:
                sb.requests.append((method, {"__fault__": fault}))
            if fault == "drop":
                self.close_connection = True
                return
            if fault == "http500":
                self._send(500, "text/html", b"<html><body><h1>Unhandled Exception</h1>"
                                            b"<p>Injected by ConduitSandbox.fail_next().</p></body></html>")
                return
            answer = {"result": None, "error_code": "ERR-CONDUIT-CORE",
                      "error_info": "Injected failure (ConduitSandbox.fail_next)."}
        else:
            answer = sb.handle(method, self.headers.get("Content-Type"), body)
        if delay:
            time.sleep(delay)
        self._send(200, "application/json", json.dumps(answer).encode())

    def _send(self, status, content_type, payload):
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            if content_type == "application/json":
                self.send_header("X-Conduit-Capabilities", "gzip")
                self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (read timeout); the call has run anyway


# --- demo data -------------------------------------------------------------------------

def seed_demo(sandbox):
    """Project Growth-Team, users, 8 public tasks and 1 restricted one. Returns their ids/PHIDs."""
    sb = sandbox
    for username, realname in (("carol", "Carol Example"), ("dan", "Dan Example")):
        if sb._user_by_name(username) is None:
            sb.create_user(username, realname)
    project = sb.create_project("Growth-Team", "growth-team", members=["GrowthBot", "alice", "bob", "carol"],
                                description="Tasks tracked by GrowthBot.", icon="group", color="green")
    tasks = {}
    specs = [
        ("onboarding", "Onboarding funnel drop-off at step 3",
         dict(description="Users abandon signup at step 3 (email confirm).", priority="high", owner="alice", author="bob")),
        ("pricing", "A/B test new pricing page",
         dict(description="Run a two-week test of the new pricing layout.", priority="normal", author="alice")),
        ("referral", "Referral program email copy",
         dict(description="Draft copy for the referral email.", priority="low", owner="carol", status="resolved", author="alice")),
        ("signup", "Fix signup form validation on mobile",
         dict(description="Safari iOS rejects valid emails.", priority="unbreak", owner="bob", author="carol")),
        ("dashboard", "Weekly growth metrics dashboard",
         dict(description="Dashboard with WAU, activation, retention.", priority="wish", status="wontfix", author="bob")),
        ("landing", "Landing page copy refresh",
         dict(description="Refresh hero text & CTA.", priority="normal", owner="dan", author="alice")),
        ("newsletter", "Newsletter: translate the Czech and Korean editions",
         dict(description="Ask the cs/ko ambassadors for help.", priority="triage", author="alice")),
        ("mentors", "Mentor dashboard shows stale mentee list",
         dict(description="Mentees who left still appear.", priority="high", status="invalid", author="carol")),
    ]
    for key, title, kwargs in specs:
        tasks[key] = sb.create_task(title, projects=[project], **kwargs)
    sb.update_task(tasks["onboarding"], actor="alice", comment="I can reproduce this: 38% drop at step 3.")
    sb.update_task(tasks["pricing"], actor="bob", comment="Variant B looks promising.")
    sb.update_task(tasks["signup"], actor="bob", status="resolved", comment="Fixed in the last deploy.")
    restricted = sb.create_task("Security: account takeover via password reset link",
                                description="Embargoed until the fix ships.", priority="unbreak",
                                projects=[project], author="admin", view_policy="users")
    return {"project": project, "tasks": tasks, "restricted_task": restricted,
            "users": {name: sb._user_by_name(name).phid for name in ("GrowthBot", "admin", "alice", "bob", "carol", "dan")}}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sandbox.conduit", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8470)
    parser.add_argument("--seed", choices=["demo", "none"], default="none")
    args = parser.parse_args(argv)
    sb = ConduitSandbox(args.host, args.port)
    if args.seed == "demo":
        seed_demo(sb)
    sb.start()
    print(f"Conduit sandbox at {sb.url}", flush=True)
    print(f"bot token (GrowthBot): {sb.bot_token}", flush=True)
    for name, token in sb.user_tokens.items():
        print(f"  {name}: {token}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sb.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
