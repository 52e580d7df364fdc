"""The `Service`: the loop that holds (or waits for) the lease, the webhook, triggering, health, signals."""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.scheduler.runs import _iso, _Runs
from bot.scheduler.wiring import _Wiring
from bot.settings import Settings
from bot.settings.schedule import Schedule, default_schedule
from bot.store.lease import open_lease
from bot.webhook import NotLeader

# The service's one logger, as before it was split into modules (the log lines name it).
log = logging.getLogger("bot.scheduler")


class Service(_Wiring, _Runs):
    """The scheduler, the lease and the webhook server of one process."""

    def __init__(self, settings: Settings, *, dry_run: bool = False, ctx=None, lease=None, clock=time.time):
        from bot.jobs.registry import build_context

        self.settings = settings
        self.schedule: Schedule = settings.schedule or default_schedule("status-sync")
        self.entries = {e.id: e for e in self.schedule.entries}
        self.tz = ZoneInfo(self.schedule.timezone)
        self.ctx = ctx or build_context(settings, dry_run=dry_run)
        self.lease = lease or open_lease(settings.state_url, seconds=self.schedule.lease_seconds)
        self.clock = clock
        self.stop_event = threading.Event()
        self.scheduler = None
        self.webhook = None
        self.last: dict[str, dict] = {}
        self.runs = 0
        self._cond = threading.Condition()
        self._running: set[str] = set()
        self._pending: set[str] = set()
        self._heartbeat = time.monotonic()
        webhook = settings.webhook
        if webhook is not None:
            self._make_webhook(webhook)

    # -- webhook -----------------------------------------------------------------------
    def _make_webhook(self, config) -> None:
        from bot.adapters.phab import ConduitClient
        from bot.webhook import DeliveryHandler, WebhookServer

        key = config.hmac_key()  # a missing key is a config error before anything starts
        p = self.settings.phabricator
        # Its own client: deliveries arrive on other threads while a job uses ctx.phab.
        phab = ConduitClient(p.url, p.token(), self.settings.user_agent, timeout=p.timeout, page_size=p.page_size)
        delivery = DeliveryHandler(phab, self.ctx.store, self.trigger, config.jobs, clock=self.clock,
                                   ready=self.ensure_leader)
        self.webhook = WebhookServer(config, key, delivery, self.health)

    # -- life ----------------------------------------------------------------------------
    def serve(self) -> bool:
        """Run until `request_stop()`; True when every job stopped within the bound."""
        if self.webhook is not None:
            self.webhook.start()
        try:
            while not self.stop_event.is_set():
                self._heartbeat = time.monotonic()
                if self.lease.acquire():
                    if self.scheduler is None:
                        self._lead()
                elif self.scheduler is not None:
                    log.error("lost the lease to %s: stopping the scheduler", self._holder(),
                              extra={"outcome": "standby"})
                    self._step_down()
                self.stop_event.wait(self.lease.renew_interval)
        finally:
            clean = self._shutdown()
        return clean

    def request_stop(self, why: str = "stop requested") -> None:
        if not self.stop_event.is_set():
            log.info("%s: no new runs; finishing the write in flight", why, extra={"outcome": "stopping"})
        self.stop_event.set()

    def _shutdown(self) -> bool:
        deadline = time.monotonic() + self.schedule.stop_timeout_seconds
        self._step_down()
        with self._cond:
            while self._running and time.monotonic() < deadline:
                self._cond.wait(max(0.0, deadline - time.monotonic()))
            clean = not self._running
        if self.webhook is not None:
            self.webhook.stop()
        if clean:
            self.lease.release()
            log.info("stopped cleanly", extra={"outcome": "stopped"})
        else:
            # The lease is kept until it runs out: the job may still be writing.
            log.error("still running after %gs: %s", self.schedule.stop_timeout_seconds,
                      ", ".join(sorted(self._running)), extra={"outcome": "stop-timeout"})
        return clean

    # -- triggering ----------------------------------------------------------------------
    def ensure_leader(self) -> None:
        """Raises NotLeader unless this replica runs the scheduler now (the webhook queues only then)."""
        if self.scheduler is None or not self.lease.held() or self.stop_event.is_set():
            raise NotLeader("this replica does not run the scheduler now")

    def trigger(self, jobs: list[str]) -> list[str]:
        """Run every scheduled entry of these jobs now (for the webhook). Raises NotLeader."""
        self.ensure_leader()
        started = [e.id for e in self.entries.values() if e.job in jobs]
        for entry_id in started:
            self.trigger_entry(entry_id)
        return started

    def trigger_entry(self, entry_id: str) -> None:
        with self._cond:
            if entry_id in self._running:
                self._pending.add(entry_id)
                return
        scheduler = self.scheduler
        if scheduler is not None:
            scheduler.modify_job(entry_id, next_run_time=datetime.now(self.tz))

    def _holder(self) -> str:
        # Losing the lease often means the database is away: naming the holder must not crash the loop.
        try:
            return str(self.lease.current()[0])
        except Exception as exc:  # noqa: BLE001 - any database error
            return f"unknown ({type(exc).__name__})"

    # -- health ------------------------------------------------------------------------------
    def health(self) -> tuple[bool, dict]:
        scheduler = self.scheduler
        loop_alive = time.monotonic() - self._heartbeat < 3 * self.lease.renew_interval + 5
        leading = scheduler is not None
        sched_alive = leading and scheduler.running and bool(getattr(scheduler, "_thread", None)) \
            and scheduler._thread.is_alive()
        jobs = {}
        for entry_id in self.entries:
            info = dict(self.last.get(entry_id, {}))
            if leading:
                try:
                    job = scheduler.get_job(entry_id)
                    info["next_run"] = job.next_run_time.isoformat() if job and job.next_run_time else None
                except Exception as exc:  # the job store's database is away: say so, stay up
                    info["next_run_error"] = type(exc).__name__
            for key in ("last_run", "last_success"):
                if info.get(key):
                    info[key] = _iso(info[key])
            jobs[entry_id] = info
        ok = loop_alive and (sched_alive if leading else True) and not self.stop_event.is_set()
        return ok, {"ok": ok, "role": "leader" if leading else "standby", "scheduler_alive": bool(sched_alive),
                    "holder": self.lease.holder, "jobs": jobs, "runs": self.runs}


def run_forever(settings: Settings, dry_run: bool = False) -> int:
    """The Procfile worker: serve until SIGTERM/SIGINT; 0 on a clean stop."""
    from bot import logs

    logs.install(settings)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    service = Service(settings, dry_run=dry_run)

    def on_signal(signum, frame):
        service.request_stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if service.entries:
        log.info("jobs: %s%s", ", ".join(f"{e.id} ({e.timing})" for e in service.entries.values()),
                 " (dry run)" if dry_run else "")
    else:
        log.warning("no job is enabled in the schedule")
    clean = service.serve()
    service.ctx.store.close()
    if not clean:
        # A job thread is stuck past the bound; the platform wants us gone now.
        logging.shutdown()
        os._exit(1)
    return 0
