"""The Conduit adapter against the Conduit sandbox (real wire format on 127.0.0.1)."""
from __future__ import annotations

import contextlib
import http.server
import json
import threading

import pytest

from bot.adapters.phab import ConduitClient
from bot.adapters.writes import issuing
from bot.errors import AuthError, ConfigError, PartialData, ServerError, TransientError, UncertainWriteError


@pytest.fixture(autouse=True)
def _issued_by_the_writer():
    """These tests are about the adapter itself; in the bot its writes come from the writer."""
    with issuing():
        yield


UA = "ambassador-bot-tests/0.1 (test@example.org)"


@contextlib.contextmanager
def answering_server(body: bytes, seen: list | None = None):
    """A local HTTP server that answers every POST with `body` (noting each User-Agent in `seen`):
    the shapes a real Phorge does not send on demand. Yields its URL."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            if seen is not None:
                seen.append(self.headers["User-Agent"])
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def conduit_answer(result) -> bytes:
    return json.dumps({"result": result, "error_code": None, "error_info": None}).encode()


def client(conduit, **kw):
    kw.setdefault("sleep", lambda s: None)
    return ConduitClient(conduit.url, kw.pop("token", conduit.bot_token), UA, **kw)


def test_search_follows_the_cursor_to_the_end(conduit):
    project = conduit.create_project("Growth-Team", "growth-team")
    for i in range(201):
        conduit.create_task(f"Task {i}", projects=[project])
    c = client(conduit)
    conduit.clear_request_log()
    tasks = c.search_tasks(projects=[project])
    assert len(tasks) == 201 and len({t.id for t in tasks}) == 201
    assert [m for m, _ in conduit.requests] == ["maniphest.search"] * 3   # pages of 100
    assert all(p.get("limit") == 100 for _, p in conduit.requests)


def test_incremental_fetch_uses_modified_start(conduit):
    project = conduit.create_project("Growth-Team", "growth-team")
    conduit.clock = lambda: 1_795_000_000
    old = conduit.create_task("old", projects=[project])
    conduit.clock = lambda: 1_795_000_100
    new = conduit.create_task("new", projects=[project])
    tasks = client(conduit).search_tasks(projects=[project], modified_start=1_795_000_050)
    assert [t.id for t in tasks] == [new] and old != new


def test_view_policy_and_owner_are_read(conduit):
    project = conduit.create_project("Growth-Team", "growth-team")
    conduit.create_task("Security: leak", projects=[project], view_policy="users", owner="bob")
    c = client(conduit)
    (task,) = c.search_tasks(projects=[project])
    assert task.view_policy == "users" and not task.is_public
    assert c.user_names([task.owner_phid]) == {task.owner_phid: "bob"}


def test_unknown_project_is_a_config_error(conduit):
    with pytest.raises(ConfigError, match="unknown Phabricator project.*no-such"):
        client(conduit).project_phids(["no-such"])


def test_project_slug_resolves(conduit):
    phid = conduit.create_project("Growth-Team", "growth-team")
    assert client(conduit).project_phids(["growth-team"]) == {"growth-team": phid}


def test_bad_token_is_an_auth_error_with_the_server_message(conduit):
    with pytest.raises(AuthError, match="ERR-INVALID-AUTH"):
        client(conduit, token="api-" + "x" * 28).whoami()


def test_error_code_becomes_typed_error(conduit):
    with pytest.raises(ServerError) as err:
        client(conduit).call("maniphest.edit", {"objectIdentifier": "T999", "transactions": []}, write=True)
    assert err.value.code == "ERR-CONDUIT-CORE"


def test_reads_are_retried_on_5xx(conduit):
    conduit.fail_next("user.whoami", count=2, mode="http500")
    assert client(conduit).whoami().username == "GrowthBot"
    assert [m for m, _ in conduit.requests].count("user.whoami") >= 1


def test_reads_give_up_after_attempts(conduit):
    conduit.fail_next("user.whoami", count=10, mode="http500")
    with pytest.raises(TransientError):
        client(conduit, read_attempts=3).whoami()


def test_paging_failure_midway_is_partial_data(conduit):
    project = conduit.create_project("Growth-Team", "growth-team")
    for i in range(150):
        conduit.create_task(f"Task {i}", projects=[project])
    c = client(conduit, read_attempts=2)
    original = c.call

    def fail_second_page(method, params=None, write=False):
        if params and params.get("after"):
            raise TransientError("boom")
        return original(method, params, write=write)
    c.call = fail_second_page
    with pytest.raises(PartialData, match="stopped after 1 page"):
        c.search_tasks(projects=[project])


def test_slow_write_is_sent_once(conduit):
    """python-phabricator would resend this POST after the read timeout (4 comments)."""
    project = conduit.create_project("Growth-Team", "growth-team")
    task_id = conduit.create_task("Slow", projects=[project])
    conduit.set_delay("maniphest.edit", 2.5)
    c = client(conduit, timeout=1)
    with pytest.raises(UncertainWriteError):
        c.comment(task_id, "hello once")
    conduit.set_delay("maniphest.edit", 0)
    import time
    time.sleep(2)  # let the server finish the request it is still answering
    assert [x["text"] for x in conduit.comments(task_id)] == ["hello once"]
    assert [m for m, _ in conduit.requests].count("maniphest.edit") == 1


def test_one_session_for_all_methods(conduit):
    c = client(conduit)
    c.whoami()
    c.call("conduit.ping")
    c.call("maniphest.status.search")
    assert {id(r.session) for r in c._resources.values()} == {id(c.session)}


def test_transaction_search_is_usable(conduit):
    project = conduit.create_project("Growth-Team", "growth-team")
    task_id = conduit.create_task("T", projects=[project])
    c = client(conduit)
    c.comment(task_id, "a comment")
    comments = [t for t in c.transactions(f"T{task_id}") if t.type == "comment"]
    assert comments and comments[0].text == "a comment" and comments[0].texts == ("a comment",)


def test_whoami_is_the_bots_account(conduit):
    me = client(conduit).whoami()
    assert (me.username, me.phid) == ("GrowthBot", conduit.user_phid("GrowthBot"))


def test_plain_edited_and_removed_comments_as_transactions(conduit):
    project = conduit.create_project("Growth-Team", "growth-team")
    task_id = conduit.create_task("T", projects=[project])
    conduit.update_task(task_id, actor="alice", comment="stays as written")
    conduit.update_task(task_id, actor="alice", comment="first words")
    conduit.update_task(task_id, actor="bob", comment="regretted")
    plain, edited, removed = [x for x in reversed(client(conduit).transactions(f"T{task_id}"))
                              if x.type == "comment"]
    assert conduit.edit_comment(edited.phid, "second words", actor="alice") == 2
    assert conduit.remove_comment(removed.phid, actor="bob") == 2
    c = client(conduit)
    history = c.transactions(f"T{task_id}")
    by_phid = {x.phid: x for x in history}
    task_phid = conduit.task(task_id)["phid"]
    alice, bob = conduit.user_phid("alice"), conduit.user_phid("bob")

    now = by_phid[plain.phid]
    assert (now.type, now.author_phid, now.object_phid) == ("comment", alice, task_phid)
    assert (now.text, now.texts, now.removed) == ("stays as written", ("stays as written",), False)
    assert now.date_created > 0
    # an edit keeps the earlier words, newest first
    now = by_phid[edited.phid]
    assert (now.text, now.texts, now.removed, now.author_phid) == ("second words", ("second words", "first words"),
                                                                   False, alice)
    # a removal hides every version's words
    now = by_phid[removed.phid]
    assert (now.text, now.texts, now.removed, now.author_phid) == ("", ("", ""), True, bob)
    assert [x.phid for x in c.transactions(f"T{task_id}", author_phids=[bob]) if x.type == "comment"] == [removed.phid]
    assert [x.phid for x in c.transactions(task_phid, phids=[edited.phid])] == [edited.phid]
    # the other kinds of transaction come back too, without comment versions
    assert any(x.type != "comment" and x.versions == () for x in history)
    assert [(t.phid, t.text, t.removed) for t in c.task_comments(task_id)] == [
        (removed.phid, "", True), (edited.phid, "second words", False), (plain.phid, "stays as written", False)]


def test_users_comments_and_a_persons_tasks_as_dataclasses(conduit):
    project = conduit.create_project("Growth-Team", "growth-team")
    mine = conduit.create_task("Alice's", projects=[project], author="alice", subscribers=["bob"])
    theirs = conduit.create_task("Bob's", projects=[project], author="bob")
    conduit.update_task(mine, actor="bob", comment="first")
    conduit.update_task(mine, actor="alice", comment="not bob's")
    conduit.update_task(theirs, actor="alice", status="resolved")
    c = client(conduit)
    bob, alice = conduit.user_phid("bob"), conduit.user_phid("alice")

    assert {(u.username, u.phid) for u in c.users_by_name(["bob", "alice", "nobody"])} == {("bob", bob),
                                                                                            ("alice", alice)}
    (comment,) = c.task_comments(mine, author_phids=[bob])
    assert (comment.text, comment.author_phid, comment.removed) == ("first", bob, False) and comment.date_created > 0
    assert [t.id for t in c.search_tasks(authors=[bob])] == [theirs]
    assert [t.id for t in c.search_tasks(closers=[alice], closed_start=1)] == [theirs]
    # an author is subscribed to their own task
    assert sorted(t.id for t in c.search_tasks(subscribers=[bob])) == sorted([mine, theirs])
    assert sorted(t.id for t in c.search_tasks(created_start=1, created_end=2**31 - 1)) == sorted([mine, theirs])
    assert c.search_tasks(created_start=2**31 - 2) == []


def test_unreachable_server_is_transient():
    c = ConduitClient("http://127.0.0.1:9/", "api-" + "a" * 28, UA, read_attempts=1, timeout=2)
    with pytest.raises(TransientError, match="cannot connect"):
        c.whoami()


def test_user_agent_is_ours_not_the_packages():
    seen = []
    with answering_server(conduit_answer({"phid": "PHID-USER-x", "userName": "x"}), seen) as url:
        ConduitClient(url, "api-" + "a" * 28, UA).whoami()
    assert seen == [UA]


def test_malformed_answer_is_an_error_with_context():
    with answering_server(b"<html>Fatal error</html>") as url:
        c = ConduitClient(url, "api-" + "a" * 28, UA, read_attempts=1)
        with pytest.raises(TransientError, match="user.whoami.*malformed answer"):
            c.whoami()
        with pytest.raises(UncertainWriteError, match="malformed answer"):
            c.comment(1, "x")


@pytest.mark.parametrize("method, result, match", [
    ("transaction.search", {"data": [{"type": "comment"}], "cursor": {"after": None}},
     r"transaction.search: a transaction has an unexpected shape \(KeyError"),
    ("transaction.search", {"data": [{"phid": "PHID-XACT-TASK-x", "comments": ["words"]}], "cursor": {"after": None}},
     r"transaction.search: a transaction has an unexpected shape \(AttributeError"),
    ("transaction.search", {"data": [{"phid": "PHID-XACT-TASK-x", "dateCreated": "yesterday"}],
                            "cursor": {"after": None}},
     r"transaction.search: a transaction has an unexpected shape \(ValueError"),
    ("user.whoami", {"userName": "GrowthBot"}, r"user.whoami: the account has an unexpected shape \(KeyError"),
])
def test_a_transaction_or_account_of_the_wrong_shape_is_a_server_error(method, result, match):
    with answering_server(conduit_answer(result)) as url:
        c = ConduitClient(url, "api-" + "a" * 28, UA, read_attempts=1)
        with pytest.raises(ServerError, match=match):
            c.transactions("T1") if method == "transaction.search" else c.whoami()
