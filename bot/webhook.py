"""Phabricator (Herald) webhooks and `/healthz`, served from the bot's own process.

A delivery is a POST whose JSON body holds only PHIDs (the object and its new
transactions); `X-Phabricator-Webhook-Signature` is the hex HMAC-SHA256 of the raw
body with the hook's key. The receiver:

1. refuses anything else with a 4xx before reading more than `max_body_bytes`:
   no or wrong signature (compared in constant time), a body that is too big, not
   JSON, nested deeper than `MAX_JSON_DEPTH` (checked before parsing), or not shaped
   like a delivery;
2. answers at once, without asking Conduit: a non-task object or a delivery whose
   transactions were all seen before (a replay) is acknowledged with 200 and ignored;
   otherwise each new transaction PHID is written to the state store's queue
   (namespace `webhook-queue`) and the answer is **202 once the delivery is durably
   queued**; a standby replica, or a store that cannot take the write, answers 503 so
   that Phabricator retries;
3. a batcher thread waits until deliveries stop arriving for `quiet` seconds (0.5 s; at
   most `max_delay`, 30 s, after the first one, so a burst however long it takes to
   arrive is one batch, and a never-ending stream still syncs every 30 s), then
   handles the whole queue as one batch: one
   `transaction.search` per task (`objectIdentifier` + `constraints.phids` of every
   queued transaction of that task, however many deliveries brought them), drops the
   bot's own transactions (its own task comments never wake it: no loops), and asks the
   scheduler to run the configured jobs (status-sync, feedback) **once** for the batch;
   the scheduler folds a request made during a run into one follow-up run.

Why 202 before the lookup: a burst of 1,000 deliveries used to cost 1,000 lookups and
1,000 run requests, because each delivery was looked up while Phabricator waited. Now
the lookup happens after the answer, so its failure can no longer be a 503 to that
delivery. Nothing is lost by that: the queue is in the state store, so a failed lookup
(Conduit down, a partial answer) leaves the task's transactions queued and the batcher
tries again after `retry_seconds` (doubling, at most 5 minutes) or with the next
delivery; a restart, or another replica taking the lease, handles what is queued; and
status-sync's polling would catch the change anyway. A transaction is marked seen only
once its batch was handled. An object Conduit says does not exist still runs the jobs: it
is most often a task the bot has just lost sight of (made private, moved into a restricted
Space), which must leave the wiki tables at once.

The HTTP server is bounded: at most `max_connections` connections are served at once
(one thread each; the others get an immediate 503 and are closed), each request must
arrive whole within `request_seconds` (not per read: a client sending one byte a second
is cut off), and every error, a broken pipe included, goes to the log, never as a
traceback on stderr. `/healthz` answers only `{"ok": ...}` (200, or 503 when not ok),
unless the request carries `Authorization: Bearer <token>` with the token from the
environment variable named by `webhook.health_token_env`; then it shows the details
(role, lease holder, jobs, runs).
"""
from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from bot.errors import BotError, PartialData, ServerError, TransientError

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Phabricator-Webhook-Signature"
NS_SEEN = "webhook-seen"            # transaction PHID -> time first seen
NS_QUEUE = "webhook-queue"          # "<object PHID> <transaction PHID>" -> {"object", "xact", "queued"}
SEEN_KEEP_SECONDS = 7 * 86400
PRUNE_EVERY = 200                   # batches between prunes of the seen list
MAX_JSON_DEPTH = 32                 # a delivery is 3 deep; a deeper body is refused before parsing
MAX_CONNECTIONS = 32                # connections (threads) served at once
REQUEST_SECONDS = 15.0              # a whole request (headers and body) must arrive within this
READ_SECONDS = 15.0                 # and each read within this
IDLE_CHECK_SECONDS = 60.0           # the batcher looks at the queue this often when nothing arrives
STANDBY_CHECK_SECONDS = 5.0         # and this often while this replica is not the leader


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


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(body: bytes) -> int:
    """How deeply a JSON text nests arrays and objects (brackets inside strings do not count)."""
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for b in brackets:
        if b in (0x5B, 0x7B):   # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth -= 1
    return deepest


