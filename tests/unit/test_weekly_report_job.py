"""The weekly-report job against adapter doubles: what it counts, where it posts, and only once."""
from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.domain.weekly import Contribution
from bot.errors import ConfigError, TransientError, UncertainWriteError
from bot.jobs import weekly_report
from bot.jobs.base import JobContext
from bot.settings import parse_settings
from bot.store import MemoryStore
from tests.fakes import FakePhab, FakeWiki, FakeWikiSettings, task

PRAGUE = ZoneInfo("Europe/Prague")
NOW = int(datetime(2026, 11, 24, 8, 0, tzinfo=PRAGUE).timestamp())        # Tuesday of 2026-W48
MON = int(datetime(2026, 11, 16, 0, 0, tzinfo=PRAGUE).timestamp())        # 2026-W47 begins
REPORT_PAGE = "Wikipedista:Jana/Týdenní přehled"


def settings(ambassador=None, **extra):
    amb = {"id": "jana", "name": "Jana", "wikis": {"cs": "Jana"}, "phabricator": "jana", "task": "T50",
           **(ambassador or {})}
    return parse_settings({
        "bot": {"user_agent": "test/1 (test@example.org)", "state_url": "memory://"},
        "phabricator": {"url": "http://127.0.0.1:1/"},
        "wikis": {"cs": {"api_url": "http://127.0.0.1:2/w/api.php", "language": "cs",
                         "timezone": "Europe/Prague", "username": "TestBot"}},
        "reports": {"week": "last_complete", "ambassadors": [amb], **(extra.pop("reports", {}))},
        **extra,
    }, Path("test.yaml"))


class ContribWiki(FakeWiki):
    """FakeWiki that counts its usercontribs requests and can refuse a section=new."""

    def __init__(self, contribs=(), **kw):
        super().__init__(**kw)
        self.contribs = list(contribs)
        self.contrib_calls = []
        self.fail_section = None

    def user_contributions(self, users, start, end):
        self.contrib_calls.append((list(users), start, end))
        return super().user_contributions(users, start, end)

    def new_section(self, title, heading, text, summary, *, createonly=False):
        if self.fail_section:
            raise self.fail_section
        return super().new_section(title, heading, text, summary, createonly=createonly)


def row(id, title, *, author="PHID-USER-jana", public=True, status="open", created=0, closer=None, closed=None,
        modified=0, subscribers=("PHID-USER-jana",)):
    """A task as the weekly report asks about it: who made, closed and follows it."""
    return (task(id, title, status=status, policy="public" if public else "users", modified=modified,
                 author_phid=author, date_created=created, date_closed=closed), closer, set(subscribers))


class FakeConduit(FakePhab):
    """Jana's week on Phabricator: tasks from `row()`, comments as (task id, author, type, date, text)."""

    def __init__(self, tasks=(), xacts=()):
        super().__init__([t for t, _, _ in tasks], users={"PHID-USER-jana": "jana"}, now=NOW)
        for t, closer, subscribers in tasks:
            if closer:
                self.closers[t.id] = closer
            self.subscribers[t.id] = subscribers
        for task_id, author, kind, date, text in xacts:
            assert kind == "comment"
            self.add_comment(task_id, author, text, date)


