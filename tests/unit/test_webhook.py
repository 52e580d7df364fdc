"""The webhook receiver: signatures, limits, lookups, loops and replays (no servers but its own)."""
from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.errors import ServerError, TransientError
from bot.store import MemoryStore
from bot.store.base import StoreError
from bot.webhook import (NS_QUEUE, DeliveryHandler, NotLeader, Refused, WebhookServer, json_depth, parse_delivery,
                         sign, signature_ok)
from tests.fakes import FakePhab

SAMPLES = Path(__file__).parent / "webhook_samples"
CONDUIT = Path(__file__).parents[1] / "contract" / "conduit_samples"
KEY = b"hook-key-for-tests-0123456789"
BOT = "PHID-USER-bot000000000000000"


def sample(name):
    data = json.loads((SAMPLES / name).read_text())
    return data["body_text"].encode(), data


def followup_rows():
    """transaction.search answer for the T2 delivery, recorded from a real Phorge (sample 44)."""
    return json.loads((CONDUIT / "44-transaction.search-webhook-followup-phids.json").read_text()
                      )["response"]["body_json"]["result"]["data"]


class FakeConduit(FakePhab):
    """Conduit holding recorded `transaction.search` rows, found by their object's PHID."""

    def __init__(self, rows=(), error=None, bot=BOT):
        super().__init__(bot_phid=bot)
        for r in rows:
            self.histories.setdefault(r["objectPHID"], []).append(r)
        self.fail_transactions = error

    @property
    def lookups(self):
        return [(c[1]["object"], c[1]["phids"]) for c in self.calls if c[0] == "transaction.search"]


def handler(phab, triggered=None, jobs=("status-sync",)):
    triggered = triggered if triggered is not None else []

    def trigger(names):
        triggered.append(list(names))
        return [n for n in names]
    return DeliveryHandler(phab, MemoryStore(), trigger, jobs, clock=lambda: 1_795_476_800.0), triggered


# -- signature and parsing ------------------------------------------------------------------

def test_signature_is_hex_hmac_sha256_of_the_raw_body():
    body, data = sample("herald-rule-hook-task-T2-status-comment.json")
    assert len(data["headers"]["X-Phabricator-Webhook-Signature"]) == 64   # the real header's shape
    good = sign(KEY, body)
    assert signature_ok(KEY, body, good) and signature_ok(KEY, body, good.upper())
    assert not signature_ok(KEY, body, None) and not signature_ok(KEY, body, "")
    assert not signature_ok(b"other-key", body, good)
    assert not signature_ok(KEY, body + b" ", good)              # any byte changed
    assert not signature_ok(KEY, body, good[:-1])
    assert not signature_ok(KEY, body, "é" * 64)                  # non-ASCII header: refused, no crash
    # the real delivery's signature was made with the hook's own key, which we do not have
    assert not signature_ok(KEY, body, data["headers"]["X-Phabricator-Webhook-Signature"])


def test_parse_delivery_samples():
    kind, phid, xacts = parse_delivery(sample("firehose-task-T2-status-comment.json")[0])
    assert (kind, phid) == ("TASK", "PHID-TASK-7nsxl22rm36fod45pqkw") and len(xacts) == 3
    assert parse_delivery(sample("firehose-project-create.json")[0])[0] == "PROJ"
    for bad in (b"not json", b"[]", b'{"object": 1}', b'{"object": {"type": "TASK", "phid": "x"}}',
                b'{"object": {"type": "TASK", "phid": "PHID-TASK-1"}, "transactions": [1]}', b"\xff\xfe"):
        with pytest.raises(Refused) as err:
            parse_delivery(bad)
        assert err.value.status == 400


# -- what a delivery does -----------------------------------------------------------------

def deliver(h, name):
    """One delivery answered, then the queue handled as one batch: (answer, batch summary)."""
    answer = h.handle(*parse_delivery(sample(name)[0]))
    return answer, h.flush()


