"""Weekly check-in report end to end: edits on the local cs wiki, comments in the Conduit sandbox."""
from __future__ import annotations

import io
import time

import pytest

from bot.jobs import weekly_report
from bot.jobs.registry import build_context
from bot.settings import parse_settings
from bot.store import MemoryStore
from tests.integration.helpers import config_data, set_secrets

pytestmark = pytest.mark.integration
REPORT_PAGE = "Wikipedista:OtherUser/Týdenní přehled"


@pytest.fixture
def world(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch):
    cs = wikis.wikis["cs"]
    admin, human = wikis.api("cs", cs.admin), wikis.api("cs", cs.human)
    admin.edit("Diskuse:Růst nováčků", "Úvod diskuse.", "založení")
    human.edit("Růst nováčků", "První verze článku.", "nový článek")
    human.edit("Růst nováčků", "První verze článku, rozšířená.", "rozšíření")
    human.edit("Diskuse:Růst nováčků", "Co myslíte? ~~~~", "", section="new", sectiontitle="Mentoring")

    manager_task = conduit.create_task("Weekly check-ins: OtherUser", author="bob")
    own = conduit.create_task("Vylepšit uvítání nováčků", author="alice")
    other = conduit.create_task("Mentor dashboard", author="bob")
    closing = conduit.create_task("Opravit odkaz", author="bob")
    secret = conduit.create_task("Security: token leak", author="bob", view_policy="users")
    conduit.update_task(other, actor="alice", comment="Souhlasím.")
    conduit.update_task(other, actor="alice", comment="Ještě jedna poznámka.")
    conduit.update_task(own, actor="alice", comment="Podrobnosti.")
    conduit.update_task(secret, actor="alice", comment="Reprodukováno.")
    conduit.update_task(closing, actor="alice", status="resolved")

    data = config_data(wikis, conduit, tmp_path, pywikibot_dir, codes=("cs",), tables=[])
    data["reports"] = {"ambassadors": [{"id": "other", "name": "Other User", "wikis": {"cs": "OtherUser"},
                                        "phabricator": "alice", "task": f"T{manager_task}",
                                        "page": {"wiki": "cs", "title": REPORT_PAGE}}]}
    set_secrets(monkeypatch, wikis, conduit, codes=("cs",))
    ctx = build_context(parse_settings(data, tmp_path / "test.yaml"))
    ctx.out = io.StringIO()
    # A week from now, "last week" is this week: everything above falls inside it.
    ctx.clock = lambda: time.time() + 7 * 86400
    ids = {"manager": manager_task, "own": own, "other": other, "closing": closing, "secret": secret}
    return ctx, conduit, human, ids


def test_weekly_report_counts_and_is_posted_once(world):
    ctx, conduit, human, ids = world
    report = weekly_report.run(ctx)
    assert report.problems == [] and len(report.saved) == 2

    comment, = [c for c in conduit.comments(ids["manager"]) if c["author"] != "bob"]
    text = comment["text"].replace("\u2060", "")
    assert "3 edits on 2 pages; 1 created" in text
    assert "| Růst nováčků ]]: 2 edits, new page" in text and "| Diskuse:Růst nováčků ]]: 1 edit" in text
    assert "Mentoring" in text                                             # the discussion's section
    assert "- Created: 1" in text and f"T{ids['own']} Vylepšit uvítání nováčků" in text
    assert "- Commented on: 3 (4 comments)" in text
    assert f"T{ids['other']} Mentor dashboard: 2 comments" in text
    assert f"T{ids['secret']}" in text and "Security" not in text           # number only: Phabricator checks access
    assert "- Closed: 1" in text and f"T{ids['closing']} Opravit odkaz" in text

    page = human.page_text(REPORT_PAGE)
    assert "3 edits on 2 pages" in page and "[[:Růst nováčků|Růst nováčků]]: 2 edits, new page" in page
    assert "* Commented on: 2 (3 comments)" in page
    assert f"T{ids['secret']}" not in page and "Security" not in page      # nothing private on a wiki
    assert "<!-- ambassador-bot:key=weekly:other:" in page

    # Rerun: nothing new anywhere, and no request either.
    revs = len(human.revisions(REPORT_PAGE))
    requests = ctx.phab.request_count + ctx.wikis["cs"].request_count
    report = weekly_report.run(ctx)
    assert report.saved == [] and report.unchanged == 1
    assert len(conduit.comments(ids["manager"])) == 1 and len(human.revisions(REPORT_PAGE)) == revs
    assert ctx.phab.request_count + ctx.wikis["cs"].request_count == requests


def test_lost_record_does_not_post_twice(world):
    """A crash after posting but before recording: the markers on the targets stop a second post."""
    ctx, conduit, human, ids = world
    weekly_report.run(ctx)
    revs = len(human.revisions(REPORT_PAGE))
    ctx.store = MemoryStore()
    report = weekly_report.run(ctx)
    assert report.saved == [] and report.unchanged == 2 and report.problems == []
    assert len(conduit.comments(ids["manager"])) == 1 and len(human.revisions(REPORT_PAGE)) == revs


def test_dry_run_prints_the_report(world):
    ctx, conduit, human, ids = world
    ctx.dry_run = True
    report = weekly_report.run(ctx)
    assert len(report.would_save) == 2 and conduit.comments(ids["manager"]) == []
    assert human.page_text(REPORT_PAGE) is None
    assert "3 edits on 2 pages" in ctx.out.getvalue().replace("\u2060", "")
