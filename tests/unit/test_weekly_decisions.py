"""The weekly report job's decisions, pure (bot/domain/weekly.py): the week so far, names, markers, counts."""
from __future__ import annotations

import pytest

from bot.domain.weekly import (pending_count, plan_items, report_marker, section_digest, section_unchanged,
                               user_key, week_bounds, week_until)
from bot.errors import ConfigError
from tests.unit.test_weekly_report_job import settings


def test_week_until_cuts_a_running_week_at_the_run_and_keeps_a_past_one_whole():
    week = week_bounds("2026-W47", "Europe/Prague")
    assert week_until(week, week.end) == week
    assert week_until(week, week.end + 3600) == week
    cut = week_until(week, week.start + 100.5)
    assert (cut.start, cut.end, cut.label, cut.tz) == (week.start, week.start + 101, week.label, week.tz)
    # A run before the week began (a clock behind) gives an empty week, never a negative one.
    early = week_until(week, week.start - 10)
    assert early.start == early.end == week.start and not early.contains(week.start)


def test_user_key_spells_a_name_as_mediawiki_does():
    assert user_key("jana_nováková") == "Jana nováková"
    assert user_key("  Ďábel_X ") == "Ďábel X"
    assert user_key("") == ""


def test_report_markers_differ_by_markup_and_name_the_week():
    wiki = report_marker("jana", "2026-W47", "wiki")
    remarkup = report_marker("jana", "2026-W47", "remarkup")
    assert wiki.startswith("<!--") and wiki.endswith("-->") and "weekly:jana:2026-W47" in wiki
    assert "<!--" not in remarkup and "jana 2026-W47" in remarkup
    assert report_marker("jana", "2026-W48", "wiki") != wiki


def test_plan_items_drop_list_markers_and_empty_lines():
    plans = {"next": "* Uvítat nováčky\n\n#: [[Nápověda:Úvod]]\n  ;  \n", "last": None, "page": "x"}
    out = plan_items(plans)
    assert out["next_items"] == ["Uvítat nováčky", "[[Nápověda:Úvod]]"] and out["last_items"] == []
    assert out["page"] == "x" and plan_items(None) is None


def test_pending_count_adds_every_kind_of_waiting_item():
    pending = {"editions": [{}, {}], "failed": [{}], "problems": [{}], "held": [{"count": 3}, {"count": 2}],
               "parked": 4}
    assert pending_count(pending) == 2 + 1 + 1 + 5 + 4
    assert pending_count({"editions": [], "failed": [], "problems": [], "held": [], "parked": 0}) == 0


def test_a_section_is_unchanged_when_the_page_would_not_change_or_holds_the_last_written_report():
    digest = section_digest("Týden 47", "text")
    assert digest != section_digest("Týden 47", "text 2") and digest != section_digest("Týden 4", "7\ntext")
    assert section_unchanged("page", "page", None, digest)
    assert section_unchanged("page edited by a human", "page with the report", digest, digest)
    assert not section_unchanged("page", "page with a new report", section_digest("Týden 47", "old"), digest)
    assert not section_unchanged("page", "new", None, digest)


# -- an ambassador's plans and time in the config (bot/settings/reports.py) --------------------------

@pytest.mark.parametrize("time_spent, shown, budget", [
    (True, True, None), (False, False, None), ({}, True, None), (None, True, None), ({"budget_hours": 7.5}, True, 7.5),
])
def test_config_time_spent_forms(time_spent, shown, budget):
    amb = settings({"time_spent": time_spent}).reports.ambassadors[0]
    assert (amb.time_spent, amb.budget_hours) == (shown, budget)


def test_config_plans_take_wiki_and_title_from_the_report_page():
    amb = settings({"page": {"wiki": "cs", "title": "Wikipedista:Jana/Týden"}, "plans": None}).reports.ambassadors[0]
    assert amb.plans == ("cs", "Wikipedista:Jana/Týden", None)
    amb = settings({"plans": {"wiki": "cs", "title": "Wikipedista:Jana/Plány", "section": " Plány "}}
                   ).reports.ambassadors[0]
    assert amb.plans == ("cs", "Wikipedista:Jana/Plány", "Plány")


@pytest.mark.parametrize("plans, problem", [
    ({"wiki": "cs"}, "reports.ambassadors[0].plans: needs title"),
    ({"wiki": "de", "title": "X"}, "reports.ambassadors[0].plans.wiki: unknown wiki 'de'"),
    ({"title": "X", "week": 1}, "reports.ambassadors[0].plans"),
])
def test_config_plans_errors(plans, problem):
    with pytest.raises(ConfigError) as err:
        settings({"plans": plans})
    assert problem in str(err.value)
