"""What a status table shows, and whether a new rendering may replace the old one."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable

from bot.domain.tasks import Task, publishable
from bot.domain.wikitext import find_region, region_task_ids, replace_region

REGION_KIND = "status"


def select_rows(tasks: Iterable[Task], *, statuses=(), subtypes=(), task_ids=(), sort=("-priority", "id"),
                max_rows: int = 200) -> list[Task]:
    """The rows of one table: public tasks matching the filters, in a total, stable order.

    The order must be total (ties broken by id) so that the same data always renders
    byte-identically: ListeriaBot's flapping came from unstable ordering.
    """
    rows = [t for t in publishable(tasks)
            if (not statuses or t.status in statuses)
            and (not subtypes or t.subtype in subtypes)
            and (not task_ids or t.id in task_ids)]
    for key in reversed(tuple(sort) + ("id",)):
        field = key.lstrip("-")
        rows.sort(key=lambda t, f=field: _sort_value(t, f), reverse=key.startswith("-"))
    return rows[:max_rows]


def _sort_value(task: Task, field: str):
    if field == "modified":
        return task.date_modified
    if field == "title":
        return task.title.casefold()
    if field == "owner":
        return (task.owner or "").casefold()
    return getattr(task, field)


def body_hash(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class TableEdit:
    """The outcome of placing a rendered table into a page's current text."""

    action: str                 # "save", "unchanged" or "hold-shrink"
    new_text: str
    old_ids: frozenset[int]
    new_ids: frozenset[int]

    @property
    def dropped(self) -> frozenset[int]:
        return self.old_ids - self.new_ids


def plan_table_edit(page_text: str, table_id: str, body: str, *, max_drop_share: float,
                    confirmed_hash: str | None = None, still_public: frozenset[int] | None = None) -> TableEdit:
    """Decide what to do with one table region. Raises RegionError when the markers are unusable.

    A rendering that drops more than `max_drop_share` of the rows already on the page
    is held back unless the previous cycle produced the very same body (a second,
    confirming cycle), so a partial answer can never empty a table.

    Privacy comes before that guard: with `still_public` (the tasks Phabricator has just
    confirmed as public), only dropped rows among them count; a row whose task the
    server no longer shows, or shows as non-public, leaves at once.
    """
    old_body = find_region(page_text, REGION_KIND, table_id).body
    new_text = replace_region(page_text, REGION_KIND, table_id, body)
    old_ids, new_ids = frozenset(region_task_ids(old_body)), frozenset(region_task_ids(body))
    if new_text == page_text:
        return TableEdit("unchanged", new_text, old_ids, new_ids)
    dropped = old_ids - new_ids
    if still_public is not None:
        dropped &= still_public
    if old_ids and len(dropped) > max_drop_share * len(old_ids) and confirmed_hash != body_hash(body):
        return TableEdit("hold-shrink", new_text, old_ids, new_ids)
    return TableEdit("save", new_text, old_ids, new_ids)
