"""The jobs by name, and how to build what they are given from the settings."""
from __future__ import annotations

import os
from pathlib import Path

from bot.settings import Settings

# Job name -> "module:function"; every function takes a JobContext and returns a JobReport.
JOBS = {
    "status-sync": "bot.jobs.status_sync:run",
    "feedback": "bot.jobs.feedback:run",
    "mentions": "bot.jobs.mentions:run",
    "weekly-report": "bot.jobs.weekly_report:run",
    "newsletter": "bot.jobs.newsletter:run",
}


def build_context(settings: Settings, *, dry_run: bool = False):
    from bot.adapters.phab import ConduitClient
    from bot.adapters.wiki import WikiClient
    from bot.jobs.base import JobContext
    from bot.store import open_store

    token = settings.phabricator.token()
    for wiki in settings.wikis.values():
        wiki.password()  # fail before any request when a secret is missing
    store = open_store(settings.state_url)
    phab = ConduitClient(settings.phabricator.url, token, settings.user_agent,
                         timeout=settings.phabricator.timeout, page_size=settings.phabricator.page_size)
    workdir = settings.pywikibot_dir or _default_pywikibot_dir(settings)
    wikis = {code: WikiClient(ws, settings.user_agent, workdir) for code, ws in settings.wikis.items()}
    return JobContext(settings=settings, store=store, phab=phab, wikis=wikis, dry_run=dry_run)


def _default_pywikibot_dir(settings: Settings) -> Path:
    if settings.state_url.startswith("sqlite:///"):
        return Path(settings.state_url[len("sqlite:///"):]).parent / "pywikibot"
    return Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "ambassador-bot" / "pywikibot"


def job_function(name: str):
    import importlib

    module_name, func_name = JOBS[name].split(":")
    return getattr(importlib.import_module(module_name), func_name)


def run_job(name: str, ctx):
    from bot.jobs.blocks import run_guarded

    return run_guarded(job_function(name), ctx)
