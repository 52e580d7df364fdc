"""One run of a scheduled entry: marked started/finished, coalesced follow-ups, logged, reported."""
from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

from bot.domain.problems import EMERGENCY_STOP
from bot.errors import BotError
from bot.jobs.writer import run_guarded
from bot.jobs import status_report
from bot.jobs.status_report import RunOutcome
from bot.scheduler.guard import Stopping
from bot.settings.schedule import ScheduledJob

# The service's one logger, as before it was split into modules (the log lines name it).
log = logging.getLogger("bot.scheduler")

NS_RUNS = "scheduler-run"        # entry id -> {"started", "finished", "result"}


class _Runs:
    """The `Service`'s runs (a part of it: the state is the service's, set in `Service.__init__`)."""

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
        return dataclasses.replace(ctx, settings=settings, wikis={c: ctx.wikis[c] for c in codes},
                                   may_write=self._check_write)

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


def _iso(ts) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(float(ts)).astimezone().isoformat(timespec="seconds")
