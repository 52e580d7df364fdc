"""The run report: one wiki page per wiki showing the last run of every job there.

After each scheduled run the scheduler hands the outcome to `update()`. The outcome
is stored per wiki and job; the page is rendered from everything stored for that
wiki and saved only when its content changed meaningfully: a job row appeared, a
result changed, or a problem is new or cleared (`page_key`). Counts alone (saved,
unchanged, held) never cause an edit: a bot that runs every few minutes must not edit
its report on every run (it was saved 8 times in 4 minutes). The page is also saved
when the times shown are older than `status_page.refresh_hours`, so they stay true.

Problems are `bot.domain.problems.Problem`s: each row shows only the problems of its
wiki (`Problem.wiki`); a problem of no wiki is placed by `locate()`: a weekly report's
on its ambassador's home wiki, one about Phabricator or a failed run on every wiki of
the run, any other on the home wiki (`home_wiki()`), never on every wiki's page.

The page is the bot's own, but it still asks the run page and `{{nobots}}` before
each edit, and writes only between its markers
(`<!-- ambassador-bot:run-report jobs begin/end -->`), so humans may add text around.
Problems come from errors that may quote page titles and task text: every value is
escaped with `wikitext_inline`, and known secrets are redacted.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field

from bot.domain.problems import FAILED, PHABRICATOR, RUN_REPORT, WEEKLY_REPORT, Problem
from bot.domain.wikitext import MARKER, RegionError, find_region, replace_region
from bot.errors import Blocked, EditConflict, TargetError, TransientError
from bot.jobs.base import JobContext, JobReport
from bot.jobs.writer import NOBOTS, UNCHANGED, WOULD_SAVE, Writer
from bot.logs import redact
from bot.render import messages
from bot.render.escape import wikitext_inline

log = logging.getLogger(__name__)

JOB = "status-report"
NS_RUNS = "run-report"          # "<wiki>|<entry id>" -> the last outcome there
NS_PAGE = "run-report-page"     # "<wiki>" -> {"hash": stable body hash, "edited_at": time}
KIND, NAME = "run-report", "jobs"
BEGIN = MARKER.format(kind=KIND, name=NAME, edge="begin")
END = MARKER.format(kind=KIND, name=NAME, edge="end")
MAX_PROBLEM_CHARS = 300


@dataclass
class RunOutcome:
    """What one scheduled run did, as the run report shows it."""

    entry_id: str                 # "status-sync" or "status-sync@cs"
    job: str
    wiki: str | None              # None: the run covered every wiki
    finished_at: float
    result: str                   # "ok", "problem" or "failed"
    saved: dict[str, int] = field(default_factory=dict)       # per wiki
    would_save: dict[str, int] = field(default_factory=dict)  # per wiki
    unchanged: int = 0
    held: int = 0
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self):
        self.problems = [Problem(p) for p in self.problems]

    @classmethod
    def from_report(cls, entry_id: str, job: str, wiki: str | None, report: JobReport, finished_at: float,
                    settings=None):
        """The outcome of a run; with `settings`, every problem is placed on its wiki (`locate`)."""
        problems = [Problem(p) for p in report.problems]
        if settings is not None:
            problems = [locate(p, settings, wiki) for p in problems]
        saved: dict[str, int] = {}
        for code, _title, _revid in report.saved:
            saved[code] = saved.get(code, 0) + 1
        would: dict[str, int] = {}
        for code, _title in report.would_save:
            would[code] = would.get(code, 0) + 1
        return cls(entry_id, job, wiki, finished_at, "ok" if report.ok else "problem", saved, would,
                   report.unchanged, len(report.held), problems)

    @classmethod
    def failure(cls, entry_id: str, job: str, wiki: str | None, message: str, finished_at: float):
        return cls(entry_id, job, wiki, finished_at, "failed", problems=[Problem(message, wiki=wiki, target=None,
                                                                                  kind=FAILED)])

    def for_wiki(self, code: str) -> dict:
        """The part of this outcome that concerns one wiki (problems of no wiki concern every wiki)."""
        problems = [p for p in self.problems if p.wiki in (None, code)]
        result = self.result
        if result == "problem" and not problems:
            result = "ok"
        return {"job": self.entry_id, "finished_at": self.finished_at, "result": result,
                "saved": self.saved.get(code, 0), "would_save": self.would_save.get(code, 0),
                "unchanged": self.unchanged, "held": self.held, "problems": [p.text for p in problems],
                "problem_keys": [p.key() for p in problems]}


def problem_wiki(problem) -> str | None:
    """The wiki a problem concerns (its `wiki` attribute), None for none in particular."""
    return Problem(problem).wiki


def home_wiki(settings) -> str | None:
    """The wiki that shows problems of no particular wiki: the first with a run report page, else the first."""
    config = settings.status_page
    for code in settings.wikis:
        if config is not None and code in config.pages:
            return code
    return next(iter(settings.wikis), None)


def locate(problem, settings, entry_wiki: str | None = None) -> Problem:
    """The problem placed on the wiki where a reader should find it (see the module docstring).

    A per-wiki run's problems are all that wiki's. Otherwise a problem keeps its own
    wiki; a weekly-report problem goes to its ambassador's home wiki; one about
    Phabricator as a whole, or the run failing, stays on every wiki (wiki None); any
    other goes to the home wiki.
    """
    problem = Problem(problem)
    if problem.wiki is not None:
        return problem
    if entry_wiki is not None:
        return problem.at(entry_wiki)
    if problem.kind in (PHABRICATOR, FAILED):
        return problem
    if problem.kind == WEEKLY_REPORT:
        home = _ambassador_home(settings, problem.target)
        if home in settings.wikis:
            return problem.at(home)
    return problem.at(home_wiki(settings))


def _ambassador_home(settings, ambassador_id: str | None) -> str | None:
    reports = settings.reports
    for amb in getattr(reports, "ambassadors", ()):
        if amb.id == ambassador_id:
            return amb.home_wiki
    return None


def page_key(runs: list[dict]) -> str:
    """What a reader of the page would call a change: rows, results and problems; not counts or times."""
    rows = []
    for run in runs:
        keys = run.get("problem_keys")
        if keys is None:   # stored before problems were typed
            keys = [Problem(p).key() for p in run["problems"]]
        rows.append([run["job"], run["result"], sorted(map(json.dumps, keys))])
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()[:16]


def update(ctx: JobContext, outcome: RunOutcome) -> JobReport:
    """Store the outcome and bring each affected wiki's report page up to date."""
    report = JobReport(JOB)
    config = ctx.settings.status_page
    codes = [outcome.wiki] if outcome.wiki else list(ctx.settings.wikis)
    for code in codes:
        if code not in ctx.settings.wikis:
            continue
        ctx.store.put(NS_RUNS, f"{code}|{outcome.entry_id}", outcome.for_wiki(code))
        if config is None or code not in config.pages or code not in ctx.wikis:
            continue
        try:
            _update_page(ctx, code, config.pages[code], config, report)
        except (TargetError, TransientError, Blocked) as exc:
            report.problems.append(Problem(f"wiki {code} run report: {exc}", wiki=code, target=config.pages[code],
                                           kind=RUN_REPORT))
    return report


