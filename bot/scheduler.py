"""The long-running worker: every enabled job on its schedule (APScheduler 3.x)."""
from __future__ import annotations

import logging
import signal

from bot.errors import BotError
from bot.settings import Settings

log = logging.getLogger(__name__)


def run_forever(settings: Settings, *, dry_run: bool = False, interval_minutes: float = 10.0) -> int:
    from apscheduler.schedulers.blocking import BlockingScheduler

    from bot.jobs.registry import build_context, run_job

    ctx = build_context(settings, dry_run=dry_run)
    scheduler = BlockingScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                                "misfire_grace_time": 300})

    def status_sync():
        try:
            report = run_job("status-sync", ctx)
            log.info("%s", report.summary())
        except BotError as exc:
            log.error("status-sync failed: %s", exc)

    scheduler.add_job(status_sync, "interval", minutes=interval_minutes, id="status-sync", replace_existing=True,
                      next_run_time=__import__("datetime").datetime.now(__import__("datetime").timezone.utc))

    def stop(signum, frame):
        log.info("signal %s: stopping after the current job", signum)
        scheduler.shutdown(wait=True)
    signal.signal(signal.SIGTERM, stop)
    scheduler.start()
    return 0