@pytest.fixture
def world():
    contribs = [
        Contribution("Jana", 1, "Nápověda:Úvod", 12, MON + 3600, "/* Začínáme */ oprava", 120),
        Contribution("Jana", 2, "Nápověda:Úvod", 12, MON + 7200, "", -4),
        Contribution("Jana", 3, "Diskuse:Growth", 1, MON + 9000, "/* Mentoring */ odpověď", 300),
        Contribution("Jana", 4, "Loňský článek", 0, MON - 1, "", 5),            # Sunday 23:59:59 of W46
        Contribution("Jana", 5, "Příští týden", 0, MON + 7 * 86400, "", 5),    # Monday 00:00 of W48
        Contribution("Eva", 6, "Cizí", 0, MON + 10, "", 5),
    ]
    wiki = ContribWiki(contribs, settings=FakeWikiSettings(), pages={REPORT_PAGE: "Přehledy.\n"})
    phab = FakeConduit(
        tasks=[row(7, "Welcome survey [[x]]", created=MON + 100, modified=MON + 500),
               row(8, "Security hole", public=False, created=MON - 99999, modified=MON + 600),
               row(9, "Closed one", created=MON - 99999, closer="PHID-USER-jana", closed=MON + 700,
                   status="resolved", modified=MON + 700),
               row(10, "Old", created=MON - 99999, modified=MON - 50)],
        xacts=[(7, "PHID-USER-jana", "comment", MON + 200, "a"), (7, "PHID-USER-jana", "comment", MON + 300, "b"),
               (8, "PHID-USER-jana", "comment", MON + 400, "secret"), (8, "PHID-USER-eva", "comment", MON + 401, "x"),
               (7, "PHID-USER-jana", "comment", MON - 10, "last week")])
    ctx = JobContext(settings=settings(), store=MemoryStore(), phab=phab, wikis={"cs": wiki}, out=io.StringIO(),
                     clock=lambda: NOW)
    return ctx, wiki, phab


def test_report_on_the_management_task_lists_the_week_with_correct_counts(world):
    ctx, wiki, phab = world
    report = weekly_report.run(ctx)
    assert report.problems == [] and report.saved == [("phabricator", "T50", 0)]
    (task_id, text), = phab.comments
    assert task_id == 50 and "2026-W47" in text
    plain = text.replace("\u2060", "")
    assert "3 edits on 2 pages" in plain
    assert "Nápověda: 2 edits" in plain and "Articles" not in plain         # outside the week: not counted
    assert "Mentoring" in plain                                           # talk section from the summary
    assert "- Created: 1" in plain and "T7 Welcome survey" in plain
    assert "Commented on: 2 (3 comments)" in plain and "T7 Welcome survey [[x]]: 2 comments" in plain
    assert "T8" in plain and "Security" not in plain                      # private: number only, no title
    assert "- Closed: 1" in plain and "T9 Closed one" in plain
    assert text.rstrip().endswith("(ambassador-bot weekly-report jana 2026-W47)")
    # one usercontribs for the week, with the Prague week's bounds
    assert wiki.contrib_calls == [(["Jana"], "2026-11-15T23:00:00Z", "2026-11-22T22:59:59Z")]


def test_rerun_posts_nothing_and_makes_no_requests(world):
    ctx, wiki, phab = world
    weekly_report.run(ctx)
    calls, contrib_calls = len(phab.calls), len(wiki.contrib_calls)
    report = weekly_report.run(ctx)
    assert report.saved == [] and report.unchanged == 1 and len(phab.comments) == 1
    assert len(phab.calls) == calls and len(wiki.contrib_calls) == contrib_calls


def test_crash_after_comment_before_record_does_not_post_twice(world):
    ctx, wiki, phab = world
    phab.fail_comment = UncertainWriteError("Conduit maniphest.edit: no answer within the timeout")
    report = weekly_report.run(ctx)
    assert report.saved == [] and "next run looks at T50" in report.problems[0]
    report = weekly_report.run(ctx)
    assert report.saved == [] and report.unchanged == 1 and phab.comments == []
    assert ctx.store.has_post("weekly:jana:2026-W47:T50")


def test_wiki_page_report_leaves_out_private_tasks_and_links_pages(world):
    ctx, wiki, phab = world
    ctx.settings = settings({"page": {"wiki": "cs", "title": REPORT_PAGE}})
    report = weekly_report.run(ctx)
    assert report.problems == []
    (title, heading, text, summary), = wiki.sections
    assert title == REPORT_PAGE and "47. týden 2026" in heading and "Jana" in summary
    assert "[[:Nápověda:Úvod|Nápověda&#58;Úvod]]" in text and "[[phab:T7|T7]]" in text
    assert "T8" not in text and "Security" not in text
    assert "<!-- ambassador-bot:key=weekly:jana:2026-W47 -->" in text
    # a second run: the store has both keys; even without the store, the marker on the page stops it
    ctx.store = MemoryStore()
    ctx.store.put("phab-user-phids", "jana", "PHID-USER-jana")
    phab.comments.clear()
    weekly_report.run(ctx)
    assert len(wiki.sections) == 1


