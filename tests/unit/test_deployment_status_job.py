"""status-sync's deployment column against adapter doubles: costs, memory, no flapping."""
from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest

from bot.jobs import status_sync
from bot.jobs.base import JobContext
from bot.settings import parse_settings
from bot.store import MemoryStore
from bot.errors import TransientError
from tests.fakes import FakePhab, FakeWiki, task

BEGIN = "<!-- ambassador-bot:status growth-current begin -->"
END = "<!-- ambassador-bot:status growth-current end -->"
PAGE = "Wikipedie:Growth/Stav"
MERGED = 1_795_000_000          # 2026-11-18 ~10:13 UTC
GE = "mediawiki/extensions/GrowthExperiments"


def notice(number, repo=GE, branch="master", subject="Fix"):
    return (f"Change #{number} **merged** by jenkins-bot:\n\n[{repo}@{branch}] {subject}\n\n"
            f"https://gerrit.wikimedia.org/r/{number}")


class Phab(FakePhab):
    def comment_as_gerritbot(self, task_id, text, when):
        self.add_comment(task_id, "PHID-USER-gerritbot", text, when)


class Wiki(FakeWiki):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.generator = "MediaWiki 1.44.0-wmf.5"
        self.ge_date = "2026-11-17T00:00:00Z"       # before the merge
        self.siteinfo_calls = 0
        self.fail_siteinfo = False

    def deployed_code_info(self):
        self.siteinfo_calls += 1
        if self.fail_siteinfo:
            raise TransientError("wiki cs: HTTP 503")
        return ({"generator": self.generator, "wikiid": "cswiki"},
                [{"type": "other", "name": "GrowthExperiments", "vcs-system": "git", "vcs-version": "abc",
                  "vcs-url": f"https://gerrit.wikimedia.org/g/{GE}/+/abc", "vcs-date": self.ge_date}])


def settings(deployment=True):
    table = {"id": "growth-current", "query": {"projects": ["growth-team"], "statuses": ["open", "resolved"]},
             "pages": {"cs": PAGE}, "deployment": deployment}
    return parse_settings({
        "bot": {"user_agent": "test/1 (test@example.org)", "state_url": "memory://"},
        "phabricator": {"url": "http://127.0.0.1:1/"},
        "wikis": {"cs": {"api_url": "http://127.0.0.1:2/api.php", "language": "cs", "timezone": "Europe/Prague",
                         "username": "TestBot"}},
        "status_tables": [table],
    }, Path("test.yaml"))


@pytest.fixture
def world():
    phab = Phab([task(1, "Otevřený úkol"), task(2, "Opravená chyba", status="resolved", date_closed=MERGED + 60),
                 task(3, "Vyřešeno bez kódu", status="resolved", date_closed=MERGED)])
    phab.comment_as_gerritbot(2, notice(1084512), MERGED)
    wiki = Wiki(pages={PAGE: f"Úvod.\n{BEGIN}\n{END}\nPatička."})
    clock = [MERGED + 3600.0]
    ctx = JobContext(settings=settings(), store=MemoryStore(), phab=phab, wikis={"cs": wiki}, out=io.StringIO(),
                     clock=lambda: clock[0])
    return ctx, phab, wiki, clock


def rows(wiki):
    return {line.split("]]")[0].split("|")[-1]: line.rsplit("||", 1)[-1].strip()
            for line in wiki.text(PAGE).splitlines() if line.startswith("| [[phab:")}


def histories(phab):
    # A task's whole history, as the deployment column reads it (the "last change" asks for the newest few only).
    return [c for c in phab.calls if c[0] == "transaction.search" and "limit" not in c[1]]


