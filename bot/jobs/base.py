"""What every job is given, and what it reports."""
from __future__ import annotations

import difflib
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, TextIO

from bot.adapters.ports import ConduitPort, WikiPort
from bot.domain.problems import Problem, ProblemList
from bot.render.environment import Renderer
from bot.settings import Settings
from bot.store import OverlayStore, StateStore


@dataclass
class JobContext:
    settings: Settings
    store: StateStore
    phab: ConduitPort
    wikis: dict[str, WikiPort]     # by wiki code
    renderer: Renderer = field(default_factory=Renderer)
    dry_run: bool = False
    out: TextIO = field(default_factory=lambda: sys.stdout)
    clock: Callable[[], float] = time.time
    # Facts worth asking a server once per process, never stored: e.g. the bot's own PHID,
    # which changes if the token is given to another account between runs.
    memo: dict = field(default_factory=dict)
    # Asked by the writer before every write it sends; raises to refuse it. The scheduler gives its
    # stop/lease check (SIGTERM, a lost lease: the write in flight finishes, the next one is refused).
    may_write: Callable[[], None] | None = None

    def __post_init__(self):
        # The one dry-run mechanism for state: the same code path, writes kept in memory.
        if self.dry_run and not isinstance(self.store, OverlayStore):
            self.store = OverlayStore(self.store)

    def bot_phid(self) -> str:
        if "bot_phid" not in self.memo:
            self.memo["bot_phid"] = self.phab.whoami().phid
        return self.memo["bot_phid"]


@dataclass
class JobReport:
    job: str
    saved: list[tuple[str, str, int]] = field(default_factory=list)      # (wiki, title, revid)
    would_save: list[tuple[str, str]] = field(default_factory=list)     # dry run
    unchanged: int = 0
    # Reported per target while the job went on. Jobs may append plain strings: the list
    # makes each a Problem (wiki, target, kind, text) once, on the way in (bot/domain/problems.py).
    problems: list[Problem] = field(default_factory=ProblemList)
    held: list[str] = field(default_factory=list)

    def __post_init__(self):
        if not isinstance(self.problems, ProblemList):
            self.problems = ProblemList(self.problems)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        parts = [f"{self.job}: {len(self.saved)} saved", f"{self.unchanged} unchanged"]
        if self.would_save:
            parts.append(f"{len(self.would_save)} would be saved (dry run)")
        if self.held:
            parts.append(f"{len(self.held)} held")
        if self.problems:
            parts.append(f"{len(self.problems)} problem(s)")
        return ", ".join(parts)


def preview_edit(ctx: JobContext, report: JobReport, code: str, title: str, old: str, new: str) -> None:
    """A dry run's edit: its diff on the output and its page in the report; nothing is written."""
    ctx.out.write(unified_diff(old, new, f"{code}:{title}"))
    report.would_save.append((code, title))


def unified_diff(old: str, new: str, label: str) -> str:
    """A unified diff that always ends with a newline, so the next line printed stands on its own.

    A text without a final newline would glue its last line to the next diff line (or to
    the next log line); such a line is ended and marked as git does.
    """
    lines = []
    for line in difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                     fromfile=f"{label} (current)", tofile=f"{label} (bot)"):
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        lines.append(line)
    return "".join(lines)


def reachable_tasks(ctx: JobContext, namespace: str, task_ids: set[int], report: JobReport,
                    what: str) -> set[int] | None:
    """The tasks among `task_ids` the bot can see now (one batched `maniphest.search`).

    Anything aimed at another task (one that does not exist, or that the bot may not see)
    is kept by the caller and delivered once the task can be reached. Each such task is a
    problem once, in the run where it is first met; later runs list it as held, so the
    exit code speaks of new problems only. None when Phabricator did not answer.
    """
    from bot.errors import BotError

    try:
        visible = {t.id for t in ctx.phab.search_tasks(task_ids=sorted(task_ids))} & set(task_ids)
    except BotError as exc:
        report.problems.append(f"Phabricator: {exc}; {what} waits for the next cycle")
        return None
    for task_id in sorted(set(task_ids) - visible):
        if ctx.store.get(namespace, f"T{task_id}") is None:
            ctx.store.put(namespace, f"T{task_id}", ctx.clock())
            report.problems.append(f"T{task_id}: no such task, or the bot may not see it; {what} for it is "
                                   f"kept and delivered once the task can be reached")
        else:
            report.held.append(f"T{task_id}: still out of the bot's sight; {what} kept")
    for task_id in sorted(visible):
        if ctx.store.get(namespace, f"T{task_id}") is not None:
            ctx.store.delete(namespace, f"T{task_id}")
    return visible


def run_page_titles(wiki_settings) -> list[str]:
    """The emergency-stop page to read along with a job's pages (none when the wiki has none)."""
    return [wiki_settings.run_page] if wiki_settings.run_page else []


def emergency_stop(wiki_settings, states: dict):
    """The one emergency-stop rule: an `EmergencyStop` when the wiki's run page (read in the same
    batch as the pages about to be written) does not say `run_value`, else None. Callers say what
    they leave undone; no write goes to that wiki while it stands."""
    from bot.errors import EmergencyStop

    title = wiki_settings.run_page
    if not title:
        return None
    page = states[title]
    if page.exists and page.text.strip() == wiki_settings.run_value:
        return None
    return EmergencyStop(f"wiki {wiki_settings.code}: emergency stop: {title} does not say "
                         f"{wiki_settings.run_value!r}")
