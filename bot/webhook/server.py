"""The bounded HTTP server: deliveries on POST <path>, `/healthz` on GET, nothing a slow client can hold up."""
from __future__ import annotations

import hmac
import io
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from bot.errors import BotError
from bot.webhook.batcher import DeliveryHandler, NotLeader
from bot.webhook.payload import SIGNATURE_HEADER, Refused, parse_delivery, signature_ok

# The receiver's log lines kept the name they had when it was one module.
log = logging.getLogger("bot.webhook")

MAX_CONNECTIONS = 32                # connections (threads) served at once
REQUEST_SECONDS = 15.0              # a whole request (headers and body) must arrive within this
READ_SECONDS = 15.0                 # and each read within this


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
