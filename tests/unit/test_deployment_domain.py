"""The deployment rule: code-review comments -> merged changes; siteinfo -> deployed code; a table of cases."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.domain.deployment import (CORE, LIVE, PENDING, UNKNOWN, DeployedCode, MergedChange, branch_at_or_after,
                                   change_state, deployed_code, merged_changes, parse_comment, task_state,
                                   version_key)
from bot.domain.tasks import CommentVersion, Transaction

GERRITBOT = "PHID-USER-gerritbot"


def ts(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc).timestamp())


# Shapes of Wikimedia's gerritbot comments, as they appear in Phabricator (raw remarkup).
MERGED_NEW = """Change #1084512 **merged** by jenkins-bot:

[mediawiki/extensions/GrowthExperiments@master] Newcomer homepage: fix the mentor card

https://gerrit.wikimedia.org/r/1084512"""

MERGED_OLD = """Change 962233 merged by jenkins-bot:
[mediawiki/extensions/GrowthExperiments@master] Mentor dashboard: do not count bots

https://gerrit.wikimedia.org/r/962233"""

BACKPORT = """Change #1085001 **merged** by jenkins-bot:

[mediawiki/extensions/GrowthExperiments@wmf/1.44.0-wmf.5] Newcomer homepage: fix the mentor card

https://gerrit.wikimedia.org/r/1085001"""

UPLOADED = """Change #1084512 had a related patch set uploaded (by Kosta Harlan; author: Kosta Harlan):

[mediawiki/extensions/GrowthExperiments@master] Newcomer homepage: fix the mentor card

https://gerrit.wikimedia.org/r/1084512"""

ABANDONED = """Change #1084000 **abandoned** by Kosta Harlan:

[mediawiki/extensions/GrowthExperiments@master] WIP: mentor card

https://gerrit.wikimedia.org/r/1084000"""

MERGED_BY_PERSON = """Change #1090001 **merged** by Urbanecm:

[mediawiki/skins/Vector@master] Fix the sticky header

Reason:
Self-merge of a revert

https://gerrit.wikimedia.org/r/1090001"""

CORE_MERGE = """Change #1091000 **merged** by jenkins-bot:

[mediawiki/core@master] Parser: keep the table caption

https://gerrit.wikimedia.org/r/1091000"""


def xaction(text, when, author=GERRITBOT, kind="comment"):
    return Transaction(phid=f"PHID-XACT-TASK-{when}", type=kind, author_phid=author, date_created=when,
                       versions=(CommentVersion(text),))


def test_parse_new_and_old_merge_notices():
    assert parse_comment(MERGED_NEW, 100) == [MergedChange(1084512, "mediawiki/extensions/GrowthExperiments", "master",
                                                           100, "Newcomer homepage: fix the mentor card")]
    assert parse_comment(MERGED_OLD, 5) == [MergedChange(962233, "mediawiki/extensions/GrowthExperiments", "master",
                                                         5, "Mentor dashboard: do not count bots")]
    [bp] = parse_comment(BACKPORT, 7)
    assert bp.branch == "wmf/1.44.0-wmf.5" and bp.is_backport
    [person] = parse_comment(MERGED_BY_PERSON, 9)
    assert person.repository == "mediawiki/skins/Vector" and person.subject == "Fix the sticky header"


@pytest.mark.parametrize("text", [UPLOADED, ABANDONED, "Change 123 merged by jenkins-bot: (no repo line)",
                                  "I think [mediawiki/core@master] is merged", ""])
def test_not_a_merge(text):
    assert parse_comment(text, 1) == []


def test_merged_changes_from_a_task_history():
    rows = [
        xaction(UPLOADED, ts("2026-11-03 09:00")),
        xaction(MERGED_NEW, ts("2026-11-04 10:00")),
        xaction(BACKPORT, ts("2026-11-05 12:00")),
        xaction(MERGED_NEW, ts("2026-11-06 10:00")),                     # repeated notice: first date wins
        xaction(CORE_MERGE, ts("2026-11-04 11:00"), author="PHID-USER-alice"),   # pasted by a person
        Transaction(phid="PHID-XACT-TASK-status", type="status", author_phid="PHID-USER-alice", date_created=1),
    ]
    everyone = merged_changes(reversed(rows))
    assert [(c.number, c.merged_at) for c in everyone] == [(1084512, ts("2026-11-04 10:00")),
                                                          (1091000, ts("2026-11-04 11:00")),
                                                          (1085001, ts("2026-11-05 12:00"))]
    assert [c.number for c in merged_changes(rows, authors=[GERRITBOT])] == [1084512, 1085001]


