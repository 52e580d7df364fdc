"""Phabricator task snapshots and the queries over them."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

# Wikimedia's priority keywords with Conduit's numeric values; sorting uses the number.
PRIORITY_VALUES = {"unbreak": 100, "triage": 90, "high": 80, "normal": 50, "low": 25, "lowest": 10}
# Only this view policy is visible to logged-out readers, i.e. to a wiki's audience.
PUBLIC_POLICY = "public"
# A view policy the bot could not learn (e.g. a Space it may not see): never public.
UNKNOWN_POLICY = "unknown"


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
    # A task in a Space is visible only as far as the Space is: its own `policy.view` may
    # say "public" while the Space admits members only (anonymous readers get a login page).
    space_phid: str | None = None
    space_policy: str | None = None

    @property
    def monogram(self) -> str:
        return f"T{self.id}"

    @property
    def is_public(self) -> bool:
        """What an anonymous reader of Phabricator may see: the one visibility rule."""
        if self.view_policy != PUBLIC_POLICY:
            return False
        return self.space_phid is None or self.space_policy == PUBLIC_POLICY

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


def same_but_for_activity(old: "Task | None", new: Task) -> bool:
    """True when only `date_modified` moved: a comment or another change the tables do not show."""
    if old is None:
        return False
    a, b = old.to_json(), new.to_json()
    for data in (a, b):
        data.pop("date_modified")
        data.pop("owner")       # filled in from the user names later
    return a == b


def newest_modification(tasks) -> int:
    return max((t.date_modified for t in tasks), default=0)


@dataclass(frozen=True)
class PhabUser:
    phid: str
    username: str


@dataclass(frozen=True)
class TaskComment:
    """A comment transaction on a task. A removed comment still has its transaction."""

    phid: str
    author_phid: str | None
    date_created: int
    text: str
    removed: bool


@dataclass(frozen=True)
class CommentVersion:
    """One version of a comment: editing a comment adds a version, removing it adds a removed one."""

    text: str
    removed: bool = False


@dataclass(frozen=True)
class Transaction:
    """One entry of an object's history, as Conduit's `transaction.search` lists it."""

    phid: str
    type: str | None = None
    author_phid: str | None = None
    object_phid: str | None = None
    date_created: int = 0
    # Newest version first. Once the newest is removed, Phorge blanks the text of every version.
    versions: tuple[CommentVersion, ...] = ()

    @property
    def texts(self) -> tuple[str, ...]:
        """The text of every version: a marker or link the bot wrote stays findable after an edit."""
        return tuple(v.text for v in self.versions)

    @property
    def removed(self) -> bool:
        return bool(self.versions) and self.versions[0].removed

    @property
    def text(self) -> str:
        """What the comment says now ("" once removed, or for a transaction without a comment)."""
        return "" if self.removed or not self.versions else self.versions[0].text