def test_pending_then_live_since_first_seen_and_quiet_cycles_cost_nothing_more(world):
    ctx, phab, wiki, clock = world
    status_sync.run(ctx)
    assert rows(wiki) == {"T1": "–", "T2": "čeká na nasazení", "T3": "neznámo"}
    assert "!! Nasazení" in wiki.text(PAGE)
    assert len(histories(phab)) == 2 and wiki.siteinfo_calls == 1      # T2 and T3 once; siteinfo once

    saves = len(wiki.saves)
    status_sync.run(ctx)                                                # quiet: nothing refetched, no edit
    assert len(histories(phab)) == 2 and wiki.siteinfo_calls == 2 and len(wiki.saves) == saves

    wiki.ge_date = "2026-11-19T08:00:00Z"                               # the train reached cswiki
    clock[0] = MERGED + 2 * 86400                                       # 2026-11-20
    report = status_sync.run(ctx)
    assert report.problems == []
    assert rows(wiki)["T2"] == "nasazeno na cswiki od 20.&nbsp;11."
    assert len(wiki.saves) == saves + 1

    text = wiki.text(PAGE)
    clock[0] += 86400
    status_sync.run(ctx)                                                # live is remembered: no siteinfo now
    assert wiki.text(PAGE) == text and wiki.siteinfo_calls == 3 and len(histories(phab)) == 2


def test_a_table_without_the_option_costs_nothing_and_has_no_column(world):
    ctx, phab, wiki, clock = world
    ctx.settings = settings(deployment=False)
    status_sync.run(ctx)
    assert "Nasazení" not in wiki.text(PAGE) and "colspan" not in wiki.text(PAGE)
    assert histories(phab) == [] and wiki.siteinfo_calls == 0


def test_a_backport_and_a_task_reopened_and_resolved_again(world):
    ctx, phab, wiki, clock = world
    status_sync.run(ctx)
    phab.comment_as_gerritbot(2, notice(1085001, branch="wmf/1.44.0-wmf.5"), MERGED + 600)
    phab.change(2)                                                      # the notice moved dateModified
    wiki.ge_date = "2026-11-18T12:00:00Z"
    status_sync.run(ctx)
    assert rows(wiki)["T2"].startswith("nasazeno na cswiki od") and len(histories(phab)) == 3

    phab.tasks[2] = replace(phab.tasks[2], status="open", date_closed=None, date_modified=phab.tasks[2].date_modified + 5)
    status_sync.run(ctx)
    assert rows(wiki)["T2"] == "–"
    phab.comment_as_gerritbot(2, notice(1090000, subject="Follow-up"), MERGED + 86400)
    phab.tasks[2] = replace(phab.tasks[2], status="resolved", date_closed=MERGED + 86400 + 60,
                            date_modified=phab.tasks[2].date_modified + 5)
    status_sync.run(ctx)
    assert rows(wiki)["T2"] == "čeká na nasazení"                       # the follow-up is not on cswiki yet


def test_siteinfo_failure_uses_the_last_one_read_and_says_so(world):
    ctx, phab, wiki, clock = world
    status_sync.run(ctx)
    text = wiki.text(PAGE)
    wiki.fail_siteinfo = True
    report = status_sync.run(ctx)
    assert any("siteinfo not read" in str(p) for p in report.problems)
    assert wiki.text(PAGE) == text                                      # no flapping to "neznámo"


def test_dry_run_remembers_nothing(world):
    ctx, phab, wiki, clock = world
    wiki.ge_date = "2026-11-19T08:00:00Z"
    dry = JobContext(settings=ctx.settings, store=ctx.store, phab=phab, wikis={"cs": wiki}, out=io.StringIO(),
                     clock=ctx.clock, dry_run=True)
    status_sync.run(dry)
    assert "nasazeno na cswiki" in dry.out.getvalue()
    assert ctx.store.items("deploy-live") == {} and ctx.store.items("deploy-changes") == {}


