"""A verified delivery queued durably in the state store, then handled in batches: one lookup per task."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from bot.errors import BotError, PartialData, ServerError, TransientError

# The receiver's log lines kept the name they had when it was one module.
log = logging.getLogger("bot.webhook")

NS_SEEN = "webhook-seen"            # transaction PHID -> time first seen
NS_QUEUE = "webhook-queue"          # "<object PHID> <transaction PHID>" -> {"object", "xact", "queued"}
SEEN_KEEP_SECONDS = 7 * 86400
PRUNE_EVERY = 200                   # batches between prunes of the seen list
IDLE_CHECK_SECONDS = 60.0           # the batcher looks at the queue this often when nothing arrives
STANDBY_CHECK_SECONDS = 5.0         # and this often while this replica is not the leader


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
            self._bot_phid = self.phab.whoami().phid
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
        by_object = self._queued_by_task()
        if not by_object:
            return summary
        summary["tasks"] = len(by_object)
        try:
            bot = self.bot_phid()
        except (TransientError, PartialData, ServerError) as exc:
            log.warning("webhook: cannot ask Conduit who the bot is: %s", exc, extra={"outcome": "retry-later"})
            summary["retry"] = sorted(by_object)
            return summary
        done: list[str] = []              # objects handled (their queue keys go, their PHIDs are seen)
        kinds: list[str] = []
        for obj, xacts in sorted(by_object.items()):
            changes = self._changes_by_others(obj, xacts, bot, summary)
            if changes is not None:
                kinds.extend(changes)
                done.append(obj)
        if kinds and not self._run_jobs(by_object, kinds, summary):
            return summary
        self._mark_handled(by_object, done)
        return summary

    def _queued_by_task(self) -> dict[str, dict[str, str]]:
        """The queue as object PHID -> {transaction PHID: queue key}."""
        with self._store_lock:
            queued = self.store.items(NS_QUEUE)
        by_object: dict[str, dict[str, str]] = {}
        for key, item in queued.items():
            by_object.setdefault(item["object"], {})[item["xact"]] = key
        return by_object

    def _changes_by_others(self, obj: str, xacts: dict[str, str], bot: str,
                           summary: dict[str, Any]) -> list[str] | None:
        """One lookup: the kinds of the task's queued transactions not made by the bot, or None to try again later."""
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
            return ["out-of-sight"]
        except (TransientError, PartialData) as exc:
            log.warning("webhook: cannot look the transactions up (queued, tried again later): %s", exc,
                        extra={**fields, "outcome": "retry-later"})
            summary["retry"].append(obj)
            return None
        by_others = [r for r in rows if r.author_phid != bot]
        if not by_others:
            log.info("webhook: %s", "own transactions" if rows else "no such transactions",
                     extra={**fields, "outcome": "ignored"})
            summary["ignored"].append(obj)
        return [str(r.type) for r in by_others]

    def _run_jobs(self, by_object: dict[str, dict[str, str]], kinds: list[str], summary: dict[str, Any]) -> bool:
        """Ask the scheduler to run the jobs once for the batch; False when this replica lost the lease."""
        try:
            started = self.trigger(list(self.jobs))
        except NotLeader:
            log.info("webhook batch: this replica lost the lease; the queue stays for the leader",
                     extra={"outcome": "retry-later"})
            summary["retry"] = sorted(by_object)
            return False
        self.triggers += 1
        summary["triggered"] = started
        summary["transactions"] = sorted(kinds)
        log.info("webhook batch: %d task(s), %s", len(by_object), ", ".join(started) or "no job scheduled",
                 extra={"outcome": "scheduled"})
        return True

    def _mark_handled(self, by_object: dict[str, dict[str, str]], done: list[str]) -> None:
        """Handled tasks leave the queue and their transactions are seen (a replay is then ignored)."""
        now = self.clock()
        with self._store_lock:
            for obj in done:
                for xact, key in by_object[obj].items():
                    self.store.put(NS_SEEN, xact, now)
                    self.store.delete(NS_QUEUE, key)
        self._batches += 1
        if self._batches % PRUNE_EVERY == 0:
            self._prune(now)

    def _prune(self, now: float) -> None:
        with self._store_lock:
            for phid, when in self.store.items(NS_SEEN).items():
                if now - float(when) > SEEN_KEEP_SECONDS:
                    self.store.delete(NS_SEEN, phid)
