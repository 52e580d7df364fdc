"""The long-running service: every enabled job on its schedule, webhooks, one leader.

`ambassador run` (the Procfile worker) calls `run_forever`. What it guarantees:

* **Schedule.** APScheduler 3.x with its job store in the state database
  (`SQLAlchemyJobStore`; a MemoryJobStore for `memory://`), so a restart neither
  forgets when a job is next due nor runs it twice: a run missed while the process
  was down runs once on start (coalesce) if it is less than `misfire_grace_seconds`
  late. Every job has an id (`status-sync`, or `feedback@cs` for a per-wiki entry),
  `replace_existing=True`, `max_instances=1`, and the time zone is explicit.
* **One job at a time.** The executor has one worker: jobs share one HTTP session per
  server and one store connection pool, and a bot edits politely one page at a time.
  A job that raises is logged with its cause and runs again at its next time; the
  others go on. A job whose module fails to import is logged and skipped.
* **Nothing lost.** Each run is marked started/finished in the state store; a run a
  crash (or a stop) interrupted is run again as soon as the next process leads.
* **SIGTERM.** No new run starts, the write in flight finishes, the next write of the
  running job raises `Stopping` (a TransientError, which jobs already treat as "try
  next cycle"), and the process exits within `stop_timeout_seconds`.
* **Replicas.** Only the holder of the lease (bot/store/lease.py) runs the scheduler;
  the others poll the lease. A holder that loses its lease stops its scheduler, and its
  running job's next write raises `Stopping`.
* **Instant sync.** With a `webhook` section, the same process serves Phabricator's
  webhooks and `/healthz` (bot/webhook/); a task change runs status-sync at once.
  A run asked for while that entry runs (a webhook burst) is folded into one follow-up
  run after it, in a loop in the same thread (never a recursive call).
* **Every write is guarded.** The stop/lease check wraps every adapter method marked
  `@write_method` (bot/adapters/writes.py), not a list of names kept here.
* **Run report.** After each run, `bot.jobs.status_report` keeps the per-wiki page.
* **Problems are typed** (`bot.domain.problems.Problem`: wiki, target, kind, text): the
  log fields and the run report read the attributes, never the text.
"""
from __future__ import annotations

import dataclasses
import inspect
import logging
import os
import signal
import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.problems import EMERGENCY_STOP
from bot.errors import BotError, TransientError
from bot.jobs.blocks import run_guarded
from bot.jobs import status_report
from bot.jobs.status_report import RunOutcome
from bot.settings import Settings
from bot.settings.schedule import Schedule, ScheduledJob, default_schedule
from bot.store.lease import open_lease
from bot.webhook import NotLeader

log = logging.getLogger(__name__)

JOBSTORE_TABLE = "ambassador_scheduler_jobs"
NS_RUNS = "scheduler-run"        # entry id -> {"started", "finished", "result"}
RUN_ENTRY = "bot.scheduler:run_entry"

# APScheduler's persistent job store pickles a reference to a module-level function
# and its arguments; the live objects it needs (adapters, store) cannot be pickled,
# so the function finds them on the service that leads in this process.
_ACTIVE: "Service | None" = None


class Stopping(TransientError):
    """The service is stopping (SIGTERM) or lost its lease: no new write may start."""


def run_entry(entry_id: str) -> None:
    service = _ACTIVE
    if service is None:
        log.warning("scheduled run of %s with no service running in this process", entry_id)
        return
    service.run_entry(entry_id)


def _adapter_writes() -> dict[str, str]:
    """Every write method the real adapters mark (bot/adapters/writes.py): name -> kind."""
    from bot.adapters.phab import ConduitClient
    from bot.adapters.wiki import WikiClient
    from bot.adapters.writes import write_methods

    return {**write_methods(WikiClient), **write_methods(ConduitClient)}