def test_settings_deployment_keys():
    from bot.settings.deployment import DeploymentSettings
    from bot.errors import ConfigError

    assert settings().status_tables[0].deployment is True
    assert settings(deployment=False).status_tables[0].deployment is False
    with pytest.raises(ConfigError, match="deployment"):
        settings(deployment="yes")
    data = {"bot": {"user_agent": "test/1 (test@example.org)", "state_url": "memory://"},
            "phabricator": {"url": "http://127.0.0.1:1/"},
            "wikis": {"cs": {"api_url": "http://127.0.0.1:2/api.php", "language": "cs", "timezone": "Europe/Prague",
                             "username": "TestBot"}},
            "deployment": {"newsletters": True}}
    assert parse_settings(data, Path("t.yaml")).deployment == DeploymentSettings(newsletters=True)
    assert parse_settings({**data, "deployment": {}}, Path("t.yaml")).deployment.newsletters is False
    with pytest.raises(ConfigError, match="deployment.newsletter"):
        parse_settings({**data, "deployment": {"newsletter": True}}, Path("t.yaml"))


def test_newsletter_split_done_moves_merged_but_not_live_fixes_to_their_own_section(world):
    from bot.domain.newsletter import Section
    from bot.jobs.deployment_status import WAITING, split_done
    from bot.settings.deployment import DeploymentSettings

    ctx, phab, wiki, clock = world
    tasks = [phab.tasks[2], phab.tasks[3]]
    sections = [Section("resolved", tuple(tasks), 2), Section("progress", (phab.tasks[1],), 1)]
    assert split_done(ctx, "cs", sections, []) == sections                # off: nothing asked
    assert histories(phab) == [] and wiki.siteinfo_calls == 0

    ctx.settings = replace(ctx.settings, deployment=DeploymentSettings(newsletters=True))
    split = split_done(ctx, "cs", sections, [])
    assert [(s.kind, [t.id for t in s.tasks], s.total) for s in split] == [
        ("resolved", [3], 1), (WAITING, [2], 1), ("progress", [1], 1)]
    wiki.ge_date = "2026-11-19T08:00:00Z"
    split = split_done(ctx, "cs", sections, [])
    assert [(s.kind, [t.id for t in s.tasks]) for s in split] == [("resolved", [2, 3]), ("progress", [1])]
    status_sync.run(ctx)                                                  # the table agrees, same "since"
    assert rows(wiki)["T2"].startswith("nasazeno na cswiki od")


def test_review_bots_only_their_notices_count(world):
    from bot.settings.deployment import DeploymentSettings

    ctx, phab, wiki, clock = world
    phab.users["PHID-USER-gerritbot"] = "gerritbot"
    phab.histories["T3"] = [{"phid": "PHID-XACT-TASK-mallory", "type": "comment", "authorPHID": "PHID-USER-mallory",
                             "dateCreated": MERGED,
                             "comments": [{"content": {"raw": notice(1, repo=GE)}}]}]
    wiki.ge_date = "2026-11-19T08:00:00Z"
    ctx.settings = replace(ctx.settings, deployment=DeploymentSettings(review_bots=("gerritbot",)))
    status_sync.run(ctx)
    assert rows(wiki)["T2"].startswith("nasazeno na cswiki od") and rows(wiki)["T3"] == "neznámo"
    status_sync.run(ctx)
    assert len([c for c in phab.calls if c[0] == "user.search"]) == 1          # resolved once, remembered

    ctx.settings = replace(ctx.settings, deployment=DeploymentSettings(review_bots=("gerritbot", "nobody")))
    report = status_sync.run(ctx)
    assert [str(p) for p in report.problems if "review_bots" in str(p)] and len(
        [p for p in report.problems if "review_bots" in str(p)]) == 1
    assert rows(wiki)["T3"] == "neznámo"


def test_anyones_notice_counts_without_review_bots(world):
    ctx, phab, wiki, clock = world
    phab.histories["T3"] = [{"phid": "PHID-XACT-TASK-mallory", "type": "comment", "authorPHID": "PHID-USER-mallory",
                             "dateCreated": MERGED,
                             "comments": [{"content": {"raw": notice(1, repo=GE)}}]}]
    wiki.ge_date = "2026-11-19T08:00:00Z"
    status_sync.run(ctx)
    assert rows(wiki)["T3"].startswith("nasazeno na cswiki od")
