"""Config sections of the long-running service: `schedule`, `webhook` and `status_page`.

Example (every key optional except where noted)::

    schedule:
      timezone: Europe/Prague        # cron expressions are read in this zone (default UTC)
      misfire_grace_seconds: 3600    # a run missed by less than this still runs once on start
      lease_seconds: 60              # replicas: the leader lease (see bot/store/lease.py)
      stop_timeout_seconds: 25       # SIGTERM: finish the edit in flight, exit within this
      jobs:
        status-sync: {every: 10m}
        feedback: {cron: "15 * * * *", wikis: [cs, ko]}      # one run per wiki
        mentions:
          every: 5m
          wikis: {cs: {}, ko: {every: 15m}}                   # per-wiki overrides
        weekly-report: {cron: "0 8 * * mon", enabled: false}

    webhook:
      host: 0.0.0.0
      port: 8000                     # or port_env: PORT
      path: /webhook
      hmac_key_env: AMBASSADOR_WEBHOOK_KEY
      max_body_bytes: 65536
      jobs: [status-sync, feedback]  # what a task change runs at once

    status_page:
      pages: {cs: "Wikipedista:GrowthBot/Běh", ko: "사용자:GrowthBot/실행"}
      refresh_hours: 24

Without a `schedule` section the service runs status-sync every 10 minutes.
"""
from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from bot.errors import ConfigError
from bot.settings.reader import Reader, env_name, non_empty, page_title, time_zone

DEFAULT_EVERY_SECONDS = 600.0
DEFAULT_MISFIRE_GRACE = 3600
_EVERY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$")
_UNIT_SECONDS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_TIMING_KEYS = {"every", "cron", "enabled", "misfire_grace_seconds"}


@dataclass(frozen=True)
class ScheduledJob:
    """One entry of the scheduler: a job, for every wiki (wiki None) or for one wiki."""

    job: str
    wiki: str | None
    every_seconds: float | None
    cron: str | None
    misfire_grace_seconds: int

    @property
    def id(self) -> str:
        return self.job if self.wiki is None else f"{self.job}@{self.wiki}"

    @property
    def timing(self) -> str:
        return f"cron {self.cron}" if self.cron else f"every {self.every_seconds:g}s"


@dataclass(frozen=True)
class Schedule:
    timezone: str = "UTC"
    entries: tuple[ScheduledJob, ...] = ()
    lease_seconds: float = 60.0
    stop_timeout_seconds: float = 25.0
    misfire_grace_seconds: int = DEFAULT_MISFIRE_GRACE

    def jobs(self) -> set[str]:
        return {e.job for e in self.entries}


@dataclass(frozen=True)
class WebhookSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    path: str = "/webhook"
    hmac_key_env: str = "AMBASSADOR_WEBHOOK_KEY"
    max_body_bytes: int = 65536
    jobs: tuple[str, ...] = ("status-sync", "feedback")
    health_token_env: str | None = None   # /healthz shows details only with `Authorization: Bearer <it>`

    def hmac_key(self) -> bytes:
        value = os.environ.get(self.hmac_key_env, "").strip()
        if not value:
            raise ConfigError(f"missing webhook key: set the environment variable {self.hmac_key_env} "
                              f"(the HMAC key Phabricator shows for the webhook)")
        return value.encode()


@dataclass(frozen=True)
class StatusPageSettings:
    pages: Mapping[str, str]
    refresh_hours: float = 24.0
    max_problems: int = 5


def default_schedule(job: str) -> Schedule:
    """The service's schedule when the config has none: `job` (the scheduler names it) every 10 minutes."""
    return Schedule(entries=(ScheduledJob(job, None, DEFAULT_EVERY_SECONDS, None, DEFAULT_MISFIRE_GRACE),))


