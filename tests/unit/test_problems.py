"""Typed problems (issue 12): parsed once, placed on the wiki they concern, and a run report page
edited only when a problem is new or cleared, not whenever a count changes."""
from __future__ import annotations

import copy
import io
import json
import logging
import pickle
from pathlib import Path

import pytest

from bot.domain.problems import (BLOCKED, EMERGENCY_STOP, FAILED, OTHER, PAGE, PHABRICATOR, TASK, WEEKLY_REPORT,
                                 WIKI, Problem, ProblemList)
from bot.jobs import status_report
from bot.jobs.base import JobContext, JobReport
from bot.jobs.status_report import RunOutcome, locate
from bot.settings import parse_settings
from bot.store import MemoryStore
from tests.fakes import FakePhab, FakeWiki, FakeWikiSettings

PAGES = {"cs": "Wikipedista:TestBot/Běh", "ko": "사용자:TestBot/실행"}


@pytest.mark.parametrize("text, wiki, target, kind", [
    ("wiki cs: cannot read: timeout; will retry next cycle", "cs", None, WIKI),
    ("wiki cs page 'Wikipedie:Growth/Stav': protectedpage; table t not written", "cs", "Wikipedie:Growth/Stav", PAGE),
    ('wiki ko page "위키백과:성장": nobots', "ko", "위키백과:성장", PAGE),
    ("wiki cs: emergency stop: Wikipedista:Bot/Run does not say 'run'; no edits on cs", "cs", None, EMERGENCY_STOP),
    ("wiki cs edition 2026-12: conflict; tried again on the next run", "cs", "edition 2026-12", WIKI),
    ("T42: no such task, or the bot may not see it; digest kept", None, "T42", TASK),
    ("Phabricator: HTTP 503; mentions wait for the next cycle", None, None, PHABRICATOR),
    ("weekly report 2026-W49 for jana: contributions on cs could not be read; not posted", None, "jana",
     WEEKLY_REPORT),
    ("cs.wikipedia: TestBot is blocked by Admin until infinity (spam); no edits on cs until the block ends",
     "cs", None, BLOCKED),
    ("something nobody prefixed", None, None, OTHER),
    ("wikipedia is down", None, None, OTHER),      # "wiki" + letters is not a wiki code prefix
])
def test_legacy_strings_are_parsed_once_into_wiki_target_kind(text, wiki, target, kind):
    problem = Problem(text)
    assert (problem.wiki, problem.target, problem.kind) == (wiki, target, kind)
    assert problem == text and problem.text == text and isinstance(problem, str)
    assert Problem(problem) is problem                      # never parsed again


def test_given_attributes_win_and_survive_pickle_copy_and_json():
    problem = Problem("the text says wiki ko", wiki="cs", target="P", kind=PAGE)
    assert (problem.wiki, problem.target, problem.kind) == ("cs", "P", PAGE)
    for clone in (pickle.loads(pickle.dumps(problem)), copy.deepcopy(problem),
                  Problem.from_json(json.loads(json.dumps(problem.to_json())))):
        assert clone == problem and (clone.wiki, clone.target, clone.kind) == ("cs", "P", PAGE)
    assert json.dumps([problem]) == json.dumps(["the text says wiki ko"])   # a str to every serializer


def test_job_reports_keep_taking_plain_strings():
    report = JobReport("j", problems=["wiki cs: a"])
    report.problems.append("T1: b")
    report.problems += ["Phabricator: c"]
    report.problems.extend(["wiki ko page 'X': d"])
    report.problems[:0] = ["wiki cs: emergency stop: e"]
    assert isinstance(report.problems, ProblemList) and all(isinstance(p, Problem) for p in report.problems)
    assert [p.kind for p in report.problems] == [EMERGENCY_STOP, WIKI, TASK, PHABRICATOR, PAGE]
    assert report.problems == ["wiki cs: emergency stop: e", "wiki cs: a", "T1: b", "Phabricator: c",
                               "wiki ko page 'X': d"]


def settings(status_page=True, ambassadors=True):
    wikis = {code: {"api_url": f"http://127.0.0.1:2/{code}/api.php", "language": code,
                    "timezone": "Europe/Prague", "username": "TestBot"} for code in ("cs", "ko")}
    data = {"bot": {"user_agent": "t/1 (t@example.org)", "state_url": "memory://"},
            "phabricator": {"url": "http://127.0.0.1:1/"}, "wikis": wikis}
    if status_page:
        data["status_page"] = {"pages": PAGES}
    if ambassadors:
        data["reports"] = {"ambassadors": [{"id": "minji", "wikis": {"ko": "민지"}, "task": 7},
                                           {"id": "jana", "wikis": {"cs": "Jana"}, "task": 8}]}
    return parse_settings(data, Path("bot.yaml"))