def test_deployed_code_from_siteinfo():
    general = {"generator": "MediaWiki 1.44.0-wmf.5", "wikiid": "cswiki", "git-hash": "abc", "git-branch": "wmf/1.44.0-wmf.5"}
    extensions = [
        {"type": "other", "name": "GrowthExperiments", "vcs-system": "git", "vcs-version": "f00",
         "vcs-url": "https://gerrit.wikimedia.org/r/plugins/gitiles/mediawiki/extensions/GrowthExperiments/+/f00",
         "vcs-date": "2026-11-04T12:00:00Z"},
        {"type": "parserhook", "name": "SyntaxHighlight", "vcs-url": "https://gerrit.wikimedia.org/g/mediawiki/extensions/SyntaxHighlight_GeSHi/+/abc",
         "vcs-date": "2026-11-01T00:00:00Z"},
        {"type": "skin", "name": "Vector"},                               # no vcs data
        {"type": "other", "name": "Echo", "vcs-date": "garbage"},
    ]
    code = deployed_code(general, extensions)
    assert code.wiki_id == "cswiki" and code.version == "1.44.0-wmf.5"
    assert code.repositories == {CORE: None, "mediawiki/extensions/GrowthExperiments": ts("2026-11-04 12:00"),
                                 "mediawiki/extensions/SyntaxHighlight_GeSHi": ts("2026-11-01 00:00"),
                                 "mediawiki/skins/Vector": None, "mediawiki/extensions/Echo": None}
    assert DeployedCode.from_json(code.to_json()) == code
    assert deployed_code({"generator": "MediaWiki 1.43.5"}, [], fallback_id="kowiki").wiki_id == "kowiki"


def test_versions_are_ordered():
    assert version_key("1.44.0-wmf.5") < version_key("1.44.0-wmf.6") < version_key("1.45.0-wmf.1")
    assert version_key("1.44.0-wmf.10") > version_key("1.44.0-wmf.9")
    assert version_key("garbage") is None and version_key(None) is None
    assert branch_at_or_after("1.45.0-wmf.1", "wmf/1.44.0-wmf.5") is True
    assert branch_at_or_after("1.44.0-wmf.4", "wmf/1.44.0-wmf.5") is False
    assert branch_at_or_after("1.44.1", "wmf/1.44.0-wmf.5") is None      # release of the same version: undecided
    assert branch_at_or_after("1.45.0", "wmf/1.44.0-wmf.5") is True
    assert branch_at_or_after("1.43.5", "wmf/1.44.0-wmf.5") is False
    assert branch_at_or_after("1.44.0-wmf.5", "wmf/branch_cut_pretest") is None


GE = "mediawiki/extensions/GrowthExperiments"
MERGE = ts("2026-11-04 10:00")
BRANCH = "wmf/1.44.0-wmf.5"


def wiki(version="1.44.0-wmf.5", **repos):
    return DeployedCode("cswiki", version, {CORE: None, **{k.replace("__", "/"): v for k, v in repos.items()}})


def master(repo=GE, at=MERGE, n=1):
    return MergedChange(n, repo, "master", at)


def backport(branch=BRANCH, at=MERGE + 3600, repo=GE, n=2):
    return MergedChange(n, repo, branch, at)


GE_KEY = "mediawiki__extensions__GrowthExperiments"