def test_task_change_by_a_human_schedules_status_sync():
    phab = FakeConduit(followup_rows())
    h, triggered = handler(phab)
    status, answer = h.handle(*parse_delivery(sample("firehose-task-T2-status-comment.json")[0]))
    assert status == 202 and answer["result"] == "queued" and answer["jobs"] == ["status-sync"]
    assert triggered == [] and phab.lookups == []  # nothing asked of Conduit or the scheduler before the answer
    batch = h.flush()
    assert sorted(batch["transactions"]) == ["comment", "owner", "status"]
    assert triggered == [["status-sync"]]
    assert phab.lookups == [("PHID-TASK-7nsxl22rm36fod45pqkw", sorted(["PHID-XACT-TASK-wucggwzn5ptkq5f",
                                                                     "PHID-XACT-TASK-fqneftjwg5dj7ke",
                                                                     "PHID-XACT-TASK-kg4y4hmlnysodsw"]))]
    assert h.store.items(NS_QUEUE) == {}


def test_replayed_delivery_is_harmless():
    h, triggered = handler(FakeConduit(followup_rows()))
    (status, _), _ = deliver(h, "herald-rule-hook-task-T2-status-comment.json")
    assert status == 202
    (status, answer), _ = deliver(h, "herald-rule-hook-task-T2-status-comment.json")
    assert (status, answer["reason"]) == (200, "replayed") and len(triggered) == 1
    # the firehose delivery of the same change (same transactions) is a replay too
    assert h.handle(*parse_delivery(sample("firehose-task-T2-status-comment.json")[0]))[1]["reason"] == "replayed"


def test_bots_own_transactions_do_not_trigger_anything():
    author = followup_rows()[0]["authorPHID"]
    h, triggered = handler(FakeConduit(followup_rows(), bot=author))
    (status, _), batch = deliver(h, "firehose-task-T2-status-comment.json")
    assert status == 202 and batch["ignored"] == ["PHID-TASK-7nsxl22rm36fod45pqkw"] and triggered == []


def test_a_task_out_of_the_bots_sight_runs_the_jobs_and_non_tasks_are_ignored():
    # Conduit's answer for a task the bot has just lost sight of (made private, moved into a
    # restricted Space) is the same as for one that never existed: the tables must be checked now.
    h, triggered = handler(FakeConduit(error=ServerError('Conduit transaction.search: ERR-CONDUIT-CORE: No object '
                                                         '"PHID-TASK-rfg4rggtswetlgys3v55" exists.')))
    _, batch = deliver(h, "firehose-task-T7-comment.json")
    assert batch["out_of_sight"] == ["PHID-TASK-rfg4rggtswetlgys3v55"] and h.store.items(NS_QUEUE) == {}
    assert triggered == [["status-sync"]]
    assert h.handle(*parse_delivery(sample("firehose-project-create.json")[0]))[1]["reason"].startswith("not a task")
    h2, triggered2 = handler(FakeConduit([]))
    assert deliver(h2, "firehose-task-T7-comment.json")[1]["ignored"] == ["PHID-TASK-rfg4rggtswetlgys3v55"]
    assert triggered2 == []


def test_lookup_failure_keeps_the_delivery_queued_and_forgets_nothing():
    phab = FakeConduit(followup_rows(), error=TransientError("Conduit: cannot connect"))
    h, triggered = handler(phab)
    (status, _), batch = deliver(h, "firehose-task-T2-status-comment.json")
    assert status == 202                                  # durably queued: Phabricator need not retry
    assert batch["retry"] == ["PHID-TASK-7nsxl22rm36fod45pqkw"] and triggered == []
    assert len(h.store.items(NS_QUEUE)) == 3              # still queued, not marked seen
    # Phabricator's own retry is not taken for a replay, and queues nothing twice
    assert h.handle(*parse_delivery(sample("firehose-task-T2-status-comment.json")[0]))[0] == 202
    assert len(h.store.items(NS_QUEUE)) == 3
    phab.fail_transactions = None
    assert h.flush()["triggered"] == ["status-sync"] and triggered == [["status-sync"]]
    assert h.store.items(NS_QUEUE) == {}


