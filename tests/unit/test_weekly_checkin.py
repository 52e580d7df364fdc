"""Issue 14: the week so far, pending items, plans, activity sessions, newcomer pulse, languages."""
from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain.weekly import (Contribution, newcomer_pulse, parse_post_at, post_time, replace_marked_section,
                               report_week, section_text, sessions, time_spent, week_bounds)
from bot.errors import ConfigError
from bot.jobs import weekly_report
from bot.jobs.base import JobContext
from bot.render import messages
from bot.render.messages import week_title
from bot.store import MemoryStore
from tests.unit.test_weekly_report_job import ContribWiki, FakeConduit, settings
from tests.fakes import FakeWikiSettings

PRAGUE = ZoneInfo("Europe/Prague")
SUNDAY = int(datetime(2026, 12, 6, 8, 0, tzinfo=PRAGUE).timestamp())       # Sunday of 2026-W49
W49 = int(datetime(2026, 11, 30, 0, 0, tzinfo=PRAGUE).timestamp())
PAGE = "Wikipedista:Jana/Týdenní přehled"
PLANS = "Wikipedista:Jana/Plány"


# -- activity sessions (Geiger & Halfaker 2013) --------------------------------------------------

def test_edits_less_than_an_hour_apart_are_one_session():
    s, = sessions([1000, 1000 + 3599])
    assert s["edits"] == 2 and s["start"] == 1000 - 430 and s["seconds"] == 3599 + 430


def test_edits_exactly_an_hour_apart_are_two_sessions():
    a, b = sessions([1000, 1000 + 3600])
    assert (a["edits"], b["edits"]) == (1, 1) and a["seconds"] == b["seconds"] == 430


def test_a_chain_of_gaps_under_an_hour_is_one_session_and_order_does_not_matter():
    s, = sessions([5000 + 2 * 3599, 5000, 5000 + 3599])
    assert s["first"] == 5000 and s["last"] == 5000 + 2 * 3599 and s["seconds"] == 2 * 3599 + 430


def test_time_spent_sums_sessions_and_keeps_the_budget():
    t = time_spent([0, 600, 10_000], 8)
    assert t["sessions"] == 2 and t["seconds"] == (600 + 430) + 430 and t["budget_hours"] == 8
    assert time_spent([], None) == {"sessions": 0, "seconds": 0, "hours": 0.0, "minutes": 0, "budget_hours": None}


# -- weeks and labels ---------------------------------------------------------------------------------

def test_labels_by_the_wikis_conventions():
    assert week_title("2026-W49", "cs") == "49. týden 2026"
    assert week_title("2026-W49", "ko") == "2026년 49주차"
    assert week_title("2026-W49", "en") == "week 49 of 2026"
    assert messages.msg("ko", "wr-heading", week_title("2026-W49", "ko"), "X") == "2026년 49주차 주간 보고: X"
    assert week_title("2026-W49", "ar") == "الأسبوع ٤٩ من ٢٠٢٦"
    assert week_title("2026-W49", "vi") == "tuần 49 năm 2026"


def test_sunday_reports_the_current_week_so_far_or_the_last_complete_one():
    assert report_week(SUNDAY, "Europe/Prague").label == "2026-W49"
    assert report_week(SUNDAY, "Europe/Prague", "last_complete").label == "2026-W48"


def test_post_time_is_local_weekday_and_time():
    week = week_bounds("2026-W49", "Europe/Prague")
    assert post_time(week, parse_post_at("fri 12:00")) == int(datetime(2026, 12, 4, 12, 0, tzinfo=PRAGUE).timestamp())
    assert post_time(week, None) == week.start
    with pytest.raises(ValueError):
        parse_post_at("friday noon")


# -- sections ----------------------------------------------------------------------------------------

def test_plans_section_is_read_up_to_the_next_heading_of_its_level():
    text = "Úvod\n== Plány ==\n* a\n=== Detail ===\n* b\n== Jiné ==\nx"
    assert section_text(text, "Plány") == "* a\n=== Detail ===\n* b"
    assert section_text(text, "Chybí") is None and section_text("* c\n", None) == "* c"