def _update_page(ctx: JobContext, code: str, title: str, config, report: JobReport) -> None:
    wiki_settings = ctx.settings.wikis[code]
    runs = sorted((v for k, v in ctx.store.items(NS_RUNS).items() if k.startswith(code + "|")),
                  key=lambda r: r["job"])
    lang, tz = wiki_settings.language, wiki_settings.timezone
    digest = page_key(runs)
    remembered = ctx.store.get(NS_PAGE, code) or {}
    fresh = ctx.clock() - remembered.get("edited_at", 0) < config.refresh_hours * 3600
    if remembered.get("hash") == digest and fresh:
        report.unchanged += 1
        return
    body = render_table(runs, lang, tz, config.max_problems, with_times=True)
    wiki = ctx.wikis[code]
    writer = Writer(ctx, report)
    states = wiki.read_pages([title] + writer.run_page_titles(code))
    stop = writer.note_run_page(code, states)
    if stop:
        report.problems.append(f"{stop}; run report not edited")
        log.warning("emergency stop: run report not edited", extra={"job": JOB, "wiki": code, "page": title,
                                                                     "outcome": "stopped"})
        return
    page = states[title]
    for attempt in (1, 2):
        if writer.refusal(code, page) == NOBOTS:
            raise TargetError(f"wiki {code} page {title!r}: the page excludes the bot; run report not edited")
        try:
            new_text = place(page.text if page.exists else "", body, lang)
        except RegionError as exc:
            raise TargetError(f"wiki {code} page {title!r}: {exc}") from None
        key = f"run-report:{code}:{title}:{page.revid}:{hashlib.sha256(new_text.encode()).hexdigest()[:16]}"
        try:
            outcome = writer.edit(code, page, new_text, messages.RUN_REPORT[lang]["summary"], key=key)
        except EditConflict:
            if attempt == 2:
                raise
            page = wiki.read_pages([title])[title]
            continue
        if outcome.status == UNCHANGED:
            ctx.store.put(NS_PAGE, code, {"hash": digest, "edited_at": ctx.clock()})
            report.unchanged += 1
            return
        if outcome.status == WOULD_SAVE:
            return
        ctx.store.put(NS_PAGE, code, {"hash": digest, "edited_at": ctx.clock()})
        report.saved.append((code, title, outcome.revid))
        log.info("run report saved", extra={"job": JOB, "wiki": code, "page": title, "outcome": "saved"})
        return