def parse(r: Reader, raw: Any, known_wikis: Mapping[str, str], job_names: Collection[str] | None) -> Schedule:
    """`job_names`: the jobs there are (the caller knows them: settings sit below the jobs);
    None takes any name."""
    raw = r.mapping(raw, "schedule", {"timezone", "misfire_grace_seconds", "lease_seconds", "stop_timeout_seconds",
                                      "jobs"}, {"jobs"})
    tz = r.typed(raw.get("timezone", "UTC"), "schedule.timezone", str, time_zone)
    grace = _grace(r, raw.get("misfire_grace_seconds", DEFAULT_MISFIRE_GRACE), "schedule.misfire_grace_seconds")
    lease = float(r.typed(raw.get("lease_seconds", 60), "schedule.lease_seconds", (int, float),
                          lambda v: None if 2 <= v <= 3600 else "must be between 2 and 3600 seconds"))
    stop = float(r.typed(raw.get("stop_timeout_seconds", 25), "schedule.stop_timeout_seconds", (int, float),
                         lambda v: None if 1 <= v <= 600 else "must be between 1 and 600 seconds"))
    jobs = r.typed(raw["jobs"], "schedule.jobs", dict)
    entries: list[ScheduledJob] = []
    for name, spec in jobs.items():
        key = f"schedule.jobs.{name}"
        if job_names is not None and name not in job_names:
            raise r.fail(key, f"unknown job (known: {', '.join(sorted(job_names))})")
        spec = r.mapping(spec if spec is not None else {}, key, _TIMING_KEYS | {"wikis"})
        base = _timing(r, spec, key, tz, grace, None)
        wikis = spec.get("wikis")
        if wikis is None:
            if base["enabled"]:
                entries.append(_entry(name, None, base))
            continue
        if isinstance(wikis, (list, str)):
            wikis = {code: {} for code in r.string_list(wikis, f"{key}.wikis")}
        wikis = r.typed(wikis, f"{key}.wikis", dict, lambda v: None if v else "must name at least one wiki")
        for code, override in wikis.items():
            wkey = f"{key}.wikis.{code}"
            if code not in known_wikis:
                raise r.fail(wkey, f"unknown wiki (configured: {', '.join(known_wikis)})")
            override = r.mapping(override if override is not None else {}, wkey, _TIMING_KEYS)
            timing = _timing(r, override, wkey, tz, base["grace"], base)
            if timing["enabled"]:
                entries.append(_entry(name, code, timing))
    return Schedule(timezone=tz, entries=tuple(entries), lease_seconds=lease, stop_timeout_seconds=stop,
                    misfire_grace_seconds=grace)


def _timing(r: Reader, spec: dict, key: str, tz: str, grace: int, inherited: dict | None) -> dict:
    if "every" in spec and "cron" in spec:
        raise r.fail(key, "give either every or cron, not both")
    out = dict(inherited or {"every": DEFAULT_EVERY_SECONDS, "cron": None, "enabled": True, "grace": grace})
    if "every" in spec:
        out["every"], out["cron"] = parse_every(r, spec["every"], f"{key}.every"), None
    if "cron" in spec:
        out["cron"], out["every"] = _cron(r, spec["cron"], f"{key}.cron", tz), None
    if "enabled" in spec:
        out["enabled"] = r.typed(spec["enabled"], f"{key}.enabled", bool)
    if "misfire_grace_seconds" in spec:
        out["grace"] = _grace(r, spec["misfire_grace_seconds"], f"{key}.misfire_grace_seconds")
    return out


def _entry(name: str, wiki: str | None, timing: dict) -> ScheduledJob:
    return ScheduledJob(name, wiki, timing["every"], timing["cron"], timing["grace"])


def parse_every(r: Reader, value: Any, key: str) -> float:
    """`90`, `"90s"`, `"10m"`, `"2h"`, `"1d"` -> seconds."""
    if isinstance(value, bool):
        raise r.fail(key, f"must be a duration like 10m, got {value!r}")
    m = _EVERY_RE.match(str(value))
    if not m:
        raise r.fail(key, f"must be a duration like 30s, 10m, 2h or 1d, got {value!r}")
    seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    if not 1 <= seconds <= 366 * 86400:
        raise r.fail(key, f"must be between 1 second and a year, got {value!r}")
    return seconds


