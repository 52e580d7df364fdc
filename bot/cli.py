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

from bot import __version__, logs
from bot.errors import BotError, ConfigError
from bot.jobs.registry import JOBS, build_context, check_settings, run_job
from bot.settings import load_settings

log = logging.getLogger("bot")
DEFAULT_CONFIG = os.environ.get("AMBASSADOR_CONFIG", "config/demo.yaml")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ambassador", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="YAML config (default: %(default)s)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    parser.add_argument("--version", action="version", version=f"ambassador-bot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check-config", help="validate the config and that its secrets are set")
    check.add_argument("--online", action="store_true",
                       help="also log in to every wiki and Phabricator (user.whoami) and check that every named "
                            "page, task, project and user exists; writes nothing")
    once = sub.add_parser("once", help="run one job once and exit")
    once.add_argument("job", choices=list(JOBS))
    once.add_argument("--dry-run", action="store_true", help="print a diff of every page it would save; save nothing")
    news = sub.add_parser("newsletter", help="draft, approve, publish or inspect a newsletter edition")
    news.add_argument("action", choices=["draft", "approve", "publish", "status"])
    news.add_argument("--edition", required=True, help="edition id, e.g. 2026-12")
    news.add_argument("--wiki", action="append", help="limit to this wiki (repeatable); default: all")
    news.add_argument("--dry-run", action="store_true", help="print what would be posted where; post nothing")
    news.add_argument("--force", action="store_true",
                      help="approve/publish an edition nobody edited or that says nothing happened")
    tpl = sub.add_parser("templates", help="check every template, or preview one as a wiki would get it")
    tpl_sub = tpl.add_subparsers(dest="templates_action", required=True)
    tpl_sub.add_parser("check", help="render every file template and on-wiki override against sample data")
    preview = tpl_sub.add_parser("preview", help="render one template with sample data")
    preview.add_argument("name", help="e.g. status_table, weekly_report.remarkup")
    preview.add_argument("--wiki", required=True)
    run = sub.add_parser("run", help="run every job on its schedule until stopped (the Procfile worker)")
    run.add_argument("--dry-run", action="store_true")
    return parser


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # pywikibot is chatty at INFO; its warnings still show.
    logging.getLogger("pywiki").setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        settings = load_settings(args.config, job_names=JOBS)
        check_settings(settings)
        logs.install(settings)   # one-line structured records; secrets named by the config redacted
        if args.command == "check-config":
            settings.phabricator.token()
            for wiki in settings.wikis.values():
                wiki.password()
            if getattr(args, "online", False):
                from bot.jobs.registry import check_online
                problems = check_online(settings)
                for line in problems:
                    print(f"ambassador: problem: {line}", file=sys.stderr)
                if problems:
                    print(f"{args.config}: {len(problems)} problem(s) online", file=sys.stderr)
                    return 2
            print(f"{args.config}: OK ({len(settings.wikis)} wikis, {len(settings.status_tables)} status tables"
                  f"{'; logged in, every named page and task found' if getattr(args, 'online', False) else ''})")
            _print_missing_messages(sorted({w.language for w in settings.wikis.values()}))
            return 0
        if args.command == "once":
            ctx = build_context(settings, dry_run=args.dry_run)
            report = run_job(args.job, ctx)
            _print_report(report)
            return 0 if report.ok else 1
        if args.command == "newsletter":
            from bot.jobs import newsletter
            ctx = build_context(settings, dry_run=args.dry_run)
            from bot.jobs.writer import run_guarded
            codes = args.wiki or list(settings.wikis)
            report = run_guarded(lambda c: newsletter.command(c, args.action, args.edition, codes,
                                                              force=args.force), ctx)
            _print_report(report, comments=True)
            return 0 if report.ok else 1
        if args.command == "templates":
            from bot.jobs import templates_check
            ctx = build_context(settings)
            if args.templates_action == "preview":
                print(templates_check.preview(ctx, args.name, args.wiki))
                return 0
            report = templates_check.check(ctx)
            _print_report(report)
            return 0 if report.ok else 1
        if args.command == "run":
            from bot.scheduler import run_forever
            return run_forever(settings, dry_run=args.dry_run)
    except BotError as exc:
        # One line, whatever the message carries: operators grep logs by line.
        print("ambassador: error: " + " ".join(str(exc).split()), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    raise ConfigError(f"unknown command {args.command}")


def _print_missing_messages(languages: list[str]) -> None:
    """One line per configured language lacking messages (English is shown for those), and one
    per problem of its message files (e.g. a PLURAL with more forms than the language has)."""
    from bot import i18n
    for lang in languages:
        for folder in i18n.message_dirs():
            if (folder / f"{lang}.json").is_file():
                for problem in i18n.check_file(folder / f"{lang}.json"):
                    print(f"messages {lang}: problem: {problem}")
        lacking = i18n.missing(lang)
        if lacking:
            print(f"messages {lang}: {len(lacking)} missing, English shown instead: {', '.join(lacking)}")


def _print_report(report, comments: bool = False) -> None:
    for wiki, title, revid in report.saved:
        if comments and wiki == "phab":
            print(f"commented on phab:{title}")      # a task comment has no revision
        else:
            print(f"saved {wiki}:{title} (revision {revid})")
    for line in report.held:
        print(f"held: {line}")
    for line in report.problems:
        print(f"problem: {line}", file=sys.stderr)
    print(report.summary())
