"""Delivery progress on a terminal or in the log."""
from __future__ import annotations

import sys
import time

from bot.jobs.newsletter.common import JOB, LOG_EVERY_SECONDS, LOG_EVERY_TARGETS, log


class Progress:
    """Delivery progress: a tqdm bar on a terminal; otherwise one log line every 30 s or 50 targets
    (done, skipped, failed, left, rate, ETA), and a summary line at the end."""

    def __init__(self, label: str, total: int, stream=None, clock=time.monotonic, done: int = 0):
        self.label, self.total, self.done, self.skipped, self.failed = label, total, done, 0, 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.clock = clock
        self.started = self.last_log = clock()
        self.at_start, self.since_log = done, 0
        self.bar = None
        if self.tty:
            from tqdm import tqdm
            self.bar = tqdm(total=total, initial=done, desc=label, unit="page", file=self.stream,
                            dynamic_ncols=True, leave=True)

    def tick(self, n: int = 1, kind: str = "done") -> None:
        setattr(self, kind, getattr(self, kind) + n)
        self.since_log += n
        if self.bar is not None:
            self.bar.update(n)
            self.bar.set_postfix(skipped=self.skipped, failed=self.failed, refresh=False)
        elif self.since_log >= LOG_EVERY_TARGETS or self.clock() - self.last_log >= LOG_EVERY_SECONDS:
            log.info("%s", self.line(), extra={"job": JOB})
            self.since_log, self.last_log = 0, self.clock()

    @property
    def left(self) -> int:
        return max(0, self.total - self.done - self.skipped - self.failed)

    @property
    def rate(self) -> float:
        elapsed = self.clock() - self.started
        handled = self.done - self.at_start + self.skipped + self.failed
        return handled / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        rate = self.rate
        eta = self.left / rate if rate > 0 else 0.0
        return (f"{self.label}: {self.done}/{self.total} delivered, {self.skipped} skipped, {self.failed} failed, "
                f"{self.left} left, {rate:.1f}/s, ETA {eta:.0f}s")

    def finish(self, summary: str) -> None:
        if self.bar is not None:
            self.bar.close()
        log.info("%s in %.1fs (%.1f pages/s)", summary, self.clock() - self.started, self.rate, extra={"job": JOB})