def test_dry_run_prints_and_posts_nothing(world):
    ctx, wiki, phab = world
    ctx.dry_run = True
    report = weekly_report.run(ctx)
    assert report.would_save == [("phabricator", "T50")] and phab.comments == [] and not ctx.store.posts()
    assert "weekly report 2026-W47 for jana -> T50 (dry run)" in ctx.out.getvalue()


def test_unreadable_contributions_mean_no_report(world):
    ctx, wiki, phab = world
    def boom(*a, **k):
        raise TransientError("wiki cs: cannot reach the server")
    wiki.user_contributions = boom
    report = weekly_report.run(ctx)
    assert report.saved == [] and phab.comments == [] and any("could not be read" in p for p in report.problems)


def test_no_section_no_work():
    ctx = JobContext(settings=parse_settings({
        "bot": {"user_agent": "test/1 (test@example.org)", "state_url": "memory://"},
        "phabricator": {"url": "http://127.0.0.1:1/"},
        "wikis": {"cs": {"api_url": "http://127.0.0.1:2/w/api.php", "language": "cs",
                         "timezone": "Europe/Prague", "username": "TestBot"}}}, Path("t.yaml")),
        store=MemoryStore(), phab=None, wikis={})
    assert weekly_report.run(ctx).summary() == "weekly-report: 0 saved, 0 unchanged"


@pytest.mark.parametrize("amb, problem", [
    ({"id": "Jana!"}, "reports.ambassadors[0].id: must be"),
    ({"task": "X1"}, "reports.ambassadors[0].task: must be a task number"),
    ({"task": None}, "reports.ambassadors[0].task: must be a task number"),
    ({"wikis": {"de": "X"}}, "reports.ambassadors[0].wikis.de: unknown key"),
    ({"page": {"wiki": "ko", "title": "X"}}, "reports.ambassadors[0].page.wiki: unknown wiki 'ko'"),
    ({"language": "de"}, "reports.ambassadors[0].language: must be one of"),
    ({"phabricator": "@jana"}, "without '@'"),
])
def test_config_errors_name_the_key(amb, problem):
    with pytest.raises(ConfigError) as err:
        settings(amb)
    assert problem in str(err.value) and str(err.value).startswith("test.yaml: ")


def test_config_needs_a_destination_and_unique_ids():
    base = {"bot": {"user_agent": "test/1 (test@example.org)"}, "phabricator": {"url": "http://x/"},
            "wikis": {"cs": {"api_url": "http://x/api.php", "language": "cs", "timezone": "UTC", "username": "B"}}}
    with pytest.raises(ConfigError, match="needs a destination"):
        parse_settings({**base, "reports": {"ambassadors": [{"id": "a", "wikis": {"cs": "A"}}]}}, Path("c.yaml"))
    with pytest.raises(ConfigError, match="duplicate ambassador id 'a'"):
        parse_settings({**base, "reports": {"ambassadors": [{"id": "a", "wikis": {"cs": "A"}, "task": 1}] * 2}},
                       Path("c.yaml"))
    with pytest.raises(ConfigError, match=r"templates.cs.newsleter: no file template for 'newsleter'"):
        parse_settings({**base, "templates": {"cs": {"newsleter": "X"}}}, Path("c.yaml"))
    s = parse_settings({**base, "reports": {"language": "ko", "ambassadors": [{"id": "a", "wikis": {"cs": "A"}, "task": "T1"}]},
                        "templates": {"cs": {"status_table": "U:B/t", "weekly_report.remarkup": "U:B/w"}}}, Path("c.yaml"))
    assert s.reports.ambassadors[0].language == "ko" and s.reports.ambassadors[0].task == 1
    t = s.templates
    assert t.page("cs", "status_table") == "U:B/t" and t.page("cs", "weekly_report", "remarkup") == "U:B/w"
    assert t.page("cs", "weekly_report") is None and t.page("ko", "status_table") is None


def test_example_config_loads(monkeypatch):
    from bot.settings import load_settings
    s = load_settings(Path(__file__).resolve().parents[2] / "config" / "reports-example.yaml")
    assert s.reports.ambassadors and s.templates.pages
