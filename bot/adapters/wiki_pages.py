"""What a wiki read returns (`PageState`, `RecentChange`) and how API answers become it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageState:
    """A page as read: what an edit must be based on."""

    title: str                    # normalised title as the wiki spells it
    exists: bool
    text: str = ""
    revid: int = 0
    timestamp: str = ""
    start_timestamp: str = ""     # server time at the read, sent back as `starttimestamp`
    protected_edit: tuple[str, ...] = ()
    redirect_to: str | None = None
    user: str = ""                # author of the revision read ("" when hidden)


@dataclass(frozen=True)
class RecentChange:
    rcid: int
    title: str
    namespace: int
    revid: int
    old_revid: int
    user: str
    timestamp: str
    type: str
    comment: str
    bot: bool


def _revision_dict(rev: dict, title: str) -> dict:
    return {"revid": rev["revid"], "parentid": rev.get("parentid", 0), "title": title, "user": rev.get("user", ""),
            "timestamp": rev["timestamp"], "comment": rev.get("comment", ""),
            "text": rev.get("slots", {}).get("main", {}).get("content", "")}


def _canonical_user(name: str) -> str:
    name = " ".join(name.replace("_", " ").split())
    return name[:1].upper() + name[1:]


def _pages_from_query(data: dict, asked: list[str]) -> dict[str, PageState]:
    query = data.get("query", {})
    start = data.get("curtimestamp", "")
    # Map each asked title through normalisation and redirects to the page entry.
    alias = {t: t for t in asked}
    for n in query.get("normalized", []):
        for k, v in alias.items():
            if v == n["from"]:
                alias[k] = n["to"]
    by_title = {p["title"]: p for p in query.get("pages", [])}
    states: dict[str, PageState] = {}
    for asked_title, title in alias.items():
        p = by_title.get(title)
        if p is None or p.get("invalid"):
            states[asked_title] = PageState(title=title, exists=False, start_timestamp=start)
            continue
        protection = tuple(x["level"] for x in p.get("protection", []) if x.get("type") == "edit")
        if p.get("missing"):
            states[asked_title] = PageState(title=title, exists=False, start_timestamp=start, protected_edit=protection)
            continue
        rev = p["revisions"][0]
        states[asked_title] = PageState(title=title, exists=True, text=rev["slots"]["main"]["content"],
                                        revid=rev["revid"], timestamp=rev["timestamp"], start_timestamp=start,
                                        protected_edit=protection,
                                        redirect_to=None, user=rev.get("user", ""))
    return states