def test_queue_left_by_an_earlier_process_is_handled_on_start():
    store = MemoryStore()
    first = DeliveryHandler(FakeConduit(followup_rows()), store, lambda names: names, ("status-sync",))
    assert first.handle(*parse_delivery(sample("firehose-task-T2-status-comment.json")[0]))[0] == 202
    # the process dies before its batch; the next one starts with the queue as it was
    triggered = []
    second = DeliveryHandler(FakeConduit(followup_rows()), store, lambda names: triggered.append(names) or names,
                             ("status-sync",)).start()
    try:
        _wait(lambda: triggered == [["status-sync"]])
        _wait(lambda: store.items(NS_QUEUE) == {})
    finally:
        second.stop()


def test_standby_queues_nothing():
    def standby():
        raise NotLeader("standby")
    h = DeliveryHandler(FakeConduit(followup_rows()), MemoryStore(), lambda names: names, ("status-sync",),
                        ready=standby)
    with pytest.raises(NotLeader):
        h.handle(*parse_delivery(sample("firehose-task-T2-status-comment.json")[0]))
    assert h.store.items(NS_QUEUE) == {}


def test_store_failure_is_a_503_so_phabricator_retries():
    class BrokenStore(MemoryStore):
        def put(self, namespace, key, value):
            raise StoreError("state store: cannot write")
    h = DeliveryHandler(FakeConduit(followup_rows()), BrokenStore(), lambda names: names, ("status-sync",))
    settings = SimpleNamespace(host="127.0.0.1", port=0, path="/webhook", max_body_bytes=4096)
    srv = WebhookServer(settings, KEY, h, lambda: (True, {}))
    body, _ = sample("firehose-task-T2-status-comment.json")
    status, answer = srv.post("/webhook", {"Content-Length": str(len(body)),
                                           "X-Phabricator-Webhook-Signature": sign(KEY, body)}, lambda n: body)
    assert status == 503 and answer["result"] == "retry"


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


# -- issue 12: a burst of deliveries is one lookup per task and one run ------------------------------

class CountingConduit(FakeConduit):
    """transaction.search over a generated set of tasks, each with transactions by a human."""

    def __init__(self, tasks, per_task):
        rows = [{"phid": f"PHID-XACT-TASK-{t:03d}{i:04d}", "objectPHID": f"PHID-TASK-{t:020d}",
                 "authorPHID": "PHID-USER-human", "type": "comment"} for t in range(tasks) for i in range(per_task)]
        super().__init__(rows)


def burst_bodies(tasks=50, per_task=20):
    for i in range(per_task):
        for t in range(tasks):
            yield json.dumps({"object": {"type": "TASK", "phid": f"PHID-TASK-{t:020d}"},
                              "transactions": [{"phid": f"PHID-XACT-TASK-{t:03d}{i:04d}"}]}).encode()


def test_burst_of_a_thousand_signed_webhooks_is_one_lookup_per_task_and_one_run():
    phab = CountingConduit(tasks=50, per_task=20)
    triggered = []
    h = DeliveryHandler(phab, MemoryStore(), lambda names: triggered.append(names) or names, ("status-sync",),
                        quiet=0.3, max_delay=10)
    settings = SimpleNamespace(host="127.0.0.1", port=0, path="/webhook", max_body_bytes=4096)
    srv = WebhookServer(settings, KEY, h, lambda: (True, {})).start()
    try:
        bodies = list(burst_bodies())
        assert len(bodies) == 1000
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        statuses = []
        for body in bodies:
            conn.request("POST", "/webhook", body=body, headers={"X-Phabricator-Webhook-Signature": sign(KEY, body)})
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
            conn.close()
        assert statuses == [202] * 1000
        _wait(lambda: h.store.items(NS_QUEUE) == {} and triggered, 20)
    finally:
        srv.stop()
    assert len(phab.lookups) == 50 and len({c[0] for c in phab.lookups}) == 50      # was 1,000
    assert sum(len(c[1]) for c in phab.lookups) == 1000
    assert triggered == [["status-sync"]]                                     # was 1,000 run requests


