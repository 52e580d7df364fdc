"""Differential contract tests: the same calls to the real Phorge and to the imitation.

An imitation that is kinder than the real server hides exactly the bugs users hit (issue 10).
Each test below runs one scenario, step for step, against both servers:

* ``real``: ``sandbox.phorge.PhorgeServer``, the pinned upstream Phorge on MariaDB;
* ``imitation``: ``sandbox.conduit.ConduitSandbox``, the in-memory server of ``make demo``,

and compares what a client can observe, normalised: PHIDs become names (``@alice``,
``#Growth-Team``, ``S:Secret``, ``T3``) or ``PHID-TYPE-*``, timestamps are compared as
relations (moved or not, equal to the newest transaction or not), lists of tasks as ids.
The scenarios cover the eight measured differences in ``shared/phorge/README.md`` plus how a
Space's visibility is learned without ``spaces.search`` (``phid.query`` and an anonymous GET).

Without PHP/MariaDB the real server cannot start: the tests are skipped, and under CI=true
they fail (``unavailable`` from tests/conftest.py).
"""
from __future__ import annotations

import json
import re
import time
import urllib.parse

import pytest
import requests

from sandbox.conduit import ConduitSandbox

USERS = ("admin", "GrowthBot", "alice", "bob")


# --- the two servers -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def real(conduit_server):
    """The suite's one real Phorge (tests/conftest.py), reset before each test."""
    return conduit_server


@pytest.fixture(scope="module")
def imitation():
    sb = ConduitSandbox()
    sb.start()
    yield sb
    sb.stop()