def place(text: str, body: str, lang: str) -> str:
    """The page text with the report between its markers; markers added when missing."""
    try:
        find_region(text, KIND, NAME)
    except RegionError as exc:
        if "no '" not in str(exc):
            raise  # broken markers: a human must look, the bot must not add a second pair
        region = f"{BEGIN}\n{body.strip()}\n{END}\n"
        if not text.strip():
            return f"{messages.RUN_REPORT[lang]['intro']}\n\n{region}"
        return text.rstrip("\n") + "\n\n" + region
    return replace_region(text, KIND, NAME, body)


def render_table(runs: list[dict], lang: str, tz: str, max_problems: int, *, with_times: bool) -> str:
    words = messages.RUN_REPORT[lang]
    lines = ['{| class="wikitable sortable"',
             f"! {words['job']} !! {words['time']} !! {words['result']} !! {words['counts']} !! {words['problems']}"]
    for run in runs:
        when = _format_time(run["finished_at"], lang, tz) if with_times else ""
        counts = [words["saved"].format(n=run["saved"]), words["unchanged"].format(n=run["unchanged"])]
        if run.get("would_save"):
            counts.append(words["would_save"].format(n=run["would_save"]))
        if run.get("held"):
            counts.append(words["held"].format(n=run["held"]))
        problems = [wikitext_inline(redact(p), max_chars=MAX_PROBLEM_CHARS) for p in run["problems"][:max_problems]]
        if len(run["problems"]) > max_problems:
            problems.append(words["more"].format(n=len(run["problems"]) - max_problems))
        lines += ["|-", "| " + " || ".join([wikitext_inline(run["job"]), when,
                                             words.get(run["result"], wikitext_inline(run["result"])),
                                             ", ".join(counts), "<br />".join(problems)])]
    lines.append("|}")
    return "\n".join(lines)


def _format_time(ts: float, lang: str, tz: str) -> str:
    # As the wiki's language writes a date and time (bot/i18n: cs "6. 12. 2026, 6:08").
    return messages.datetime_text(ts, lang, tz)


def stored_runs(store, code: str) -> list[dict]:
    """The outcomes the report page of one wiki is made of (for /healthz and tests)."""
    return [v for k, v in sorted(store.items(NS_RUNS).items()) if k.startswith(code + "|")]