def test_marked_section_is_replaced_and_a_reply_under_it_stays():
    marker = "<!-- ambassador-bot:key=weekly:jana:2026-W49 -->"
    text = f"Úvod\n== Old ==\n\nold body\n{marker}\nOdpověď.\n== Další ==\nx"
    new = replace_marked_section(text, marker, "New", "new body")
    assert new == f"Úvod\n== New ==\n\nnew body\n{marker}\nOdpověď.\n== Další ==\nx"
    assert replace_marked_section("no marker", marker, "H", "b") is None


# -- newcomer pulse -----------------------------------------------------------------------------------

def test_newcomer_pulse_counts_each_week_and_reverts():
    week, before = week_bounds("2026-W49", "UTC"), week_bounds("2026-W48", "UTC")
    accounts = [{"user": "A", "timestamp": week.start + 10}, {"user": "B", "timestamp": week.start + 20},
                {"user": "C", "timestamp": before.start + 5}]
    contribs = [{"user": "A", "timestamp": week.start + 30, "tags": ["mw-reverted"]},
                {"user": "A", "timestamp": week.start + 40, "tags": []},
                {"user": "C", "timestamp": before.start + 50, "tags": ["mw-reverted", "x"]}]
    questions = [{"timestamp": week.start + 60}, {"timestamp": before.start + 1}, {"timestamp": before.start - 1}]
    p = newcomer_pulse(accounts, contribs, questions, week, before)
    assert p["this"] == {"accounts": 2, "editors": 1, "edits": 2, "reverted": 1, "questions": 1}
    assert p["before"] == {"accounts": 1, "editors": 1, "edits": 1, "reverted": 1, "questions": 1}


# -- config ------------------------------------------------------------------------------------------

def test_config_week_post_at_plans_time_newcomers():
    s = settings({"page": {"wiki": "cs", "title": PAGE}, "plans": {"section": "Plány"},
                  "time_spent": {"budget_hours": 8}, "post_at": "thu 09:30"},
                 reports={"week": "so_far", "post_at": "fri 12:00", "newcomers": {"cs": {}}})
    r = s.reports
    a = r.ambassadors[0]
    assert r.week == "so_far" and r.post_at == (4, 12, 0) and a.post_at == (3, 9, 30)
    assert a.plans == ("cs", PAGE, "Plány") and a.time_spent and a.budget_hours == 8
    assert a.language == "cs" and r.language == "en"          # the wiki page's language, the manager's
    assert "help-panel-question" in r.newcomers["cs"]


@pytest.mark.parametrize("amb, reports, problem", [
    ({}, {"week": "now"}, "reports.week: must be one of so_far, last_complete"),
    ({}, {"post_at": "friday"}, "reports.post_at: must be a weekday and a time"),
    ({"plans": {"section": "P"}}, {}, "reports.ambassadors[0].plans: needs wiki and title"),
    ({"time_spent": {"budget_hours": 500}}, {}, "budget_hours: must be a number of hours"),
    ({}, {"newcomers": {"de": {}}}, "reports.newcomers.de: unknown key"),
])
def test_config_errors(amb, reports, problem):
    with pytest.raises(ConfigError) as err:
        settings(amb, reports=reports)
    assert problem in str(err.value)


# -- the job: in place, pending, plans, time, languages --------------------------------------------

class PageWiki(ContribWiki):
    def save(self, page, text, summary, minor=False, merge_ok=True):
        self.edits_in_place = getattr(self, "edits_in_place", 0) + 1
        return self.edit(page.title, text, user=self.settings.username)


def _world(clock, **amb):
    contribs = [Contribution("Jana", 1, "Nápověda:Úvod", 12, W49 + 3600, "", 10),
                Contribution("Jana", 2, "Nápověda:Úvod", 12, W49 + 3600 + 3599, "", 10),
                Contribution("Jana", 3, "Diskuse:Growth", 1, W49 + 3600 + 3599 + 3600, "", 10)]
    wiki = PageWiki(contribs, settings=FakeWikiSettings(),
                    pages={PAGE: "Přehledy.\n", PLANS: "== Plány ==\n* Uvítat nováčky\n"})
    s = settings({"page": {"wiki": "cs", "title": PAGE}, "plans": {"title": PLANS, "section": "Plány"},
                  "time_spent": {"budget_hours": 8}, **amb}, reports={"week": "so_far"})
    store = MemoryStore()
    store.put("phab-user-phids", "jana", "PHID-USER-jana")
    store.put("newsletter-failed", "nl:2026-12:cs:abc", {"title": "Diskuse s wikipedistou:X", "error": "protected"})
    store.put("fb-parked", "T77", 1.0)
    store.put("fb-queue", "k1", {"wiki": "cs", "task": 77})
    store.put("run-report", "cs|feedback", {"job": "feedback", "held": 2, "problems": ["wiki cs: page 'X' gone"]})
    ctx = JobContext(settings=s, store=store, phab=FakeConduit(), wikis={"cs": wiki}, out=io.StringIO(),
                     clock=lambda: clock[0])
    return ctx, wiki