def parse_delivery(body: bytes) -> tuple[str, str, list[str]]:
    """(object type, object PHID, transaction PHIDs) of a webhook body, or Refused(400)."""
    if json_depth(body) > MAX_JSON_DEPTH:
        # json.loads recurses once per level: 30,000 levels raise RecursionError.
        raise Refused(400, f"body nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
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


class NotLeader(BotError):
    """This replica does not hold the lease: it cannot run jobs now."""


def _always_ready() -> None:
    return None


class DeliveryHandler:
    """What a verified delivery does: queue it (`handle`), then handle the queue in batches (`flush`).

    Separate from HTTP so it can be tested directly; `start()` runs the batcher thread.
    """

    def __init__(self, phab, store, trigger: Callable[[list[str]], list[str]], jobs: tuple[str, ...], *,
                 clock: Callable[[], float] = time.time, ready: Callable[[], None] = _always_ready,
                 quiet: float = 0.5, max_delay: float = 30.0, retry_seconds: float = 10.0):
        self.phab = phab
        self.store = store
        self.trigger = trigger          # job names -> the scheduled entries it started; raises NotLeader
        self.ready = ready              # raises NotLeader on a standby replica
        self.jobs = jobs
        self.clock = clock
        self.quiet = quiet
        self.max_delay = max_delay
        self.retry_seconds = retry_seconds
        self._bot_phid: str | None = None
        self._store_lock = threading.Lock()
        self._flush_lock = threading.Lock()    # one batch at a time
        self._wake = threading.Condition()
        self._first: float | None = None       # monotonic time of the first delivery not yet batched
        self._last = 0.0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._batches = 0
        self.lookups = 0                       # transaction.search calls made (for tests and the benchmark)
        self.triggers = 0                      # times the jobs were asked to run

    def bot_phid(self) -> str:
        if self._bot_phid is None:
            self._bot_phid = self.phab.whoami()["phid"]
        return self._bot_phid

    # -- on the HTTP thread ----------------------------------------------------------------
    def handle(self, kind: str, object_phid: str, xact_phids: list[str]) -> tuple[int, dict[str, Any]]:
        """Answer one verified delivery; raises NotLeader on a standby, BotError when it cannot be queued."""
        fields = {"outcome": "ignored", "task": object_phid}
        if kind != "TASK":
            log.info("webhook for a %s object: nothing to do", kind, extra=fields)
            return 200, {"result": "ignored", "reason": f"not a task ({kind})"}
        if not xact_phids:
            return 200, {"result": "ignored", "reason": "no transactions"}
        self.ready()
        now = self.clock()
        with self._store_lock:
            seen = self.store.items(NS_SEEN) if len(xact_phids) > 20 else {
                p: True for p in xact_phids if self.store.get(NS_SEEN, p) is not None}
            new = [p for p in dict.fromkeys(xact_phids) if p not in seen]
            if not new:
                log.info("webhook replayed: every transaction was seen before", extra=fields)
                return 200, {"result": "ignored", "reason": "replayed"}
            for p in new:
                self.store.put(NS_QUEUE, f"{object_phid} {p}", {"object": object_phid, "xact": p, "queued": now})
        with self._wake:
            mono = time.monotonic()
            if self._first is None:
                self._first = mono
            self._last = mono
            self._wake.notify_all()
        log.info("webhook queued: %d new transaction(s)", len(new), extra={**fields, "outcome": "queued"})
        return 202, {"result": "queued", "jobs": list(self.jobs), "transactions": len(new)}

    # -- the batcher ---------------------------------------------------------------------------
    def start(self) -> "DeliveryHandler":
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="webhook-batcher", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        backoff: float | None = None      # after a batch that left work queued
        first = True                      # on start: handle what an earlier process left queued
        while True:
            with self._wake:
                if not first and self._first is None and not self._stopping:
                    # Idle: look at the shared queue now and then (another replica's leftovers).
                    self._wake.wait(backoff or IDLE_CHECK_SECONDS)
                first = False
                # debounce: until deliveries pause for `quiet`, at most `max_delay` after the first
                while self._first is not None and not self._stopping:
                    wait = min(self._last + self.quiet, self._first + self.max_delay) - time.monotonic()
                    if wait <= 0:
                        break
                    self._wake.wait(wait)
                if self._stopping:
                    return
                self._first = None
            try:
                summary = self.flush()
            except Exception:  # the batcher must survive anything; the queue keeps the work
                log.exception("webhook batch failed", extra={"outcome": "error"})
                summary = {"retry": ["?"]}
            if summary.get("standby"):
                backoff = STANDBY_CHECK_SECONDS     # cheap (no request): soon after it leads, it handles the queue
            elif summary["retry"]:
                backoff = min(300.0, backoff * 2) if backoff and backoff >= self.retry_seconds else self.retry_seconds
            else:
                backoff = None

    def flush(self) -> dict[str, Any]:
        """Handle every queued transaction: one lookup per task, the jobs asked to run at most once."""
        with self._flush_lock:
            return self._flush()

    def _flush(self) -> dict[str, Any]:
        summary: dict[str, Any] = {"tasks": 0, "lookups": 0, "triggered": [], "retry": [], "ignored": []}
        try:
            self.ready()
        except NotLeader:
            summary["standby"] = True
            return summary      # the leader's batcher handles the shared queue
        with self._store_lock:
            queued = self.store.items(NS_QUEUE)
        if not queued:
            return summary
        by_object: dict[str, dict[str, str]] = {}
        for key, item in queued.items():
            by_object.setdefault(item["object"], {})[item["xact"]] = key
        summary["tasks"] = len(by_object)
        done: list[str] = []              # objects handled (their queue keys go, their PHIDs are seen)
        kinds: list[str] = []
        try:
            bot = self.bot_phid()
        except (TransientError, PartialData, ServerError) as exc:
            log.warning("webhook: cannot ask Conduit who the bot is: %s", exc, extra={"outcome": "retry-later"})
            summary["retry"] = sorted(by_object)
            return summary
        for obj, xacts in sorted(by_object.items()):
            fields = {"task": obj}
            try:
                self.lookups += 1
                summary["lookups"] += 1
                rows = self.phab.transactions(obj, phids=sorted(xacts))
            except ServerError as exc:
                # Conduit answers "No object ... exists" for an unknown or invisible object. A task
                # the bot has just lost sight of (made private, moved to a restricted Space) must
                # leave the wiki tables now, so the jobs run all the same.
                log.info("webhook for an object Conduit does not show (it may have just become private): %s", exc,
                         extra={**fields, "outcome": "scheduled"})
                summary.setdefault("out_of_sight", []).append(obj)
                kinds.append("out-of-sight")
                done.append(obj)
                continue
            except (TransientError, PartialData) as exc:
                log.warning("webhook: cannot look the transactions up (queued, tried again later): %s", exc,
                            extra={**fields, "outcome": "retry-later"})
                summary["retry"].append(obj)
                continue
            by_others = [r for r in rows if r.get("authorPHID") != bot]
            if by_others:
                kinds.extend(str(r.get("type")) for r in by_others)
            else:
                log.info("webhook: %s", "own transactions" if rows else "no such transactions",
                         extra={**fields, "outcome": "ignored"})
                summary["ignored"].append(obj)
            done.append(obj)
        if kinds:
            try:
                started = self.trigger(list(self.jobs))
            except NotLeader:
                log.info("webhook batch: this replica lost the lease; the queue stays for the leader",
                         extra={"outcome": "retry-later"})
                summary["retry"] = sorted(by_object)
                return summary
            self.triggers += 1
            summary["triggered"] = started
            summary["transactions"] = sorted(kinds)
            log.info("webhook batch: %d task(s), %s", len(by_object), ", ".join(started) or "no job scheduled",
                     extra={"outcome": "scheduled"})
        now = self.clock()
        with self._store_lock:
            for obj in done:
                for xact, key in by_object[obj].items():
                    self.store.put(NS_SEEN, xact, now)
                    self.store.delete(NS_QUEUE, key)
        self._batches += 1
        if self._batches % PRUNE_EVERY == 0:
            self._prune(now)
        return summary

    def _prune(self, now: float) -> None:
        with self._store_lock:
            for phid, when in self.store.items(NS_SEEN).items():
                if now - float(when) > SEEN_KEEP_SECONDS:
                    self.store.delete(NS_SEEN, phid)


class _DeadlineReader(io.RawIOBase):
    """A socket's reading side that gives up at a deadline for the whole request, not per read."""

    def __init__(self, sock: socket.socket, deadline: float, per_read: float):
        super().__init__()
        self._sock = sock
        self._deadline = deadline
        self._per_read = per_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request did not arrive within its deadline")
        self._sock.settimeout(min(remaining, self._per_read))
        return self._sock.recv_into(buffer)


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with a cap on the connections served at once and errors in the log."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address, handler, max_connections: int):
        self.max_connections = max_connections
        self._slots = threading.BoundedSemaphore(max_connections)
        self.refused = 0
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            self.refused += 1
            self._refuse(request, client_address)
            return
        try:
            super().process_request(request, client_address)   # starts the thread
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _refuse(self, request, client_address) -> None:
        # On the accepting thread: never wait for the client.
        if self.refused == 1 or self.refused % 100 == 0:
            log.warning("webhook http: %d connections open, refusing more (%d refused so far)",
                        self.max_connections, self.refused, extra={"outcome": "refused"})
        body = b'{"error": "busy"}'
        try:
            request.setblocking(False)
            request.send(b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                         b"Retry-After: 5\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        except OSError:
            pass
        self.shutdown_request(request)

    def handle_error(self, request, client_address):
        import sys
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            log.info("webhook http: connection from %s ended: %s", client_address[0], type(exc).__name__,
                     extra={"outcome": "error"})
        else:
            log.error("webhook http: request from %s failed", client_address[0], exc_info=True,
                      extra={"outcome": "error"})


class WebhookServer:
    """A small threaded HTTP server: POST <path> for deliveries, GET /healthz for the platform."""

    def __init__(self, settings, key: bytes, delivery: DeliveryHandler, health: Callable[[], tuple[bool, dict]], *,
                 max_connections: int = MAX_CONNECTIONS, request_seconds: float = REQUEST_SECONDS,
                 read_seconds: float = READ_SECONDS, health_token: str | None = None):
        self.settings = settings
        self.key = key
        self.delivery = delivery
        self.health = health
        self.max_connections = max_connections
        self.request_seconds = request_seconds
        self.read_seconds = read_seconds
        if health_token is None:
            import os
            name = getattr(settings, "health_token_env", None)
            health_token = os.environ.get(name, "").strip() if name else ""
            if name and not health_token:
                log.warning("webhook.health_token_env names %s, which is empty: /healthz shows no details", name)
        self.health_token = health_token or None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else self.settings.port

    def start(self) -> "WebhookServer":
        handler = type("_BoundHandler", (_Handler,), {"owner": self, "timeout": self.read_seconds})
        self._server = _Server((self.settings.host, self.settings.port), handler, self.max_connections)
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook", daemon=True)
        self._thread.start()
        if hasattr(self.delivery, "start"):
            self.delivery.start()
        log.info("webhook endpoint listening on http://%s:%d%s (and /healthz)", self.settings.host, self.port,
                 self.settings.path)
        return self

    def stop(self) -> None:
        if hasattr(self.delivery, "stop"):
            self.delivery.stop()
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
        if len(body) < int(length):
            return 400, {"error": "body shorter than its Content-Length"}
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

    def get(self, path: str, headers=None) -> tuple[int, dict]:
        if path != "/healthz":
            return 404, {"error": "not found"}
        ok, details = self.health()
        status = 200 if ok else 503
        if self._may_see_details(headers):
            return status, details
        return status, {"ok": bool(ok)}

    def _may_see_details(self, headers) -> bool:
        if not self.health_token or headers is None:
            return False
        given = (headers.get("Authorization") or "").strip()
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer":
            return False
        try:
            return hmac.compare_digest(token.strip().encode("ascii"), self.health_token.encode("ascii"))
        except UnicodeEncodeError:
            return False


class _Handler(BaseHTTPRequestHandler):
    owner: WebhookServer
    timeout = READ_SECONDS           # each read; the whole request has `owner.request_seconds`
    server_version = "ambassador-bot"
    sys_version = ""

    def setup(self):
        super().setup()
        deadline = time.monotonic() + self.owner.request_seconds
        plain, self.rfile = self.rfile, io.BufferedReader(_DeadlineReader(self.connection, deadline, self.timeout),
                                                          io.DEFAULT_BUFFER_SIZE)
        plain.close()

    def do_POST(self):
        try:
            status, answer = self.owner.post(self.path.split("?", 1)[0], self.headers, self.rfile.read)
        except TimeoutError:
            log.info("webhook http: body from %s did not arrive in time", self.client_address[0],
                     extra={"outcome": "refused"})
            self.close_connection = True
            return
        self._answer(status, answer)

    def do_GET(self):
        status, answer = self.owner.get(self.path.split("?", 1)[0], self.headers)
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