class _WriteGuard:
    """Passes everything through to an adapter, but asks `check()` before each write.

    Which methods write is not a list kept here: it is every method the adapters mark
    with `@write_method` (bot/adapters/writes.py), on the adapter's own class and, for
    doubles in tests, on the real adapter classes by name. A method marked
    `when="write"` is checked when that argument is true, by keyword or by position.

    The write in flight when a stop is requested finishes (it is already inside the
    adapter); the next one raises `Stopping`.
    """

    _WRITES: dict[str, str] | None = None

    def __init__(self, target, check):
        self._target = target
        self._check = check

    @classmethod
    def writes(cls) -> dict[str, str]:
        if cls._WRITES is None:
            cls._WRITES = _adapter_writes()
        return cls._WRITES

    def __getattr__(self, name):
        from bot.adapters.writes import ALWAYS, write_kind

        value = getattr(self._target, name)
        kind = write_kind(self._target, name) or self.writes().get(name)
        if kind is None or not callable(value):
            return value
        if kind == ALWAYS:
            def guarded(*args, **kwargs):
                self._check()
                return value(*args, **kwargs)
            return guarded
        try:
            signature = inspect.signature(value)
        except (TypeError, ValueError):
            signature = None

        def maybe_guarded(*args, **kwargs):
            if kwargs.get(kind) or (args and signature is not None and _bound(signature, args, kwargs).get(kind)):
                self._check()
            return value(*args, **kwargs)
        return maybe_guarded

    def __setattr__(self, name, value):
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:  # state such as `blocked` belongs to the adapter, shared by every run
            setattr(self._target, name, value)


def _bound(signature, args, kwargs) -> dict:
    try:
        return signature.bind_partial(*args, **kwargs).arguments
    except TypeError:
        return {}


def make_trigger(entry: ScheduledJob, tz: str):
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if entry.cron:
        return CronTrigger.from_crontab(entry.cron, timezone=ZoneInfo(tz))
    return IntervalTrigger(seconds=entry.every_seconds, timezone=ZoneInfo(tz))


def _trigger_key(trigger) -> str:
    return f"{trigger} {getattr(trigger, 'timezone', '')}"


