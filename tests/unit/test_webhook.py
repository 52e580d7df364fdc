"""The webhook receiver: signatures, limits, lookups, loops and replays (no servers but its own)."""
from __future__ import annotations

import http.client
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.errors import ServerError, TransientError
from bot.store import MemoryStore
from bot.webhook import (DeliveryHandler, NotLeader, Refused, WebhookServer, parse_delivery, sign,
                         signature_ok)

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


class FakeConduit:
    def __init__(self, rows=(), error=None, bot=BOT):
        self.rows, self.error, self.bot = list(rows), error, bot
        self.calls = []

    def whoami(self):
        return {"phid": self.bot}

    def transactions(self, object_id, *, author_phids=(), phids=()):
        self.calls.append((object_id, list(phids)))
        if self.error:
            raise self.error
        return [r for r in self.rows if r["objectPHID"] == object_id and (not phids or r["phid"] in phids)]


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

def test_task_change_by_a_human_schedules_status_sync():
    phab = FakeConduit(followup_rows())
    h, triggered = handler(phab)
    status, answer = h.handle(*parse_delivery(sample("firehose-task-T2-status-comment.json")[0]))
    assert status == 202 and answer["result"] == "scheduled"
    assert sorted(answer["transactions"]) == ["comment", "owner", "status"]
    assert triggered == [["status-sync"]]
    assert phab.calls == [("PHID-TASK-7nsxl22rm36fod45pqkw", ["PHID-XACT-TASK-wucggwzn5ptkq5f",
                                                              "PHID-XACT-TASK-fqneftjwg5dj7ke",
                                                              "PHID-XACT-TASK-kg4y4hmlnysodsw"])]


def test_replayed_delivery_is_harmless():
    h, triggered = handler(FakeConduit(followup_rows()))
    delivery = parse_delivery(sample("herald-rule-hook-task-T2-status-comment.json")[0])
    assert h.handle(*delivery)[0] == 202
    status, answer = h.handle(*delivery)
    assert (status, answer["reason"]) == (200, "replayed") and len(triggered) == 1
    # the firehose delivery of the same change (same transactions) is a replay too
    assert h.handle(*parse_delivery(sample("firehose-task-T2-status-comment.json")[0]))[1]["reason"] == "replayed"


def test_bots_own_transactions_do_not_trigger_anything():
    author = followup_rows()[0]["authorPHID"]
    h, triggered = handler(FakeConduit(followup_rows(), bot=author))
    status, answer = h.handle(*parse_delivery(sample("firehose-task-T2-status-comment.json")[0]))
    assert (status, answer["reason"]) == (200, "own transactions") and triggered == []


def test_unknown_object_and_non_tasks_are_ignored():
    h, triggered = handler(FakeConduit(error=ServerError('Conduit transaction.search: ERR-CONDUIT-CORE: No object '
                                                         '"PHID-TASK-rfg4rggtswetlgys3v55" exists.')))
    assert h.handle(*parse_delivery(sample("firehose-task-T7-comment.json")[0]))[1]["reason"] == "unknown object"
    assert h.handle(*parse_delivery(sample("firehose-project-create.json")[0]))[1]["reason"].startswith("not a task")
    h2, _ = handler(FakeConduit([]))
    assert h2.handle(*parse_delivery(sample("firehose-task-T7-comment.json")[0]))[1]["reason"] == "no such transactions"
    assert triggered == []


def test_lookup_failure_asks_phabricator_to_retry_and_forgets_nothing():
    phab = FakeConduit(followup_rows(), error=TransientError("Conduit: cannot connect"))
    h, triggered = handler(phab)
    delivery = parse_delivery(sample("firehose-task-T2-status-comment.json")[0])
    assert h.handle(*delivery)[0] == 503 and triggered == []
    phab.error = None
    assert h.handle(*delivery)[0] == 202          # the retry is not taken for a replay


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
    assert status == 202 and server.triggered == [["status-sync", ]]


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


def test_http_healthz(server):
    assert request(server, "GET", "/healthz") == (200, {"ok": True, "jobs": {}})
    server.health_state["ok"] = False
    assert request(server, "GET", "/healthz")[0] == 503


def test_http_standby_replica_answers_503(server):
    def not_leader(names):
        raise NotLeader("standby")
    server.delivery.trigger = not_leader
    body, _ = sample("firehose-task-T2-status-comment.json")
    status, answer = request(server, "POST", "/webhook", body, {"X-Phabricator-Webhook-Signature": sign(KEY, body)})
    assert (status, answer["reason"]) == (503, "standby replica")
