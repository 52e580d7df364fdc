"""Is a resolved task's fix live on a wiki? Decided from public data only.

Two sources, both public:

* the task's history: Wikimedia's code-review bot (gerritbot) comments on a task for
  every change that mentions it; a merge reads

      Change #1084512 **merged** by jenkins-bot:

      [mediawiki/extensions/GrowthExperiments@master] Newcomer homepage: fix the mentor card

      https://gerrit.wikimedia.org/r/1084512

  (older comments say ``Change 1084512 merged by jenkins-bot:``, without ``#`` and bold).
  The merge time is the transaction's date: gerritbot posts within seconds of the merge.
* the wiki: ``meta=siteinfo`` ``siprop=general`` names the MediaWiki version it runs
  (``generator``: ``MediaWiki 1.44.0-wmf.5``) and ``siprop=extensions`` gives, per
  extension installed from git, the deployed commit (``vcs-version``), where it comes from
  (``vcs-url``) and its commit date (``vcs-date``).

The rule (docs/deployment.md):

* a change merged to ``master`` of a repository is live on a wiki once the wiki runs code
  of that repository whose commit date is at or after the merge time;
* a change merged to a ``wmf/X`` branch (a backport) is live once the wiki runs branch X or
  a later one (from ``generator``); when the wiki runs X itself and the repository's
  commit date there is older than the backport's merge, it is not live yet;
* anything the data does not decide is ``unknown``: no merged change found, the
  repository not on the wiki, no ``vcs-date`` for it (``mediawiki/core`` never has one in
  siteinfo), a branch name or version that does not parse.

A task is live when every repository it touched is live (each master change there is live,
or covered by a live backport merged after it), pending when one of them is certainly not
live yet, unknown otherwise. Pure functions: no I/O here.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Iterable

from bot.domain.tasks import Transaction

LIVE = "live"
PENDING = "pending"
UNKNOWN = "unknown"

CORE = "mediawiki/core"

# "Change 123 merged by jenkins-bot:" / "Change #123 **merged** by jenkins-bot:", then the
# "[repo@branch] subject" line (a blank line may come between them).
_MERGED = re.compile(
    r"^\s*Change\s+#?(?P<number>\d+)\s+(?:\*\*)?merged(?:\*\*)?\s+by\s+(?P<by>[^\n:]+?):?\s*\n"
    r"(?:\s*\n)*"
    r"\s*\[(?P<repo>[A-Za-z0-9_./-]+)@(?P<branch>[^\]\s]+)\]\s*(?P<subject>[^\n]*)",
    re.MULTILINE)
_WMF_BRANCH = re.compile(r"^wmf/(?P<version>\d+\.\d+\.\d+-wmf\.\d+)$")
_VERSION = re.compile(r"(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<patch>\d+))?(?:-wmf\.(?P<wmf>\d+))?")
# gitiles / GitInfo viewer URLs: .../r/plugins/gitiles/<repo>/+/<sha>, .../g/<repo>/+/<sha>, .../r/<repo>
_VCS_URL_REPO = re.compile(r"(?:/r/plugins/gitiles/|/g/|/r/(?:p/)?)(?P<repo>mediawiki/[^+?#]+?)(?:\.git)?(?:/\+|/?$)")


@dataclass(frozen=True)
class MergedChange:
    number: int
    repository: str
    branch: str
    merged_at: int          # epoch seconds: the date of the comment's transaction
    subject: str = ""

    @property
    def is_backport(self) -> bool:
        return self.branch.startswith("wmf/")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "MergedChange":
        return cls(**data)


def parse_comment(text: str, when: int) -> list[MergedChange]:
    """Every merge a code-review bot comment announces (usually one)."""
    return [MergedChange(int(m["number"]), m["repo"].strip("/"), m["branch"], int(when), m["subject"].strip())
            for m in _MERGED.finditer(text or "")]


def merged_changes(transactions: Iterable[Transaction], *, authors: Iterable[str] = ()) -> list[MergedChange]:
    """Merged changes named in a task's history (Conduit's `transaction.search`).

    `authors`, when given, limits the comments read to those PHIDs (the code-review bot's
    account): anyone can paste a merge notice into a comment. A change announced twice
    (an edited comment, a repeated notice) counts once, at its first date.
    """
    only = set(authors)
    seen: dict[tuple[int, str, str], MergedChange] = {}
    for row in transactions:
        if only and row.author_phid not in only:
            continue
        for raw in row.texts:
            for change in parse_comment(raw, row.date_created):
                key = (change.number, change.repository, change.branch)
                if key not in seen or change.merged_at < seen[key].merged_at:
                    seen[key] = change
    return sorted(seen.values(), key=lambda c: (c.merged_at, c.number, c.repository, c.branch))


# -- the wiki side ---------------------------------------------------------------------------

@dataclass(frozen=True)
class DeployedCode:
    """What one wiki runs, from `meta=siteinfo` (general + extensions)."""

    wiki_id: str                         # e.g. "cswiki"
    version: str | None                  # "1.44.0-wmf.5", "1.43.5"
    repositories: dict[str, int | None]  # repository -> commit date (epoch), None when unknown

    def to_json(self) -> dict:
        return {"wiki_id": self.wiki_id, "version": self.version, "repositories": dict(self.repositories)}

    @classmethod
    def from_json(cls, data: dict) -> "DeployedCode":
        return cls(data["wiki_id"], data.get("version"), dict(data.get("repositories", {})))


def deployed_code(general: dict, extensions: Iterable[dict], *, fallback_id: str = "") -> DeployedCode:
    """Read siteinfo's general and extensions parts.

    An extension's repository comes from its `vcs-url` when that names one
    (gerrit/gitiles), else from its name and type (`mediawiki/skins/<name>` for skins,
    `mediawiki/extensions/<name>` otherwise).
    """
    version = None
    m = re.match(r"MediaWiki\s+(\S+)", str(general.get("generator") or ""))
    if m:
        version = m.group(1)
    repos: dict[str, int | None] = {CORE: None}   # core reports a git hash at most, never a date
    for ext in extensions:
        repo = _repository_of(ext)
        if repo:
            repos[repo] = _iso_epoch(ext.get("vcs-date"))
    return DeployedCode(str(general.get("wikiid") or fallback_id), version, repos)


def _repository_of(ext: dict) -> str | None:
    m = _VCS_URL_REPO.search(str(ext.get("vcs-url") or ""))
    if m:
        return m["repo"].strip("/")
    name = str(ext.get("name") or "").strip()
    if not name:
        return None
    kind = "skins" if ext.get("type") == "skin" else "extensions"
    return f"mediawiki/{kind}/{name.replace(' ', '')}"


def _iso_epoch(value) -> int | None:
    if not value:
        return None
    try:
        return int(datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())
    except ValueError:
        return None


def version_key(version: str | None) -> tuple[int, int, int, int] | None:
    """Order MediaWiki versions: 1.44.0-wmf.5 < 1.44.0-wmf.6 < 1.45.0-wmf.1.

    A release (1.44.0, 1.44.1) gets wmf number -1: its relation to the wmf branches of the
    same version is not known (the release branch is cut from master at some point), so
    `branch_at_or_after` treats that case as undecided.
    """
    m = _VERSION.fullmatch(version or "") if version else None
    if not m:
        return None
    return (int(m["major"]), int(m["minor"]), int(m["patch"] or 0), int(m["wmf"]) if m["wmf"] else -1)


def branch_at_or_after(running: str | None, branch: str) -> bool | None:
    """Does a wiki running `running` run wmf branch `branch` or a later one? None: undecided."""
    m = _WMF_BRANCH.match(branch)
    have, want = version_key(running), version_key(m["version"]) if m else None
    if have is None or want is None:
        return None
    if have[3] == -1:      # a release: later only when it is a later major/minor version
        if have[:2] > want[:2]:
            return True
        return False if have[:2] < want[:2] else None
    return have >= want


# -- the rule ----------------------------------------------------------------------------------

def change_state(change: MergedChange, code: DeployedCode) -> str:
    """LIVE, PENDING or UNKNOWN for one merged change on one wiki."""
    if change.is_backport:
        verdict = branch_at_or_after(code.version, change.branch)
        if verdict is None:
            return UNKNOWN
        if not verdict:
            return PENDING
        m = _WMF_BRANCH.match(change.branch)
        if code.version == m["version"]:
            # On the very branch: live unless the repository's commit is known to be older.
            date = code.repositories.get(change.repository)
            if date is not None and date < change.merged_at:
                return PENDING
        return LIVE
    if change.branch != "master":
        return UNKNOWN        # REL1_xx and other branches: not what Wikimedia's wikis run
    if change.repository not in code.repositories:
        return UNKNOWN
    date = code.repositories[change.repository]
    if date is None:
        return UNKNOWN
    return LIVE if date >= change.merged_at else PENDING


def task_state(changes: Iterable[MergedChange], code: DeployedCode) -> str:
    """Every repository touched must be live; one certainly not live makes the task pending."""
    by_repo: dict[str, list[MergedChange]] = {}
    for change in changes:
        by_repo.setdefault(change.repository, []).append(change)
    if not by_repo:
        return UNKNOWN
    states = [_repository_state(group, code) for group in by_repo.values()]
    if PENDING in states:
        return PENDING
    return LIVE if all(s == LIVE for s in states) else UNKNOWN


def _repository_state(changes: list[MergedChange], code: DeployedCode) -> str:
    """A repository is live when each master change is live itself or covered by a live backport
    merged at or after it (a backport carries the master changes before it, not later ones);
    with backports only, when one of them is live (the same fix backported to several branches)."""
    backports = [(c, change_state(c, code)) for c in changes if c.is_backport]
    masters = [c for c in changes if not c.is_backport]
    if not masters:
        return _any([s for _, s in backports])
    states = []
    for m in masters:
        covering = [s for b, s in backports if b.merged_at >= m.merged_at]
        states.append(_any([change_state(m, code), *covering]))
    return _all(states)


def _any(states: list[str]) -> str:
    if LIVE in states:
        return LIVE
    return PENDING if states and all(s == PENDING for s in states) else UNKNOWN


def _all(states: list[str]) -> str:
    if PENDING in states:
        return PENDING
    return LIVE if all(s == LIVE for s in states) else UNKNOWN
