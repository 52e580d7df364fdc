"""A fault-injecting HTTP proxy between the bot and a local server (MediaWiki or Conduit).

It forwards every request to the target and, by rules or by a seeded random
draw, answers instead with what real servers and networks do to bots: a
MediaWiki `maxlag` or `ratelimited` error, an HTTP 500/502/503, a dropped
connection, an answer delayed past the client's timeout (after the request
was forwarded, so the write happened: the client must find out), or a Conduit
error answer (HTTP 200 with `error_code`, nothing done).
"""
from __future__ import annotations

import json
import random
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

FAULTS = ("maxlag", "ratelimited", "http500", "http502", "http503", "drop", "slow")
CONDUIT_FAULTS = ("http500", "http502", "http503", "drop", "slow", "conduit_error")


class FaultProxy:
    def __init__(self, target: str, *, seed: int = 0, rate: float = 0.0, faults=FAULTS, slow_seconds: float = 3.0,
                 only_actions: tuple[str, ...] | None = None,
                 action_faults: dict[str, tuple[str, ...]] | None = None):
        self.target = target.rstrip("/")
        self.rng = random.Random(seed)
        self.rate = rate
        self.faults = tuple(faults)
        self.slow_seconds = slow_seconds
        self.only_actions = only_actions
        # Per action (MediaWiki `action=`, or the Conduit method), the faults to draw from instead of
        # `faults`; repeat a name to weight it (e.g. more read timeouts on writes).
        self.action_faults = dict(action_faults or {})
        # Called with the action after the upstream answered and before the client gets the answer:
        # the moment to SIGKILL a client whose write is done but not yet known to it.
        self.after_forward = None
        self.queue: list[str] = []          # faults to apply to the next matching requests, in order
        self.injected: list[tuple[str, str]] = []   # (fault, action)
        self.forwarded = 0
        self.user_agents: set[str] = set()
        self._lock = threading.Lock()
        self._session = requests.Session()
        self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                proxy._handle(self, None)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                proxy._handle(self, self.rfile.read(length))

            def log_message(self, *args):
                pass
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def _choose(self, action: str) -> str | None:
        with self._lock:
            if self.only_actions is not None and action not in self.only_actions:
                return None
            if self.queue:
                return self.queue.pop(0)
            if self.rate and self.rng.random() < self.rate:
                return self.rng.choice(self.action_faults.get(action, self.faults))
            return None

    def _handle(self, handler, body):
        query = urllib.parse.urlsplit(handler.path).query
        params = dict(urllib.parse.parse_qsl(query))
        if body and "x-www-form-urlencoded" in (handler.headers.get("Content-Type") or ""):
            params.update(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
        with self._lock:
            self.user_agents.add(handler.headers.get("User-Agent", ""))
        action = params.get("action") or urllib.parse.urlsplit(handler.path).path.rsplit("/", 1)[-1]
        fault = self._choose(action)
        if fault:
            with self._lock:
                self.injected.append((fault, action))
        if fault == "drop":
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        if fault in ("maxlag", "ratelimited"):
            code, info = ((("maxlag", "Waiting for 127.0.0.1: 1 seconds lagged"))
                          if fault == "maxlag" else ("ratelimited", "You've exceeded your rate limit."))
            payload = {"error": {"code": code, "info": info, "host": "127.0.0.1", "lag": 1}}
            headers = {"Retry-After": "1", "X-Database-Lag": "1"} if fault == "maxlag" else {}
            return self._reply(handler, 200, json.dumps(payload).encode(), "application/json", headers)
        if fault == "conduit_error":
            payload = {"result": None, "error_code": "ERR-CONDUIT-CORE",
                       "error_info": "Injected failure: the request was not executed."}
            return self._reply(handler, 200, json.dumps(payload).encode(), "application/json", {})
        if fault in ("http500", "http502", "http503"):
            return self._reply(handler, int(fault[4:]), b"<html>Server error</html>", "text/html", {"Retry-After": "1"})
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("host", "content-length", "connection")}
        try:
            upstream = self._session.request(handler.command, self.target + handler.path, data=body, headers=headers,
                                             timeout=60, allow_redirects=False)
        except requests.RequestException:
            return self._reply(handler, 502, b"bad gateway", "text/plain", {})
        with self._lock:
            self.forwarded += 1
        if self.after_forward is not None:
            self.after_forward(action)
        if fault == "slow":
            time.sleep(self.slow_seconds)   # the write happened upstream; the client times out first
        extra = {}
        for name in ("Set-Cookie",):
            for value in upstream.raw.headers.get_all(name) or []:
                extra.setdefault(name, []).append(value)
        self._reply(handler, upstream.status_code, upstream.content, upstream.headers.get("Content-Type", ""), extra)

    @staticmethod
    def _reply(handler, status, body, ctype, headers):
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", ctype)
            handler.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                for item in (v if isinstance(v, list) else [v]):
                    handler.send_header(k, item)
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