def test_week_so_far_is_one_section_edited_in_place_and_closed_once_the_week_ends():
    clock = [SUNDAY]
    ctx, wiki = _world(clock)
    report = weekly_report.run(ctx)
    assert report.problems == [] and len(report.saved) == 2
    (title, heading, text, _), = wiki.sections
    assert heading == "Týdenní přehled – 49. týden 2026: Jana" and ", zatím" in text
    assert "asi 1.2 h; relace aktivity: 2; rozpočet: 8.0 h" in text          # (3599 + 430) + 430 s
    assert "* Uvítat nováčky" in text and "Nedoručená zpráva (2026-12)" in text
    assert "pozdrženo nebo přeskočeno při posledním běhu úlohy feedback: 2" in text
    assert "zpětná vazba čekající na úkol, který robot nevidí: 1" in text and "T77" not in text
    comment = ctx.phab.comments[0][1].replace("\u2060", "")
    assert "week 49 of 2026" in comment and "Plans for next week" in comment    # the manager's English
    assert "T77" in comment                                                  # number only, on Phabricator
    # Same week, new plans: the section is edited, not repeated; the comment is not posted again.
    wiki.edit(PLANS, "== Plány ==\n* Školení mentorů\n")
    report = weekly_report.run(ctx)
    assert len(wiki.sections) == 1 and wiki.edits_in_place == 1 and len(ctx.phab.comments) == 1
    assert wiki.text(PAGE).count("Týdenní přehled – 49. týden") == 1 and "Školení mentorů" in wiki.text(PAGE)
    # Nothing new: nothing saved.
    report = weekly_report.run(ctx)
    assert report.saved == [] and wiki.edits_in_place == 1
    # Monday: W49's section is closed once (no "zatím"), W50 begins with W49's plans as last week's.
    clock[0] = SUNDAY + 86400
    report = weekly_report.run(ctx)
    assert ctx.store.has_post(f"weekly:jana:2026-W49:cs:{PAGE}")
    w49 = wiki.text(PAGE).split("== Týdenní přehled – 49. týden 2026: Jana ==", 1)[1].split("\n== ", 1)[0]
    assert ", zatím" not in w49 and wiki.edits_in_place == 2
    (_, heading, text, _) = wiki.sections[-1]
    assert "50. týden 2026" in heading and "Plány na tento týden (z minulého týdne):\n* Školení mentorů" in text
    weekly_report.run(ctx)
    assert wiki.edits_in_place == 2                                                     # closed weeks stay closed


def test_nothing_is_posted_before_post_at():
    clock = [int(datetime(2026, 12, 3, 8, 0, tzinfo=PRAGUE).timestamp())]   # Thursday
    ctx, wiki = _world(clock, post_at="fri 12:00")
    assert weekly_report.run(ctx).saved == [] and wiki.sections == [] and ctx.phab.comments == []
    clock[0] = int(datetime(2026, 12, 4, 12, 0, tzinfo=PRAGUE).timestamp())
    assert len(weekly_report.run(ctx).saved) == 2


def test_pending_helpers_read_other_jobs_store():
    store = MemoryStore()
    store.put("newsletter-failed", "nl:2026-12:ko:x", {"title": "T", "error": "e"})
    store.put("mention-parked", "T5", 1.0)
    store.put("mention-queue", "m1", {"wiki": "ko", "task": 5})
    store.put("mention-queue", "m2", {"wiki": "ko", "task": 6})
    assert weekly_report.failed_deliveries(store, "ko") == [{"edition": "2026-12", "title": "T", "error": "e"}]
    assert weekly_report.failed_deliveries(store, "cs") == []
    assert weekly_report.parked_feedback(store) == ({"ko": 1}, [{"id": 5, "wiki": "ko", "kind": "mention", "items": 1}])
    store.put("run-report", "ko|x", {"job": "x", "held": 0, "problems": []})
    assert weekly_report.run_report_open(store, "ko") == []
