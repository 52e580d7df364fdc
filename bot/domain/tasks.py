"""Phabricator task snapshots and the queries over them."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

# Wikimedia's priority keywords with Conduit's numeric values; sorting uses the number.
PRIORITY_VALUES = {"unbreak": 100, "triage": 90, "high": 80, "normal": 50, "low": 25, "lowest": 10}
# Only this view policy is visible to logged-out readers, i.e. to a wiki's audience.
PUBLIC_POLICY = "public"


@dataclass(frozen=True)
class Task:
    id: int
    phid: str
    title: str
    status: str
    priority: int
    date_modified: int
    view_policy: str
    owner_phid: str | None = None
    owner: str | None = None
    subtype: str = "default"
    projects: tuple[str, ...] = field(default_factory=tuple)
    date_created: int = 0
    date_closed: int | None = None
    author_phid: str | None = None

    @property
    def monogram(self) -> str:
        return f"T{self.id}"

    @property
    def is_public(self) -> bool:
        return self.view_policy == PUBLIC_POLICY

    def to_json(self) -> dict:
        data = asdict(self)
        data["projects"] = list(self.projects)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Task":
        return cls(**{**data, "projects": tuple(data.get("projects", ()))})


def publishable(tasks):
    """Tasks the public may see. Everything that reaches a wiki passes through here."""
    return [t for t in tasks if t.is_public]


def merge_changes(snapshot: dict[int, Task], changed: list[Task]) -> tuple[dict[int, Task], set[int]]:
    """Apply a batch of changed tasks to a snapshot; return the new snapshot and ids that really differ.

    The incremental fetch uses an inclusive `modifiedStart`, so it returns tasks we
    already have; only those whose data differ count as changed.
    """
    merged = dict(snapshot)
    really_changed: set[int] = set()
    for task in changed:
        if merged.get(task.id) != task:
            really_changed.add(task.id)
        merged[task.id] = task
    return merged, really_changed


def newest_modification(tasks) -> int:
    return max((t.date_modified for t in tasks), default=0)