def test_locate_places_each_problem_where_it_belongs():
    s = settings()
    assert locate("weekly report 2026-W49 for minji: HTTP 500", s).wiki == "ko"     # the ambassador's home wiki
    assert locate("weekly report 2026-W49 for jana: HTTP 500", s).wiki == "cs"
    assert locate("wiki ko page 'P': x", s).wiki == "ko"                             # its own wiki
    assert locate("Phabricator: down", s).wiki is None                              # every wiki of the run
    assert locate("T5: gone", s).wiki == "cs"                                       # the home wiki
    assert locate("T5: gone", s, entry_wiki="ko").wiki == "ko"                      # a per-wiki run's own
    assert RunOutcome.failure("e", "j", None, "boom", 0).problems[0].kind == FAILED


def make_ctx(s):
    wikis = {"cs": FakeWiki(), "ko": FakeWiki(FakeWikiSettings("ko", "ko"))}
    now = [1_795_476_800.0]
    ctx = JobContext(settings=s, store=MemoryStore(), phab=FakePhab(), wikis=wikis, out=io.StringIO(),
                     clock=lambda: now[0])
    for code, wiki in wikis.items():
        wiki.edit(PAGES[code], "")   # the pages exist (the fake saves existing pages only)
    return ctx, wikis, now


def weekly_outcome(ctx, problems, saved=0, unchanged=2):
    report = JobReport("weekly-report", saved=[("ko", "P", 1)] * saved, unchanged=unchanged, problems=problems)
    return RunOutcome.from_report("weekly-report", "weekly-report", None, report, ctx.clock(), settings=ctx.settings)


def test_weekly_report_problem_shows_only_on_its_ambassadors_wiki():
    ctx, wikis, _ = make_ctx(settings())
    problem = "weekly report 2026-W49 for minji: contributions on ko could not be read; not posted"
    status_report.update(ctx, weekly_outcome(ctx, [problem]))
    assert "minji" in wikis["ko"].text(PAGES["ko"]) and "s problémy" not in wikis["cs"].text(PAGES["cs"])
    assert "minji" not in wikis["cs"].text(PAGES["cs"]) and "weekly-report" in wikis["cs"].text(PAGES["cs"])
    assert status_report.stored_runs(ctx.store, "cs")[0]["result"] == "ok"
    assert status_report.stored_runs(ctx.store, "ko")[0]["result"] == "problem"


def test_problem_of_no_wiki_goes_to_the_home_wiki_only():
    ctx, wikis, _ = make_ctx(settings(ambassadors=False))
    status_report.update(ctx, weekly_outcome(ctx, ["weekly report 2026-W49 for nobody: broken"]))
    assert "nobody" in wikis["cs"].text(PAGES["cs"]) and "nobody" not in wikis["ko"].text(PAGES["ko"])


def test_page_is_edited_for_a_new_or_cleared_problem_not_for_counts():
    ctx, wikis, now = make_ctx(settings())
    page = wikis["ko"].pages[PAGES["ko"]]
    status_report.update(ctx, weekly_outcome(ctx, [], saved=1))
    first = len(page)
    for minute in range(1, 9):                    # 8 runs in 4 minutes, every count different
        now[0] += 30
        report = status_report.update(ctx, weekly_outcome(ctx, [], saved=minute % 3, unchanged=minute))
        assert not report.saved
    assert len(page) == first
    problem = "weekly report 2026-W49 for minji: HTTP 503 after 3 tries"
    assert status_report.update(ctx, weekly_outcome(ctx, [problem])).saved        # new problem: edited
    now[0] += 30
    same = "weekly report 2026-W49 for minji: HTTP 503 after 4 tries"              # the same problem, new numbers
    assert not status_report.update(ctx, weekly_outcome(ctx, [same], unchanged=9)).saved
    now[0] += 30
    assert status_report.update(ctx, weekly_outcome(ctx, [])).saved                # cleared: edited
    assert "minji" not in wikis["ko"].text(PAGES["ko"])
    now[0] += 25 * 3600                                                             # times a day old: refreshed
    assert status_report.update(ctx, weekly_outcome(ctx, [])).saved


def test_scheduler_logs_problems_by_their_attributes(tmp_path, caplog):
    from bot.scheduler import Service

    s = settings()
    ctx, wikis, _ = make_ctx(s)
    service = Service.__new__(Service)
    service.settings, service.ctx, service.clock = s, ctx, ctx.clock
    service.entries = {}
    entry = type("Entry", (), {"id": "weekly-report", "job": "weekly-report", "wiki": None})()
    problems = ["weekly report 2026-W49 for minji: x", "wiki cs page 'P': protectedpage",
                "wiki ko: emergency stop: R does not say 'run'", "T3: gone"]
    service.context_for = lambda e: ctx
    caplog.set_level(logging.WARNING, logger="bot.scheduler")
    outcome = service._run(entry, lambda name: (lambda c: JobReport("weekly-report", problems=list(problems))))
    records = [r for r in caplog.records if r.getMessage() in problems]
    assert [(r.wiki, getattr(r, "page", None), getattr(r, "task", None), r.outcome) for r in records] == [
        ("ko", None, None, "problem"), ("cs", "P", None, "problem"), ("ko", None, None, "stopped"),
        ("cs", None, "T3", "problem")]
    assert [p.wiki for p in outcome.problems] == ["ko", "cs", "ko", "cs"]
