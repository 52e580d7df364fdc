"""Phabricator (Herald) webhooks and `/healthz`, served from the bot's own process.

A delivery is a POST whose JSON body holds only PHIDs (the object and its new
transactions); `X-Phabricator-Webhook-Signature` is the hex HMAC-SHA256 of the raw
body with the hook's key. The receiver:

1. refuses anything else with a 4xx before reading more than `max_body_bytes`:
   no or wrong signature (compared in constant time), a body that is too big, not
   JSON, or not shaped like a delivery;
2. looks the transactions up with `transaction.search` (`constraints.phids`), because
   the body proves only that something happened, not what;
3. drops the bot's own transactions, so its own task comments never wake it (no loops);
4. asks the scheduler to run the configured jobs (status-sync, feedback) now.

Replays and unknown objects are harmless: a delivery whose transactions were all seen
before is acknowledged and ignored, an object Conduit does not know is ignored, and the
jobs it triggers are idempotent anyway. When the lookup itself fails, the answer is
503 so that Phabricator retries the delivery later (polling would catch it too).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from bot.errors import BotError, PartialData, ServerError, TransientError

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Phabricator-Webhook-Signature"
NS_SEEN = "webhook-seen"            # transaction PHID -> time first seen
SEEN_KEEP_SECONDS = 7 * 86400
PRUNE_EVERY = 200                   # deliveries between prunes of the seen list


def sign(key: bytes, body: bytes) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def signature_ok(key: bytes, body: bytes, header: str | None) -> bool:
    if not header:
        return False
    expected = sign(key, body).encode()
    # compare_digest needs equal types; a non-ASCII header is simply wrong.
    try:
        given = header.strip().lower().encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected, given)


class Refused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def parse_delivery(body: bytes) -> tuple[str, str, list[str]]:
    """(object type, object PHID, transaction PHIDs) of a webhook body, or Refused(400)."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "body is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise Refused(400, "body has no object")
    obj = data["object"]
    kind, phid = obj.get("type"), obj.get("phid")
    if not isinstance(kind, str) or not isinstance(phid, str) or not phid.startswith("PHID-"):
        raise Refused(400, "object has no type or PHID")
    xacts = data.get("transactions", [])
    if not isinstance(xacts, list) or not all(isinstance(x, dict) and isinstance(x.get("phid"), str) for x in xacts):
        raise Refused(400, "transactions must be a list of {phid}")
    return kind, phid, [x["phid"] for x in xacts]


class DeliveryHandler:
    """What a verified delivery does. Separate from HTTP so it can be tested directly."""

    def __init__(self, phab, store, trigger: Callable[[list[str]], list[str]], jobs: tuple[str, ...], *,
                 clock: Callable[[], float] = time.time):
        self.phab = phab
        self.store = store
        self.trigger = trigger          # job names -> the scheduled entries it started; raises when not leader
        self.jobs = jobs
        self.clock = clock
        self._bot_phid: str | None = None
        self._lock = threading.Lock()   # one lookup at a time: Phabricator sends one hook after another anyway
        self._count = 0

    def bot_phid(self) -> str:
        if self._bot_phid is None:
            self._bot_phid = self.phab.whoami()["phid"]
        return self._bot_phid

    def handle(self, kind: str, object_phid: str, xact_phids: list[str]) -> tuple[int, dict[str, Any]]:
        fields = {"outcome": "ignored", "task": object_phid}
        if kind != "TASK":
            log.info("webhook for a %s object: nothing to do", kind, extra=fields)
            return 200, {"result": "ignored", "reason": f"not a task ({kind})"}
        if not xact_phids:
            return 200, {"result": "ignored", "reason": "no transactions"}
        with self._lock:
            seen = self.store.items(NS_SEEN) if len(xact_phids) > 20 else {
                p: True for p in xact_phids if self.store.get(NS_SEEN, p) is not None}
            new = [p for p in xact_phids if p not in seen]
            if not new:
                log.info("webhook replayed: every transaction was seen before", extra=fields)
                return 200, {"result": "ignored", "reason": "replayed"}
            try:
                rows = self.phab.transactions(object_phid, phids=new)
                bot = self.bot_phid()
            except ServerError as exc:
                # Conduit answers "No object ... exists" for an unknown or invisible object.
                log.info("webhook for an object Conduit does not show: %s", exc, extra=fields)
                return 200, {"result": "ignored", "reason": "unknown object"}
            except (TransientError, PartialData) as exc:
                log.warning("webhook: cannot look the transactions up: %s", exc,
                            extra={**fields, "outcome": "retry-later"})
                return 503, {"result": "retry", "reason": "lookup failed"}
            by_others = [r for r in rows if r.get("authorPHID") != bot]
            if not rows:
                outcome = (200, {"result": "ignored", "reason": "no such transactions"})
            elif not by_others:
                outcome = (200, {"result": "ignored", "reason": "own transactions"})
            else:
                started = self.trigger(list(self.jobs))
                outcome = (202, {"result": "scheduled", "jobs": started,
                                 "transactions": [r.get("type") for r in by_others]})
            now = self.clock()
            for p in new:
                self.store.put(NS_SEEN, p, now)
            self._count += 1
            if self._count % PRUNE_EVERY == 0:
                self._prune(now)
        log.info("webhook: %s", outcome[1].get("reason") or ", ".join(outcome[1]["jobs"]),
                 extra={**fields, "outcome": outcome[1]["result"]})
        return outcome

    def _prune(self, now: float) -> None:
        for phid, when in self.store.items(NS_SEEN).items():
            if now - float(when) > SEEN_KEEP_SECONDS:
                self.store.delete(NS_SEEN, phid)


