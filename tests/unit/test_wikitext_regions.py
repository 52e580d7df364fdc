from __future__ import annotations

import pytest

from bot.domain.status import plan_table_edit, select_rows
from bot.domain.wikitext import RegionError, bot_may_edit, find_region, replace_region
from bot.render.environment import Renderer
from tests.fakes import task

B = "<!-- ambassador-bot:status t begin -->"
E = "<!-- ambassador-bot:status t end -->"


def test_replace_touches_only_the_region():
    text = f"před\n{B}\nstaré\n{E}\npo"
    assert replace_region(text, "status", "t", "nové") == f"před\n{B}\nnové\n{E}\npo"


@pytest.mark.parametrize("text,problem", [
    ("nic", "no 'status t' markers"),
    (f"{B}\n", "found 1 and 0"),
    (f"{B}{E}{B}{E}", "found 2 and 2"),
    (f"{E}\n{B}", "comes before"),
])
def test_broken_markers_are_errors(text, problem):
    with pytest.raises(RegionError, match=problem):
        find_region(text, "status", "t")


def test_marker_whitespace_is_tolerated():
    text = "<!--ambassador-bot:status   t begin-->x<!-- ambassador-bot:status t end -->"
    assert find_region(text, "status", "t").body == "x"


@pytest.mark.parametrize("text,allowed", [
    ("plain", True), ("{{nobots}}", False), ("{{bots}}", True), ("{{bots|deny=all}}", False),
    ("{{bots|deny=TestBot}}", False), ("{{bots|deny=OtherBot}}", True), ("{{bots|allow=none}}", False),
    ("{{bots|allow=TestBot}}", True), ("{{Nobots|OtherBot}}", True), ("{{nobots|TestBot}}", False),
])
def test_bot_exclusion(text, allowed):
    assert bot_may_edit(text, "TestBot") is allowed


def test_rendering_is_byte_identical_and_ordered():
    tasks = [task(3, "C", priority=50), task(1, "A", priority=80), task(2, "B", priority=50),
             task(4, "Tajné", policy="users")]
    r = Renderer()
    rows = select_rows(tasks, sort=("-priority", "id"))
    assert [t.id for t in rows] == [1, 2, 3]
    one = r.render("status_table", "cs", "wiki", rows=rows, tz="Europe/Prague")
    two = r.render("status_table", "cs", "wiki", rows=select_rows(list(reversed(tasks)), sort=("-priority", "id")),
                   tz="Europe/Prague")
    assert one == two and "Tajné" not in one and "T4" not in one


@pytest.mark.parametrize("lang,expected", [("cs", "24.&nbsp;11.&nbsp;2026"), ("ko", "2026. 11. 24."), ("en", "Nov 24, 2026")])
def test_localized_dates_in_wiki_time_zone(lang, expected):
    # 2026-11-23 23:30 UTC is already the 24th in Prague and Seoul; UTC stays on the 23rd.
    epoch = 1795476600
    tz = {"cs": "Europe/Prague", "ko": "Asia/Seoul", "en": "Europe/Prague"}[lang]
    text = Renderer().render("status_table", lang, "wiki", rows=[task(1, modified=epoch)], tz=tz)
    assert expected in text


def test_czech_plurals_in_summary():
    from bot.render.messages import status_summary
    assert status_summary("cs", ["a"], 1).endswith("(a; 1 úkol)")
    assert status_summary("cs", ["a"], 3).endswith("(a; 3 úkoly)")
    assert status_summary("cs", ["a"], 5).endswith("(a; 5 úkolů)")
    assert status_summary("ko", ["a"], 5).endswith("(a; 작업 5개)")


def test_shrink_guard_counts_rows_on_the_page():
    old = f"{B}\n" + "\n".join(f"| [[phab:T{i}|T{i}]]" for i in range(10)) + f"\n{E}"
    new_body = "| [[phab:T1|T1]]"
    held = plan_table_edit(old, "t", new_body, max_drop_share=0.5)
    assert held.action == "hold-shrink" and len(held.dropped) == 9
    from bot.domain.status import body_hash
    assert plan_table_edit(old, "t", new_body, max_drop_share=0.5, confirmed_hash=body_hash(new_body)).action == "save"


def test_rows_of_tasks_no_longer_public_leave_at_once_despite_the_shrink_guard():
    old = f"{B}\n" + "\n".join(f"| [[phab:T{i}|T{i}]]" for i in range(10)) + f"\n{E}"
    new_body = "| [[phab:T1|T1]]"
    # T1 and T2 are still public (T2 left the table's statuses); the other eight vanished from view.
    edit = plan_table_edit(old, "t", new_body, max_drop_share=0.5, still_public=frozenset({1, 2}))
    assert edit.action == "save"
    # ... but many still-public rows leaving at once are still held for a second cycle.
    held = plan_table_edit(old, "t", new_body, max_drop_share=0.5, still_public=frozenset(range(10)))
    assert held.action == "hold-shrink"
