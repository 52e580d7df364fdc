"""Command line: `python -m bot` or `ambassador`.

The shell owns process life: it loads the config, builds the adapters and the
store, hands them to a job or the scheduler, and turns every BotError into one
line on stderr and a non-zero exit code (2 for configuration problems).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from bot import __version__
from bot.errors import BotError, ConfigError
from bot.settings import Settings, load_settings

log = logging.getLogger("bot")
DEFAULT_CONFIG = os.environ.get("AMBASSADOR_CONFIG", "config/demo.yaml")
JOBS = ("status-sync",)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ambassador", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="YAML config (default: %(default)s)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    parser.add_argument("--version", action="version", version=f"ambassador-bot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check-config", help="validate the config and that its secrets are set")
    once = sub.add_parser("once", help="run one job once and exit")
    once.add_argument("job", choices=JOBS)
    once.add_argument("--dry-run", action="store_true", help="print a diff of every page it would save; save nothing")
    run = sub.add_parser("run", help="run every job on its schedule until stopped (the Procfile worker)")
    run.add_argument("--dry-run", action="store_true")
    return parser


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # pywikibot is chatty at INFO; its warnings still show.
    logging.getLogger("pywiki").setLevel(logging.WARNING)


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


def run_job(name: str, ctx):
    from bot.jobs import status_sync

    return {"status-sync": status_sync.run}[name](ctx)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        settings = load_settings(args.config)
        if args.command == "check-config":
            settings.phabricator.token()
            for wiki in settings.wikis.values():
                wiki.password()
            print(f"{args.config}: OK ({len(settings.wikis)} wikis, {len(settings.status_tables)} status tables)")
            return 0
        if args.command == "once":
            ctx = build_context(settings, dry_run=args.dry_run)
            report = run_job(args.job, ctx)
            _print_report(report)
            return 0 if report.ok else 1
        if args.command == "run":
            from bot.scheduler import run_forever
            return run_forever(settings, dry_run=args.dry_run)
    except BotError as exc:
        print(f"ambassador: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    raise ConfigError(f"unknown command {args.command}")


def _print_report(report) -> None:
    for wiki, title, revid in report.saved:
        print(f"saved {wiki}:{title} (revision {revid})")
    for line in report.held:
        print(f"held: {line}")
    for line in report.problems:
        print(f"problem: {line}", file=sys.stderr)
    print(report.summary())
