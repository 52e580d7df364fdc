"""APScheduler: the job store, the triggers, and making the stored jobs match the config."""
from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.scheduler.runs import NS_RUNS, _iso
from bot.settings.schedule import ScheduledJob

# The service's one logger, as before it was split into modules (the log lines name it).
log = logging.getLogger("bot.scheduler")

JOBSTORE_TABLE = "ambassador_scheduler_jobs"
# What the job store keeps: `bot.scheduler` re-exports `run_entry`, so stored jobs keep resolving.
RUN_ENTRY = "bot.scheduler:run_entry"


# APScheduler's persistent job store pickles a reference to a module-level function
# and its arguments; the live objects it needs (adapters, store) cannot be pickled,
# so the function finds them on the service that leads in this process.
_ACTIVE = None   # the leading Service, or None


def run_entry(entry_id: str) -> None:
    service = _ACTIVE
    if service is None:
        log.warning("scheduled run of %s with no service running in this process", entry_id)
        return
    service.run_entry(entry_id)


def make_trigger(entry: ScheduledJob, tz: str):
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if entry.cron:
        return CronTrigger.from_crontab(entry.cron, timezone=ZoneInfo(tz))
    return IntervalTrigger(seconds=entry.every_seconds, timezone=ZoneInfo(tz))


def _trigger_key(trigger) -> str:
    return f"{trigger} {getattr(trigger, 'timezone', '')}"


class _Wiring:
    """The `Service`'s scheduler while it leads (a part of it: the state is the service's)."""

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

    def _on_event(self, event) -> None:
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES

        if event.code == EVENT_JOB_MAX_INSTANCES:
            # Asked to run while running (a webhook during a cycle): run once more after it.
            with self._cond:
                self._pending.add(event.job_id)
        else:
            log.warning("missed the run due %s (more than its misfire grace late)",
                        _iso(event.scheduled_run_time.timestamp()), extra=self._fields(event.job_id, "missed"))