class NotLeader(BotError):
    """This replica does not hold the lease: it cannot run jobs now."""


class WebhookServer:
    """A small threaded HTTP server: POST <path> for deliveries, GET /healthz for the platform."""

    def __init__(self, settings, key: bytes, delivery: DeliveryHandler, health: Callable[[], tuple[bool, dict]]):
        self.settings = settings
        self.key = key
        self.delivery = delivery
        self.health = health
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else self.settings.port

    def start(self) -> "WebhookServer":
        handler = type("_BoundHandler", (_Handler,), {"owner": self})
        self._server = ThreadingHTTPServer((self.settings.host, self.settings.port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook", daemon=True)
        self._thread.start()
        log.info("webhook endpoint listening on http://%s:%d%s (and /healthz)", self.settings.host, self.port,
                 self.settings.path)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- request handling, called from _Handler ------------------------------------------
    def post(self, path: str, headers, read: Callable[[int], bytes]) -> tuple[int, dict]:
        if path != self.settings.path:
            return 404, {"error": "not found"}
        length = headers.get("Content-Length")
        if length is None or not length.isdigit():
            return 411, {"error": "Content-Length required"}
        if int(length) > self.settings.max_body_bytes:
            return 413, {"error": f"body larger than {self.settings.max_body_bytes} bytes"}
        body = read(int(length))
        if not signature_ok(self.key, body, headers.get(SIGNATURE_HEADER)):
            log.warning("webhook refused: missing or wrong signature", extra={"outcome": "refused"})
            return 403, {"error": "bad signature"}
        try:
            kind, phid, xacts = parse_delivery(body)
        except Refused as exc:
            log.warning("webhook refused: %s", exc.reason, extra={"outcome": "refused"})
            return exc.status, {"error": exc.reason}
        try:
            return self.delivery.handle(kind, phid, xacts)
        except NotLeader:
            return 503, {"result": "retry", "reason": "standby replica"}
        except BotError as exc:
            log.error("webhook: %s", exc, extra={"task": phid, "outcome": "error"})
            return 503, {"result": "retry", "reason": "error"}

    def get(self, path: str) -> tuple[int, dict]:
        if path != "/healthz":
            return 404, {"error": "not found"}
        ok, details = self.health()
        return (200 if ok else 503), details


class _Handler(BaseHTTPRequestHandler):
    owner: WebhookServer
    timeout = 15                     # a slow client cannot hold a thread forever
    server_version = "ambassador-bot"
    sys_version = ""

    def do_POST(self):
        status, answer = self.owner.post(self.path.split("?", 1)[0], self.headers, self.rfile.read)
        self._answer(status, answer)

    def do_GET(self):
        status, answer = self.owner.get(self.path.split("?", 1)[0])
        self._answer(status, answer)

    def _method_not_allowed(self):
        self._answer(405, {"error": "method not allowed"})

    do_PUT = do_DELETE = do_PATCH = _method_not_allowed

    def _answer(self, status: int, answer: dict) -> None:
        data = json.dumps(answer, sort_keys=True).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status >= 400:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        log.debug("webhook http: " + fmt, *args)