CASES = [
    # (what, changes, deployed code, expected)
    ("master, wiki's commit after the merge", [master()], wiki(**{GE_KEY: MERGE + 86400}), LIVE),
    ("master, wiki's commit exactly at the merge", [master()], wiki(**{GE_KEY: MERGE}), LIVE),
    ("master, wiki's commit before the merge", [master()], wiki(**{GE_KEY: MERGE - 1}), PENDING),
    ("master, no vcs data for the repository", [master()], wiki(**{GE_KEY: None}), UNKNOWN),
    ("master, repository not on the wiki", [master()], wiki(), UNKNOWN),
    ("master, core (siteinfo has no core date)", [master(repo=CORE)], wiki(), UNKNOWN),
    ("no merged change found", [], wiki(**{GE_KEY: MERGE + 1}), UNKNOWN),
    ("REL branch merge only", [MergedChange(3, GE, "REL1_43", MERGE)], wiki(**{GE_KEY: MERGE + 1}), UNKNOWN),
    ("backport, wiki on a later branch", [backport()], wiki("1.44.0-wmf.6"), LIVE),
    ("backport, wiki on an earlier branch", [backport()], wiki("1.44.0-wmf.4", **{GE_KEY: MERGE + 86400}), PENDING),
    ("backport, wiki on that branch, no vcs data", [backport()], wiki(), LIVE),
    ("backport, wiki on that branch, commit after it", [backport()], wiki(**{GE_KEY: MERGE + 7200}), LIVE),
    ("backport, wiki on that branch, commit before it", [backport()], wiki(**{GE_KEY: MERGE}), PENDING),
    ("backport, wiki version unparsable", [backport()], wiki("unknown-version"), UNKNOWN),
    ("backport, release of the same version", [backport()], wiki("1.44.1"), UNKNOWN),
    ("master pending but backport live", [master(), backport()], wiki(**{GE_KEY: MERGE - 10}), PENDING),
    ("master pending but backport live (later branch)", [master(), backport()],
     wiki("1.44.0-wmf.6", **{GE_KEY: MERGE - 10}), LIVE),
    ("master live, backport branch not reached", [master(), backport(branch="wmf/1.44.0-wmf.9")],
     wiki(**{GE_KEY: MERGE + 10}), LIVE),
    ("two repositories, one pending", [master(), master(repo="mediawiki/skins/Vector", n=5)],
     wiki(**{GE_KEY: MERGE + 10, "mediawiki__skins__Vector": MERGE - 10}), PENDING),
    ("two repositories, one unknown", [master(), master(repo="mediawiki/skins/Vector", n=5)],
     wiki(**{GE_KEY: MERGE + 10, "mediawiki__skins__Vector": None}), UNKNOWN),
    ("two repositories, both live", [master(), master(repo="mediawiki/skins/Vector", n=5)],
     wiki(**{GE_KEY: MERGE + 10, "mediawiki__skins__Vector": MERGE + 10}), LIVE),
    ("two master changes, the later not deployed", [master(), master(at=MERGE + 500, n=7)],
     wiki(**{GE_KEY: MERGE + 10}), PENDING),
    ("one repository unknown, the other pending", [master(), master(repo=CORE, n=8)],
     wiki(**{GE_KEY: MERGE - 10}), PENDING),
]


@pytest.mark.parametrize("what,changes,code,expected", CASES, ids=[c[0] for c in CASES])
def test_task_state_table(what, changes, code, expected):
    assert task_state(changes, code) == expected


def test_change_state_of_one_change():
    assert change_state(master(), wiki(**{GE_KEY: MERGE})) == LIVE
    assert change_state(backport(branch="wmf/next"), wiki()) == UNKNOWN


BACKPORT_CASES = [
    ("a master follow-up after a live backport is not covered by it",
     [master(), backport(), master(at=MERGE + 86400, n=9)], wiki(**{GE_KEY: MERGE + 7200}), PENDING),
    ("the same fix backported to two branches, the wiki on one of them",
     [backport(), backport(branch="wmf/1.44.0-wmf.6", n=3)], wiki(**{GE_KEY: MERGE + 7200}), LIVE),
    ("a backport merged before the master change does not cover it",
     [backport(at=MERGE - 100), master()], wiki(**{GE_KEY: MERGE - 10}), PENDING),
    ("master unknown, backport covers it", [master(), backport()], wiki("1.44.0-wmf.6", **{GE_KEY: None}), LIVE),
    ("master unknown, backport pending", [master(), backport()], wiki("1.44.0-wmf.4", **{GE_KEY: None}), UNKNOWN),
]


@pytest.mark.parametrize("what,changes,code,expected", BACKPORT_CASES, ids=[c[0] for c in BACKPORT_CASES])
def test_backports_cover_earlier_master_changes_only(what, changes, code, expected):
    assert task_state(changes, code) == expected
