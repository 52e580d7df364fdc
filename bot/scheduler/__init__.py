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
* **Every write is guarded.** Each run's context carries the stop/lease check
  (`JobContext.may_write`), which the job's writer asks before every write it sends; the
  adapters refuse a write the writer did not issue (bot/adapters/writes.py).
* **Run report.** After each run, `bot.jobs.status_report` keeps the per-wiki page.
* **Problems are typed** (`bot.domain.problems.Problem`: wiki, target, kind, text): the
  log fields and the run report read the attributes, never the text.

The service in pieces: `service` (the loop, the lease, the webhook, health, signals), `wiring`
(APScheduler), `runs` (one run, its follow-ups and its report, the stop/lease check), `guard` (`Stopping`).
"""
from __future__ import annotations

from bot.scheduler.guard import Stopping
from bot.scheduler.runs import NS_RUNS
from bot.scheduler.service import Service, run_forever
from bot.scheduler.wiring import JOBSTORE_TABLE, RUN_ENTRY, make_trigger, run_entry

__all__ = ["JOBSTORE_TABLE", "NS_RUNS", "RUN_ENTRY", "Service", "Stopping", "make_trigger",
           "run_entry", "run_forever"]