def _cron(r: Reader, value: Any, key: str, tz: str) -> str:
    from apscheduler.triggers.cron import CronTrigger

    r.typed(value, key, str, non_empty)
    if len(value.split()) != 5:
        raise r.fail(key, f"must be a crontab line of 5 fields (minute hour day month weekday), got {value!r}")
    try:
        CronTrigger.from_crontab(value, timezone=tz)
    except ValueError as exc:
        raise r.fail(key, f"not a valid cron expression {value!r}: {exc}") from None
    return value


def _grace(r: Reader, value: Any, key: str) -> int:
    return int(r.typed(value, key, int, lambda v: None if 1 <= v <= 7 * 86400 else "must be 1..604800 seconds"))


def parse_webhook(r: Reader, raw: Any, job_names: Collection[str] | None) -> WebhookSettings:
    raw = r.mapping(raw, "webhook", {"host", "port", "port_env", "path", "hmac_key_env", "max_body_bytes", "jobs",
                                          "health_token_env"})
    if "port" in raw and "port_env" in raw:
        raise r.fail("webhook", "give either port or port_env, not both")
    port = raw.get("port", 8000)
    if "port_env" in raw:
        name = r.typed(raw["port_env"], "webhook.port_env", str, env_name)
        value = os.environ.get(name, "")
        if not value.isdigit():
            raise r.fail("webhook.port_env", f"the environment variable {name} must hold a port number, "
                                             f"got {value!r}")
        port = int(value)
    jobs = r.string_list(raw.get("jobs", ["status-sync", "feedback"]), "webhook.jobs",
                         lambda v: None if job_names is None or v in job_names
                         else f"unknown job {v!r} (known: {', '.join(sorted(job_names))})")
    return WebhookSettings(
        host=r.typed(raw.get("host", "127.0.0.1"), "webhook.host", str, non_empty),
        port=r.typed(port, "webhook.port", int, lambda v: None if 0 <= v <= 65535 else "must be 0..65535"),
        path=r.typed(raw.get("path", "/webhook"), "webhook.path", str,
                     lambda v: None if re.fullmatch(r"/[A-Za-z0-9._~/-]{0,200}", v) and v != "/healthz"
                     else "must start with /, hold only letters, digits and . _ ~ / -, and not be /healthz"),
        hmac_key_env=r.typed(raw.get("hmac_key_env", "AMBASSADOR_WEBHOOK_KEY"), "webhook.hmac_key_env", str, env_name),
        max_body_bytes=r.typed(raw.get("max_body_bytes", 65536), "webhook.max_body_bytes", int,
                               lambda v: None if 256 <= v <= 10_000_000 else "must be 256..10000000"),
        jobs=jobs,
        health_token_env=r.typed(raw["health_token_env"], "webhook.health_token_env", str, env_name)
        if "health_token_env" in raw else None,
    )


def parse_status_page(r: Reader, raw: Any, known_wikis: Mapping[str, str]) -> StatusPageSettings:
    raw = r.mapping(raw, "status_page", {"pages", "refresh_hours", "max_problems"}, {"pages"})
    pages = r.mapping(raw["pages"], "status_page.pages", set(known_wikis))
    if not pages:
        raise r.fail("status_page.pages", "must name a page on at least one wiki")
    for code, title in pages.items():
        r.typed(title, f"status_page.pages.{code}", str, page_title)
    return StatusPageSettings(
        pages=MappingProxyType(dict(pages)),
        refresh_hours=float(r.typed(raw.get("refresh_hours", 24), "status_page.refresh_hours", (int, float),
                                    lambda v: None if 0 < v <= 24 * 366 else "must be more than 0 and at most 8784 hours")),
        max_problems=r.typed(raw.get("max_problems", 5), "status_page.max_problems", int,
                             lambda v: None if 1 <= v <= 50 else "must be 1..50"),
    )
