"""Problems: what went wrong for one target while the job went on, as a small typed value.

A `Problem` is a `str` (its text, the one line an operator reads), so every job that
still writes `report.problems.append(f"wiki cs: ...")` keeps working, with four
attributes read once, when the problem is made:

* `wiki`   - the wiki code it concerns, or None (Phabricator, a task, the whole run);
* `target` - the page title, task (`T12`), ambassador id or edition it is about, or None;
* `kind`   - what sort of problem: see `KINDS`;
* `text`   - the line itself (`str(problem)`).

A job may give the attributes itself (`Problem("...", wiki="cs", target="P", kind="page")`);
a plain string is parsed once, by `parse()` below, from the prefixes the jobs have always
used (`wiki <code>`, `wiki <code> page '<title>'`, `T<id>:`, `Phabricator:`, `weekly report
<week> for <ambassador>:`, `... no edits on <code>`). Nothing after this module takes a
problem's text apart: the scheduler, the logs and the run report read the attributes.

`JobReport.problems` is a `ProblemList`, which turns whatever is appended into a Problem.
"""
from __future__ import annotations

import re

# What sort of problem (the `kind` attribute).
PAGE = "page"                    # one page could not be written (protected, nobots, no markers, ...)
TASK = "task"                    # one task could not be read or commented on
WIKI = "wiki"                    # a whole wiki this run (cannot read, API error)
EMERGENCY_STOP = "emergency-stop"   # the wiki's run page says stop
BLOCKED = "blocked"              # the bot's account is blocked on the wiki
PHABRICATOR = "phabricator"      # Phabricator as a whole (down, partial answer)
WEEKLY_REPORT = "weekly-report"  # one ambassador's weekly report
RUN_REPORT = "run-report"        # the run report page itself
FAILED = "failed"                # the whole run failed (an exception, a job that cannot load)
OTHER = "other"
KINDS = (PAGE, TASK, WIKI, EMERGENCY_STOP, BLOCKED, PHABRICATOR, WEEKLY_REPORT, RUN_REPORT, FAILED, OTHER)

_UNSET = object()
_WIKI_CODE = r"[a-z][a-z0-9_-]*"
_WIKI = re.compile(rf"^wiki (?P<wiki>{_WIKI_CODE})(?P<rest>[:;, ].*|)$", re.S)
_PAGE = re.compile(r"^ page (?P<q>['\"])(?P<title>.*?)(?P=q)", re.S)
_EDITION = re.compile(r"^ edition (?P<id>\S+?):")
_TASK = re.compile(r"^(?P<task>T\d+)[:;, ]")
_WEEKLY = re.compile(r"^weekly report (?P<week>\S+) for (?P<amb>[^:]+):")
_NO_EDITS_ON = re.compile(rf"\bno (?:more )?edits on (?P<wiki>{_WIKI_CODE})\b")
_NUMBERS = re.compile(r"\d+")


class Problem(str):
    """One problem line with its wiki, target and kind (see the module docstring)."""

    wiki: str | None
    target: str | None
    kind: str

    def __new__(cls, text, *, wiki=_UNSET, target=_UNSET, kind=_UNSET):
        if isinstance(text, Problem) and wiki is target is kind is _UNSET:
            return text                      # parsed once: never again
        self = super().__new__(cls, str(text))
        parsed = parse(str(text)) if _UNSET in (wiki, target, kind) else {}
        self.wiki = parsed.get("wiki") if wiki is _UNSET else wiki
        self.target = parsed.get("target") if target is _UNSET else target
        self.kind = parsed.get("kind", OTHER) if kind is _UNSET else kind
        return self

    def __getnewargs__(self):               # pickle/copy: the text; the attributes follow in __dict__
        return (str(self),)

    @property
    def text(self) -> str:
        return str.__str__(self)

    def at(self, wiki: str | None) -> "Problem":
        """The same problem, placed on this wiki."""
        return Problem(self.text, wiki=wiki, target=self.target, kind=self.kind)

    def key(self) -> list:
        """What makes two problems the same one for a reader: counts, revisions and times left out.

        A problem whose text differs only in its numbers ("stopped after 3 of 10") is the
        same problem; the target (which may hold a task number or a page title) is kept whole.
        """
        return [self.wiki, self.target, self.kind, _NUMBERS.sub("#", self.text)]

    def log_fields(self) -> dict:
        """Its fields for a log record (bot/logs.py): the wiki, the target as `page` or `task`, the kind."""
        fields = {"wiki": self.wiki, "kind": self.kind}
        if self.kind == TASK:
            fields["task"] = self.target
        elif self.kind in (PAGE, RUN_REPORT):
            fields["page"] = self.target
        return fields

    def to_json(self) -> dict:
        return {"wiki": self.wiki, "target": self.target, "kind": self.kind, "text": self.text}

    @classmethod
    def from_json(cls, data) -> "Problem":
        if isinstance(data, str):
            return cls(data)
        return cls(data["text"], wiki=data.get("wiki"), target=data.get("target"), kind=data.get("kind", OTHER))

    def __repr__(self) -> str:
        return f"Problem({self.text!r}, wiki={self.wiki!r}, target={self.target!r}, kind={self.kind!r})"


def parse(text: str) -> dict:
    """wiki/target/kind from the prefixes jobs have always written (see the module docstring)."""
    found: dict = {"kind": OTHER}
    match = _WIKI.match(text)
    if match:
        found.update(wiki=match["wiki"], kind=WIKI)
        rest = match["rest"]
        page = _PAGE.match(rest)
        edition = _EDITION.match(rest)
        if page:
            found.update(target=page["title"], kind=PAGE)
        elif edition:
            found.update(target=f"edition {edition['id']}")
        elif rest.startswith(" run report"):
            found["kind"] = RUN_REPORT
    elif _TASK.match(text):
        found.update(target=_TASK.match(text)["task"], kind=TASK)
    elif text.startswith("Phabricator:") or text.startswith("Phabricator "):
        found["kind"] = PHABRICATOR
    elif _WEEKLY.match(text):
        found.update(target=_WEEKLY.match(text)["amb"].strip(), kind=WEEKLY_REPORT)
    lowered = text.lower()
    if "emergency stop" in lowered:
        found["kind"] = EMERGENCY_STOP
    elif "is blocked" in lowered or "until the block ends" in lowered:
        found["kind"] = BLOCKED
    no_edits = _NO_EDITS_ON.search(text)
    if no_edits and "wiki" not in found:
        found["wiki"] = no_edits["wiki"]
        if found["kind"] == OTHER:
            found["kind"] = BLOCKED if "block" in lowered else WIKI
    return found


class ProblemList(list):
    """A list that holds Problems only: strings appended by jobs are parsed on the way in."""

    def __init__(self, items=()):
        super().__init__(Problem(p) for p in items)

    def append(self, item) -> None:
        super().append(Problem(item))

    def insert(self, index, item) -> None:
        super().insert(index, Problem(item))

    def extend(self, items) -> None:
        super().extend(Problem(p) for p in items)

    def __iadd__(self, items):
        self.extend(items)
        return self

    def __setitem__(self, index, value):
        if isinstance(index, slice):
            super().__setitem__(index, [Problem(p) for p in value])
        else:
            super().__setitem__(index, Problem(value))