class Service:
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

    def _jobstore(self):
        if self.settings.state_url.startswith("memory://"):
            from apscheduler.jobstores.memory import MemoryJobStore
            return MemoryJobStore()
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        return SQLAlchemyJobStore(url=self.settings.state_url, tablename=JOBSTORE_TABLE)

    def _lead(self) -> None:
        global _ACTIVE
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        log.info("holding the lease as %s: starting the scheduler", self.lease.holder, extra={"outcome": "leader"})
        scheduler = BackgroundScheduler(
            jobstores={"default": self._jobstore()},
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": self.schedule.misfire_grace_seconds},
            timezone=self.tz)
        scheduler.add_listener(self._on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        scheduler.start(paused=True)
        interrupted = set()
        for entry_id, mark in self.ctx.store.items(NS_RUNS).items():
            if entry_id in self.entries and mark.get("finished") is None:
                log.warning("the last run was interrupted (started %s): running it again now",
                            _iso(mark.get("started")), extra=self._fields(entry_id, "resume"))
                interrupted.add(entry_id)
        # Decided while paused, so a job that is due anyway and was interrupted runs once, not twice.
        self._reconcile(scheduler, run_now=interrupted)
        self.scheduler = scheduler
        _ACTIVE = self
        scheduler.resume()

    def _reconcile(self, scheduler, run_now: set[str] = frozenset()) -> None:
        """Make the stored jobs match the config, keeping the due time of unchanged ones."""
        now = datetime.now(self.tz)
        stored = {job.id: job for job in scheduler.get_jobs()}
        for job_id in stored.keys() - self.entries.keys():
            scheduler.remove_job(job_id)
            log.info("removed from the schedule (no longer enabled in the config)", extra=self._fields(job_id))
        for entry in self.entries.values():
            trigger = make_trigger(entry, self.schedule.timezone)
            old = stored.get(entry.id)
            if entry.id in run_now:
                next_run = now
            elif old is not None and old.next_run_time is not None and _trigger_key(old.trigger) == _trigger_key(trigger):
                next_run = old.next_run_time
            elif entry.cron:
                next_run = trigger.get_next_fire_time(None, now)
            else:
                next_run = now  # a sync job new to the schedule runs at once
            scheduler.add_job(RUN_ENTRY, trigger, args=[entry.id], id=entry.id, name=entry.id,
                              replace_existing=True, misfire_grace_time=entry.misfire_grace_seconds,
                              coalesce=True, max_instances=1, next_run_time=next_run)
            log.info("scheduled %s, next run %s", entry.timing, next_run.isoformat(),
                     extra=self._fields(entry.id, "scheduled"))

    def _step_down(self) -> None:
        global _ACTIVE
        if _ACTIVE is self:
            _ACTIVE = None
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None:
            # APScheduler 3 makes one more pass over the due jobs after shutdown() and
            # would advance their next run time although it can no longer run them: a
            # run due at that moment would be lost. Detach the store first.
            scheduler.pause()
            scheduler.remove_jobstore("default")
            scheduler.shutdown(wait=False)

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

    def _on_event(self, event) -> None:
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES

        if event.code == EVENT_JOB_MAX_INSTANCES:
            # Asked to run while running (a webhook during a cycle): run once more after it.
            with self._cond:
                self._pending.add(event.job_id)
        else:
            log.warning("missed the run due %s (more than its misfire grace late)",
                        _iso(event.scheduled_run_time.timestamp()), extra=self._fields(event.job_id, "missed"))

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

    # -- one run ---------------------------------------------------------------------------
    def _fields(self, entry_id: str, outcome: str | None = None) -> dict:
        entry = self.entries.get(entry_id)
        fields = {"job": entry.job if entry else entry_id, "wiki": entry.wiki if entry else None}
        if outcome:
            fields["outcome"] = outcome
        return fields

    def _check_write(self) -> None:
        if self.stop_event.is_set():
            raise Stopping("the bot is stopping: no new writes; the next run does the rest")
        if not self.lease.held():
            raise Stopping("this replica no longer holds the lease: no new writes")

    def context_for(self, entry: ScheduledJob | None):
        """The job context for one entry: its wikis only, every write behind the stop check."""
        ctx = self.ctx
        codes = [entry.wiki] if entry is not None and entry.wiki else list(ctx.wikis)
        settings = self.settings
        if entry is not None and entry.wiki:
            settings = dataclasses.replace(settings, wikis={entry.wiki: settings.wikis[entry.wiki]})
        return dataclasses.replace(ctx, settings=settings,
                                   wikis={c: _WriteGuard(ctx.wikis[c], self._check_write) for c in codes},
                                   phab=_WriteGuard(ctx.phab, self._check_write))

    def _holder(self) -> str:
        # Losing the lease often means the database is away: naming the holder must not crash the loop.
        try:
            return str(self.lease.current()[0])
        except Exception as exc:  # noqa: BLE001 - any database error
            return f"unknown ({type(exc).__name__})"

    def run_entry(self, entry_id: str) -> RunOutcome | None:
        """Run one entry; while runs were asked for during it, run it once more (a loop).

        Any number of requests during one run (a webhook burst) make one follow-up run,
        not one each; a run asked for during the follow-up makes one more, and so on,
        all in this thread and at the same stack depth (this was a recursive call, and a
        long burst ended in RecursionError).
        """
        outcome = None
        while True:
            result, again = self._run_once(entry_id)
            outcome = result if result is not None else outcome
            if not again:
                return outcome
            # Run again here, in this thread: asking APScheduler to fire now would race with
            # this very run's instance (max_instances=1) and could be skipped.

    def _run_once(self, entry_id: str) -> tuple[RunOutcome | None, bool]:
        from bot.jobs.registry import job_function

        entry = self.entries.get(entry_id)
        if entry is None:
            log.warning("no such entry in the config; skipped", extra=self._fields(entry_id, "skipped"))
            return None, False
        if self.stop_event.is_set() or not self.lease.held():
            log.info("not started: stopping or not the leader", extra=self._fields(entry_id, "skipped"))
            return None, False
        with self._cond:
            if entry_id in self._running:
                # A run of this entry from before a lease lapse may still be going: never two at once.
                self._pending.add(entry_id)
                return None, False
            self._running.add(entry_id)
        started = self.clock()
        outcome = None
        try:
            self.ctx.store.put(NS_RUNS, entry_id, {"started": started, "finished": None})
            log.info("run started", extra=self._fields(entry_id, "started"))
            outcome = self._run(entry, job_function)
        finally:
            finished = self.clock()
            interrupted = self.stop_event.is_set() or not self.lease.held()
            if outcome is None:
                outcome = RunOutcome.failure(entry_id, entry.job, entry.wiki, "the run did not finish", finished)
            try:
                self.ctx.store.put(NS_RUNS, entry_id, {
                    "started": started, "result": outcome.result,
                    # An interrupted run stays unfinished, so the next leader runs it again.
                    "finished": None if interrupted else finished})
            except BotError as exc:
                log.error("cannot record the run: %s", exc, extra=self._fields(entry_id, "error"))
            self._remember(entry_id, outcome, started, finished)
            if not interrupted:
                self._report(entry, outcome)
            with self._cond:
                self._running.discard(entry_id)
                again = entry_id in self._pending and not self.stop_event.is_set()
                self._pending.discard(entry_id)
                self._cond.notify_all()
            self.runs += 1
        return outcome, again

    def _run(self, entry: ScheduledJob, job_function) -> RunOutcome:
        fields = self._fields(entry.id)
        try:
            func = job_function(entry.job)
        except Exception as exc:  # a job module another helper is still writing, or broken
            message = f"cannot load job {entry.job}: {type(exc).__name__}: {exc}"
            log.error("%s", message, extra={**fields, "outcome": "failed"})
            return RunOutcome.failure(entry.id, entry.job, entry.wiki, message, self.clock())
        try:
            report = run_guarded(func, self.context_for(entry))
        except Stopping as exc:
            log.info("run cut short: %s", exc, extra={**fields, "outcome": "stopped"})
            return RunOutcome.failure(entry.id, entry.job, entry.wiki, str(exc), self.clock())
        except BotError as exc:
            log.error("run failed: %s", exc, extra={**fields, "outcome": "failed"})
            return RunOutcome.failure(entry.id, entry.job, entry.wiki, str(exc), self.clock())
        except Exception as exc:  # a bug: keep the traceback, keep the other jobs going
            log.exception("run failed with an unexpected error", extra={**fields, "outcome": "failed"})
            return RunOutcome.failure(entry.id, entry.job, entry.wiki, f"{type(exc).__name__}: {exc}", self.clock())
        outcome = RunOutcome.from_report(entry.id, entry.job, entry.wiki, report, self.clock(),
                                         settings=self.settings)
        for problem in outcome.problems:   # typed (bot/domain/problems.py): placed once, read by attribute
            log.warning("%s", problem, extra={**fields, **problem.log_fields(),
                                              "outcome": "stopped" if problem.kind == EMERGENCY_STOP else "problem"})
        for line in report.held:
            log.info("%s", line, extra={**fields, "outcome": "held"})
        for code, title, revid in report.saved:
            log.info("saved revision %s", revid, extra={**fields, "wiki": code, "page": title, "outcome": "saved"})
        log.info("run finished: %s", report.summary(), extra={**fields, "outcome": "ok" if report.ok else "problem"})
        return outcome

    def _remember(self, entry_id: str, outcome: RunOutcome, started: float, finished: float) -> None:
        last = self.last.setdefault(entry_id, {"last_success": None})
        last.update(last_run=finished, duration=round(finished - started, 3), result=outcome.result)
        if outcome.result != "failed":
            last["last_success"] = finished

    def _report(self, entry: ScheduledJob, outcome: RunOutcome) -> None:
        try:
            report = status_report.update(self.context_for(entry), outcome)
        except Exception:  # the report must never take the service down
            log.exception("run report not updated", extra=self._fields(entry.id, "error"))
            return
        for problem in report.problems:
            log.warning("%s", problem, extra={"job": status_report.JOB, **problem.log_fields(),
                                              "outcome": "problem"})

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


def _iso(ts) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(float(ts)).astimezone().isoformat(timespec="seconds")


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