class Client:
    """One server seen from outside: raw Conduit answers (errors included) and a name for
    every PHID it has handed out."""

    def __init__(self, server, kind):
        self.srv = server
        self.kind = kind
        self.http = requests.Session()
        self.labels = {server.user_phid(u): "@" + u for u in USERS}

    def token(self, user):
        if self.kind == "real":
            return self.srv.users[user]["token"]
        return self.srv.user_tokens[user]

    def raw(self, method, params=None, user="admin"):
        payload = dict(params or {})
        payload["__conduit__"] = {"token": self.token(user)}
        answer = self.http.post(self.srv.url + "api/" + method, timeout=60, data={
            "params": json.dumps(payload), "output": "json", "__conduit__": "1"}).json()
        self.learn(answer)
        return answer

    def result(self, method, params=None, user="admin"):
        answer = self.raw(method, params, user)
        assert answer["error_code"] is None, (self.kind, method, answer)
        return answer["result"]

    def learn(self, value):
        """Name the tasks that answers show (id next to phid)."""
        if isinstance(value, dict):
            if isinstance(value.get("phid"), str) and value["phid"].startswith("PHID-TASK-") and "id" in value:
                self.labels.setdefault(value["phid"], f"T{value['id']}")
            for v in value.values():
                self.learn(v)
        elif isinstance(value, list):
            for v in value:
                self.learn(v)

    def phid_of(self, label):
        return next(p for p, name in self.labels.items() if name == label)

    # -- helpers both servers offer --

    def project(self, name, *args, **kwargs):
        phid = self.srv.create_project(name, *args, **kwargs)
        self.labels[phid] = "#" + name
        return phid

    def space(self, name, policy, **kwargs):
        phid = self.srv.create_space(name, policy, **kwargs)
        self.labels[phid] = "S:" + name
        default = self.srv._spaces["default"] if self.kind == "real" else self.srv.space_names["default"]
        self.labels[default] = "S:default"
        return phid

    def task(self, title, **kwargs):
        tid = self.srv.create_task(title, **kwargs)
        self.result("maniphest.search", {"constraints": {"ids": [tid]}}, "admin" if kwargs.get("author") == "admin"
                    else kwargs.get("author", "alice"))
        return tid

    # -- what a client observes --

    def norm(self, value):
        if isinstance(value, dict):
            return {k: self.norm(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.norm(v) for v in value]
        if isinstance(value, str) and value.startswith("PHID-"):
            return self.labels.get(value, "PHID-" + value.split("-")[1] + "-*")
        if isinstance(value, str):
            for phid, label in self.labels.items():
                value = value.replace(phid, label)
            return re.sub(r"PHID-([A-Z]+)-[a-z0-9]+", r"PHID-\1-*", value)
        return value

    def search(self, user="admin", **constraints):
        """maniphest.search as ``user``: [(id, name, view policy, Space)] newest first."""
        data = self.result("maniphest.search", {"constraints": constraints, "order": "newest"}, user)["data"]
        return [(t["id"], t["fields"]["name"], self.norm(t["fields"]["policy"]["view"]),
                 self.norm(t["fields"]["spacePHID"])) for t in data]

    def fields(self, tid, user="admin"):
        data = self.result("maniphest.search", {"constraints": {"ids": [tid]},
                                                "attachments": {"subscribers": True, "projects": True}}, user)["data"]
        assert data, (self.kind, tid, user)
        return data[0]

    def xacts(self, tid, user="admin"):
        return self.result("transaction.search", {"objectIdentifier": f"T{tid}", "limit": 100}, user)["data"]

    def types(self, tid, user="admin", limit=None):
        """Transaction types, newest first, with their author."""
        rows = self.xacts(tid, user)[:limit]
        return [(x["type"], self.norm(x["authorPHID"])) for x in rows]

    def error(self, method, params, user="admin"):
        answer = self.raw(method, params, user)
        return answer["error_code"], self.norm(answer["error_info"])

    def anonymous_get(self, uri):
        """GET a page the way the bot does for a Space: no credentials, no cookies."""
        path = urllib.parse.urlsplit(uri).path.lstrip("/")
        answer = requests.get(self.srv.url + path, allow_redirects=False, timeout=60, cookies={})
        title = re.search(r"<title>(.*?)</title>", answer.text, re.S)
        return answer.status_code, title.group(1).strip() if title else None


@pytest.fixture
def both(real, imitation):
    clients = []
    for kind, server in (("real", real), ("imitation", imitation)):
        server.reset()
        server.clock = time.time
        server.clear_request_log()
        clients.append(Client(server, kind))
    return clients


def run_both(both, scenario):
    """Run ``scenario(client)`` on each server; return the two observations, real first."""
    return [scenario(client) for client in both]


def assert_same(both, scenario):
    real, imitation = run_both(both, scenario)
    assert imitation == real
    return real


def team(c, *, admin_member=True):
    members = ["GrowthBot", "alice"] + (["admin"] if admin_member else [])
    return c.project("Growth-Team", "growth-team", members=members)


# --- 1. visibility -------------------------------------------------------------------------

def test_search_leaves_out_tasks_the_caller_may_not_see(both):
    def scenario(c):
        team(c)
        c.task("Public task", projects=["growth-team"])
        c.task("Users task", projects=["growth-team"], view_policy="users")
        c.task("Admin task", projects=["growth-team"], view_policy="admin")
        c.task("Team task", projects=["growth-team"], view_policy="#growth-team")
        c.task("Admin task assigned to bob", projects=["growth-team"], view_policy="admin", owner="bob")
        # maniphest.edit without a view transaction: Phorge's default view policy is "users"
        made = c.result("maniphest.edit", {"transactions": [
            {"type": "title", "value": "Default policy"},
            {"type": "projects.add", "value": [c.phid_of("#Growth-Team")]}]}, "alice")
        seen = {u: c.search(u, projects=["growth-team"]) for u in USERS}
        # a task that becomes invisible simply stops being returned
        c.srv.update_task(1, actor="admin", view_policy="admin")
        later = c.search("GrowthBot", projects=["growth-team"])
        lockout = c.error("maniphest.edit", {"objectIdentifier": "T2", "transactions": [
            {"type": "view", "value": "admin"}]}, "alice")
        return made["object"]["id"], seen, later, lockout

    seen = assert_same(both, scenario)
    ids = {u: [row[0] for row in rows] for u, rows in seen[1].items()}
    assert ids == {"admin": [6, 5, 4, 3, 2, 1], "GrowthBot": [6, 4, 2, 1], "alice": [6, 4, 2, 1],
                   "bob": [6, 5, 2, 1]}
    assert seen[1]["admin"][0][2] == "users"
    assert [row[0] for row in seen[2]] == [6, 4, 2]
    assert seen[3] == ("ERR-CONDUIT-CORE", "Validation errors:\n  - The view policy of this object would no "
                                           "longer allow you to view the object.")


# --- 2. Spaces, and how a client learns a Space is public --------------------------------------

def test_spaces_report_the_task_policy_and_decide_visibility(both):
    def scenario(c):
        team(c, admin_member=False)
        old = c.task("Made before any Space", projects=["growth-team"])
        c.space("Secret", "admin")
        c.space("Open Space", "public")
        c.space("Team Space", "#growth-team", actor="alice")
        c.task("In Secret", projects=["growth-team"], space="Secret", author="admin")
        c.task("In Open Space", projects=["growth-team"], space="Open Space")
        c.task("In Team Space", projects=["growth-team"], space="Team Space")
        c.task("No Space given", projects=["growth-team"])
        seen = {u: c.search(u, projects=["growth-team"]) for u in USERS}
        # moved into a restricted Space: still "public", gone for those outside it
        c.srv.update_task(old, actor="admin", space="Secret")
        moved = c.search("admin", ids=[old]), c.search("GrowthBot", ids=[old]), c.types(old, limit=1)
        refused = c.error("maniphest.edit", {"objectIdentifier": "T5", "transactions": [
            {"type": "space", "value": c.phid_of("S:Secret")}]}, "bob")
        # no spaces.search: phid.query gives the page, an anonymous reader fetches it
        phids = [p for p, label in c.labels.items() if label.startswith("S:")]
        handles = c.result("phid.query", {"phids": phids + ["PHID-SPCE-doesnotexist00000000"]}, "GrowthBot")
        known = {c.norm(p): (h["name"], h["fullName"], h["type"], urllib.parse.urlsplit(h["uri"]).path)
                 for p, h in handles.items()}
        pages = {label: c.anonymous_get(uri) for label, (_, _, _, uri) in known.items()}
        pages["unknown"] = c.anonymous_get("/S99")
        return seen, moved, refused, known, pages

    seen, moved, refused, known, pages = assert_same(both, scenario)
    assert {row[0]: (row[2], row[3]) for row in seen["admin"]} == {
        5: ("public", "S:default"), 3: ("public", "S:Open Space"), 2: ("public", "S:Secret"), 1: ("public", None)}
    assert [row[0] for row in seen["GrowthBot"]] == [5, 4, 3, 1]
    assert [row[0] for row in seen["bob"]] == [5, 3, 1]
    assert moved == ([(1, "Made before any Space", "public", "S:Secret")], [], [(None, "@admin")])
    assert refused[0] == "ERR-CONDUIT-CORE" and "can not shift this object" in refused[1]
    # the bot (outside Secret) gets no handle for it; public Spaces show their page
    assert set(known) == {"S:default", "S:Open Space", "S:Team Space"}
    assert known["S:Team Space"][1] == "S4 Team Space"
    assert pages == {"S:default": (200, "\u25cb S1 \u00b7 Public"), "S:Open Space": (200, "\u25cb S3 \u00b7 Open Space"),
                     "S:Team Space": (200, "Authentication Failure"), "unknown": (404, "404 Not Found")}


# --- 3. subprojects and milestones ------------------------------------------------------------

def test_project_constraint_includes_subprojects_and_milestones(both):
    def scenario(c):
        parent = team(c)
        sub = c.project("Growth Sub", "growth-sub", parent="growth-team")
        milestone = c.project("Sprint 1", milestone="growth-team")
        c.task("Tagged with the parent", projects=["growth-team"])
        c.task("Tagged with the subproject", projects=[sub])
        c.task("Tagged with the milestone", projects=[milestone])
        c.task("Untagged")
        found = {label: [t[0] for t in c.search(projects=[ref])]
                 for label, ref in (("parent", parent), ("slug", "growth-team"), ("sub", sub),
                                    ("sub slug", "growth-sub"), ("sub name slug", "growth_sub"),
                                    ("milestone", milestone), ("hashtag", "#growth-team"))}
        rows = c.result("project.search", {"attachments": {"ancestors": True}, "order": "newest"})["data"]
        projects = [(p["id"], p["fields"]["name"], p["fields"]["slug"], p["fields"]["milestone"],
                     p["fields"]["depth"], c.norm(p["fields"]["parent"] and p["fields"]["parent"]["phid"]),
                     p["fields"]["icon"]["key"], [c.norm(a["phid"]) for a in p["attachments"]["ancestors"]["ancestors"]])
                    for p in rows]
        return found, projects

    found, projects = assert_same(both, scenario)
    assert found == {"parent": [3, 2, 1], "slug": [3, 2, 1], "sub": [2], "sub slug": [2], "sub name slug": [2],
                     "milestone": [3], "hashtag": []}
    assert projects[0][1:5] == ("Sprint 1", None, 1, 1)


# --- 4. a task removed from the project ---------------------------------------------------------

def test_a_task_removed_from_the_project_no_longer_matches(both):
    def scenario(c):
        team(c)
        tid = c.task("Leaves the project", projects=["growth-team"])
        c.task("Stays", projects=["growth-team"])
        since = c.fields(tid)["fields"]["dateModified"]
        c.srv.update_task(tid, actor="alice", projects_remove=["growth-team"])
        incremental = [t[0] for t in c.search(projects=["growth-team"], modifiedStart=since)]
        anywhere = [t[0] for t in c.search(modifiedStart=since)]
        return incremental, anywhere, c.fields(tid)["attachments"]["projects"]["projectPHIDs"]

    assert assert_same(both, scenario) == ([2], [2, 1], [])


# --- 5. unknown or invisible objects ------------------------------------------------------------

def test_unknown_and_invisible_objects(both):
    def scenario(c):
        c.task("Admin only", view_policy="admin")
        phid = c.fields(1)["phid"]
        out = {}
        for ident in ("T999", "T1", phid, "PHID-TASK-doesnotexist0000000", "garbage"):
            key = "PHID of T1" if ident == phid else ident
            out["transaction.search " + key] = c.error("transaction.search", {"objectIdentifier": ident}, "bob")
        for ident in ("T999", "T1", 999, 1, phid, "PHID-TASK-doesnotexist0000000"):
            key = "PHID of T1" if ident == phid else str(ident)
            out["maniphest.edit " + key] = c.error("maniphest.edit", {
                "objectIdentifier": ident, "transactions": [{"type": "comment", "value": "x"}]}, "bob")
        out["phid.lookup"] = c.result("phid.lookup", {"names": ["T1", "T999"]}, "bob")
        out["phid.query"] = c.result("phid.query", {"phids": [phid]}, "bob")
        out["admin sees"] = [t["type"] for t in c.xacts(1)][-1]
        return out

    out = assert_same(both, scenario)
    assert out["transaction.search T999"] == out["transaction.search T1"] == (
        "ERR-INVALID-OBJECT-PHID", 'Specified "objectIdentifier" does not exist.')
    # maniphest.edit answers ERR-CONDUIT-CORE, not ERR-INVALID-OBJECT-PHID (measured here)
    # named by PHID, an invisible task is a policy exception in both methods
    assert out["transaction.search PHID of T1"] == out["maniphest.edit PHID of T1"] == out["maniphest.edit 1"]
    assert out["maniphest.edit T999"] == ("ERR-CONDUIT-CORE", 'Monogram "T999" does not identify a valid object.')
    assert out["maniphest.edit T1"] == ("ERR-CONDUIT-CORE", 'Monogram "T1" does not identify a valid object.')
    assert out["maniphest.edit 1"][0] == out["maniphest.edit T1"][0] == "ERR-CONDUIT-CORE"
    assert out["maniphest.edit 1"][1].startswith("[You Shall Not Pass: Restricted Maniphest Task]")
    assert out["phid.lookup"] == [] and out["phid.query"] == []


# --- 6. who is subscribed by commenting -----------------------------------------------------------

def test_bots_are_not_subscribed_by_their_comments(both):
    def scenario(c):
        tid = c.task("Alice's task")
        bot = c.result("maniphest.edit", {"objectIdentifier": f"T{tid}", "transactions": [
            {"type": "comment", "value": "Noted by the bot."}]}, "GrowthBot")
        subs_after_bot = c.norm(c.fields(tid)["attachments"]["subscribers"]["subscriberPHIDs"])
        human = c.result("maniphest.edit", {"objectIdentifier": f"T{tid}", "transactions": [
            {"type": "comment", "value": "Bob was here."}]}, "bob")
        subs_after_bob = c.norm(c.fields(tid)["attachments"]["subscribers"]["subscriberPHIDs"])
        return len(bot["transactions"]), sorted(subs_after_bot), len(human["transactions"]), \
            sorted(subs_after_bob), c.types(tid, limit=3)

    assert assert_same(both, scenario) == (
        1, ["@alice"], 2, ["@alice", "@bob"],
        [("comment", "@bob"), ("subscribers", "@bob"), ("comment", "@GrowthBot")])


# --- 7. mentions ------------------------------------------------------------------------------------

def test_mentions_add_a_typeless_transaction_to_the_mentioned_task(both):
    def scenario(c):
        for title in ("One", "Two", "Three"):
            c.task(title)
        first = c.result("maniphest.edit", {"objectIdentifier": "T2", "transactions": [
            {"type": "comment", "value": "See T1 and T3, also T999."}]}, "bob")
        again = c.result("maniphest.edit", {"objectIdentifier": "T2", "transactions": [
            {"type": "comment", "value": "Again T3, and T2 itself."}]}, "bob")
        made = c.result("maniphest.edit", {"transactions": [
            {"type": "title", "value": "Four"}, {"type": "description", "value": "Relates to T1."}]}, "GrowthBot")
        return (len(first["transactions"]), len(again["transactions"]), len(made["transactions"]),
                c.types(1, limit=2), c.types(2, limit=4), c.types(3, limit=2), c.types(4))

    out = assert_same(both, scenario)
    assert out[:3] == (3, 1, 5)
    assert out[3] == [(None, "@GrowthBot"), (None, "@bob")]
    assert out[4] == [("comment", "@bob"), ("comment", "@bob"), (None, "@bob"), ("subscribers", "@bob")]


# --- 8. dateModified ---------------------------------------------------------------------------------

def test_every_comment_moves_date_modified_within_the_clock(both):
    def scenario(c):
        long_ago = int(time.time()) - 100000
        tid = c.task("Old task", date_modified=long_ago)
        other = c.task("Old, mentioned", date_modified=long_ago)
        c.result("maniphest.edit", {"objectIdentifier": f"T{tid}", "transactions": [
            {"type": "comment", "value": "The bot's comment moves it."}]}, "GrowthBot")
        moved = c.fields(tid)["fields"]["dateModified"]
        newest = c.xacts(tid)[0]["dateCreated"]
        for n in range(4):
            c.result("maniphest.edit", {"objectIdentifier": f"T{tid}", "transactions": [
                {"type": "comment", "value": f"Quick {n}; see T{other}."}]}, "GrowthBot")
        after = c.fields(tid)["fields"]["dateModified"]
        mentioned = c.fields(other)["fields"]
        return (moved > long_ago, moved == newest, after == c.xacts(tid)[0]["dateCreated"],
                after <= int(time.time()), mentioned["dateModified"] == c.xacts(other)[0]["dateCreated"],
                mentioned["dateCreated"] == long_ago)

    assert assert_same(both, scenario) == (True, True, True, True, True, True)
