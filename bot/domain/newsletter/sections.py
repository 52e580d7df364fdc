"""What an edition reports: the team's public tasks, in sections (resolved, in progress, opened)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from bot.domain.tasks import Task, publishable


@dataclass(frozen=True)
class Section:
    kind: str                  # resolved | progress | opened
    tasks: tuple[Task, ...]
    total: int                 # before the per-section cap


def build_sections(tasks: Iterable[Task], period: tuple[int, int], kinds: Sequence[str], *,
                   resolved_statuses=("resolved",), progress_statuses=("progress",),
                   max_per_section: int = 30) -> list[Section]:
    """Public tasks per section, each task in at most one section (the first of resolved, progress, opened).

    resolved: closed with a resolved status inside the period; progress: in a
    progress status now; opened: created in the period and still open.
    """
    start, end = period
    by_kind: dict[str, list[Task]] = {"resolved": [], "progress": [], "opened": []}
    for t in publishable({t.id: t for t in tasks}.values()):
        if t.status in resolved_statuses and t.date_closed is not None and start <= int(t.date_closed) < end:
            by_kind["resolved"].append(t)
        elif t.status in progress_statuses:
            by_kind["progress"].append(t)
        elif start <= t.date_created < end and t.date_closed is None:
            by_kind["opened"].append(t)
    sections = []
    for kind in kinds:
        rows = sorted(by_kind[kind], key=lambda t: (-t.priority, t.id))
        if rows:
            sections.append(Section(kind, tuple(rows[:max_per_section]), len(rows)))
    return sections


_TASK_LINK_RE = re.compile(r"\[\[\s*phab:T(\d+)\s*[|\]]", re.IGNORECASE)


def mentioned_task_ids(text: str) -> list[int]:
    """Tasks an edition links to (`[[phab:T123|...]]`), in order of first mention."""
    return list(dict.fromkeys(int(m.group(1)) for m in _TASK_LINK_RE.finditer(text)))