# -- over HTTP ---------------------------------------------------------------------------------

@pytest.fixture
def server():
    phab = FakeConduit(followup_rows())
    h, triggered = handler(phab)
    health = {"ok": True}
    settings = SimpleNamespace(host="127.0.0.1", port=0, path="/webhook", max_body_bytes=4096)
    srv = WebhookServer(settings, KEY, h, lambda: (health["ok"], {"ok": health["ok"], "jobs": {}})).start()
    srv.triggered, srv.health_state = triggered, health
    yield srv
    srv.stop()


def request(srv, method, path, body=b"", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, json.loads(data or b"{}")


def test_http_signed_delivery_is_accepted(server):
    body, _ = sample("firehose-task-T2-status-comment.json")
    status, answer = request(server, "POST", "/webhook", body,
                             {"X-Phabricator-Webhook-Signature": sign(KEY, body), "Content-Type": "application/json"})
    assert status == 202 and answer["result"] == "queued"
    _wait(lambda: server.triggered == [["status-sync"]])      # the batcher, a moment later


@pytest.mark.parametrize("headers, expected", [
    ({}, 403),
    ({"X-Phabricator-Webhook-Signature": "0" * 64}, 403),
    ({"X-Phabricator-Webhook-Signature": "zz"}, 403),
])
def test_http_bad_signatures_are_refused(server, headers, expected):
    body, _ = sample("firehose-task-T2-status-comment.json")
    assert request(server, "POST", "/webhook", body, headers)[0] == expected
    assert server.triggered == []


def test_http_limits_and_paths(server):
    big = b"{" + b" " * 5000 + b"}"
    assert request(server, "POST", "/webhook", big, {"X-Phabricator-Webhook-Signature": sign(KEY, big)})[0] == 413
    junk = b"not json"
    assert request(server, "POST", "/webhook", junk, {"X-Phabricator-Webhook-Signature": sign(KEY, junk)})[0] == 400
    assert request(server, "POST", "/elsewhere", junk)[0] == 404
    assert request(server, "PUT", "/webhook", junk)[0] == 405
    assert request(server, "GET", "/webhook")[0] == 404
    assert server.triggered == []


def test_http_healthz_without_a_token_says_only_ok(server):
    """Issue 17: /healthz showed the lease holder (host:pid:uuid), job timings and run counts to anyone."""
    server.health = lambda: (server.health_state["ok"], {"ok": server.health_state["ok"], "holder": "host:1:uuid",
                                                         "jobs": {"status-sync": {"last_run": "x"}}, "runs": 3})
    assert request(server, "GET", "/healthz") == (200, {"ok": True})
    server.health_state["ok"] = False
    assert request(server, "GET", "/healthz") == (503, {"ok": False})


def test_http_healthz_details_need_the_configured_token(monkeypatch):
    monkeypatch.setenv("TEST_HEALTH_TOKEN", "s3cret-health-token")
    h, _ = handler(FakeConduit())
    settings = SimpleNamespace(host="127.0.0.1", port=0, path="/webhook", max_body_bytes=4096,
                               health_token_env="TEST_HEALTH_TOKEN")
    details = {"ok": True, "holder": "host:1:uuid", "jobs": {}, "runs": 3}
    srv = WebhookServer(settings, KEY, h, lambda: (True, details)).start()
    try:
        assert request(srv, "GET", "/healthz") == (200, {"ok": True})
        assert request(srv, "GET", "/healthz", headers={"Authorization": "Bearer wrong"}) == (200, {"ok": True})
        assert request(srv, "GET", "/healthz", headers={"Authorization": "Basic s3cret-health-token"})[1] == {"ok": True}
        assert request(srv, "GET", "/healthz", headers={"Authorization": "Bearer s3cret-health-token"}) == (200, details)
    finally:
        srv.stop()


def test_http_standby_replica_answers_503(server):
    def not_leader():
        raise NotLeader("standby")
    server.delivery.ready = not_leader
    body, _ = sample("firehose-task-T2-status-comment.json")
    status, answer = request(server, "POST", "/webhook", body, {"X-Phabricator-Webhook-Signature": sign(KEY, body)})
    assert (status, answer["reason"]) == (503, "standby replica")


# -- issue 17: a bounded server ----------------------------------------------------------------------

def hardened(**kwargs):
    h, triggered = handler(FakeConduit(followup_rows()))
    settings = SimpleNamespace(host="127.0.0.1", port=0, path="/webhook", max_body_bytes=65536)
    srv = WebhookServer(settings, KEY, h, lambda: (True, {"ok": True}), **kwargs).start()
    srv.triggered = triggered
    return srv


def test_slow_client_is_cut_off_at_the_whole_request_deadline():
    """Issue 17: the 15 s timeout was per read, so one byte a second kept a connection forever."""
    srv = hardened(request_seconds=1.5, read_seconds=1.0)
    try:
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        started = time.monotonic()
        cut_off = None
        payload = b"POST /webhook HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 200
        for byte in payload:            # one byte every 0.1 s, well inside the per-read timeout
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                cut_off = time.monotonic() - started
                break
            time.sleep(0.1)
            if time.monotonic() - started > 6:
                break
        if cut_off is None:             # a write after the server closed may still succeed; a read tells
            sock.settimeout(2)
            try:
                assert sock.recv(1024) == b""
            except ConnectionResetError:
                pass
            cut_off = time.monotonic() - started
        sock.close()
        assert cut_off < 4.5, f"the slow client stayed connected {cut_off:.1f}s"
    finally:
        srv.stop()


def test_half_open_connections_are_bounded():
    """Issue 17: ThreadingHTTPServer started one thread per connection, without a cap."""
    before = threading.active_count()
    srv = hardened(max_connections=16, request_seconds=30)
    socks = []
    try:
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            s.sendall(b"POST /webhook HTTP/1.1\r\n")        # and never the rest
            socks.append(s)
        time.sleep(0.5)
        threads = threading.active_count() - before
        assert threads <= 16 + 3, f"{threads} threads for 300 half-open connections"
        assert srv._server.refused >= 300 - 16
        # a refused client hears 503 at once instead of waiting
        socks[-1].settimeout(2)
        assert socks[-1].recv(100).startswith(b"HTTP/1.0 503")
    finally:
        for s in socks:
            s.close()
    try:
        # once they go, the server serves again
        _wait(lambda: request(srv, "GET", "/healthz")[0] == 200, 10)
    finally:
        srv.stop()


def test_deeply_nested_signed_body_is_a_400_not_a_recursion_error():
    deep = b'{"object": ' + b"[" * 30000 + b"]" * 30000 + b"}"
    with pytest.raises(Refused) as err:
        parse_delivery(deep)
    assert err.value.status == 400
    assert json_depth(b'{"object": {"type": "TASK", "phid": "PHID-[[[[{{{{\\""}, "transactions": [{}]}') == 3
    srv = hardened()
    try:
        status, answer = request(srv, "POST", "/webhook", deep, {"X-Phabricator-Webhook-Signature": sign(KEY, deep)})
        assert status == 400 and "deeper" in answer["error"]
    finally:
        srv.stop()


def test_errors_go_to_the_log_not_to_stderr(capsys, caplog):
    caplog.set_level(logging.INFO, logger="bot.webhook")
    srv = hardened()
    try:
        def boom(*args):
            raise RuntimeError("a bug in the handler")
        srv.delivery.handle = boom
        body, _ = sample("firehose-task-T2-status-comment.json")
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            request(srv, "POST", "/webhook", body, {"X-Phabricator-Webhook-Signature": sign(KEY, body)})
        _wait(lambda: any("failed" in r.getMessage() for r in caplog.records if r.name == "bot.webhook"))
        try:
            raise BrokenPipeError(32, "Broken pipe")
        except BrokenPipeError:
            srv._server.handle_error(None, ("127.0.0.1", 4242))
        assert any("BrokenPipeError" in r.getMessage() for r in caplog.records)
    finally:
        srv.stop()
    assert "Traceback" not in capsys.readouterr().err
