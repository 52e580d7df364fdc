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


@pytest.mark.parametrize("lang,expected", [("cs", "24.&nbsp;11.&nbsp;2026"), ("ko", "2026년 11월 24일"), ("en", "Nov 24, 2026")])
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


# -- plural tables from the message files (bot/i18n/<lang>.json, CLDR rules through Babel) --------------

# Czech is not Polish: only 2-4 take the "few" form, 22 takes the genitive plural like 5 (CLDR: i in 2..4).
@pytest.mark.parametrize("n,expected", [(1, "1 úkol"), (2, "2 úkoly"), (5, "5 úkolů"), (22, "22 úkolů"),
                                        (25, "25 úkolů"), (0, "0 úkolů"), (101, "101 úkolů")])
def test_czech_task_plural_table(n, expected):
    from bot.render.messages import TASKS, plural
    assert plural(TASKS, "cs", n) == expected


@pytest.mark.parametrize("n,delivered,more", [
    (1, "doručena 1 zpráva", "a 1 další"), (2, "doručeny 2 zprávy", "a 2 další"),
    (3, "doručeny 3 zprávy", "a 3 další"), (5, "doručeno 5 zpráv", "a 5 dalších"),
    (22, "doručeno 22 zpráv", "a 22 dalších"), (25, "doručeno 25 zpráv", "a 25 dalších"),
])
def test_czech_delivered_and_more_agree_with_the_number(n, delivered, more):
    from bot.render.messages import RUN_REPORT, WR_DELIVERED, plural
    assert plural(WR_DELIVERED, "cs", n) == delivered
    assert RUN_REPORT["cs"]["more"].format(n=n) == more


@pytest.mark.parametrize("n,expected", [
    (0, "لا مهام"), (1, "مهمة واحدة"), (2, "مهمتان"), (3, "٣ مهام"), (10, "١٠ مهام"),
    (11, "١١ مهمة"), (99, "٩٩ مهمة"), (100, "١٠٠ مهمة"), (103, "١٠٣ مهام"),
])
def test_arabic_six_plural_forms_and_eastern_arabic_digits(n, expected):
    from bot.render.messages import TASKS, plural
    assert plural(TASKS, "ar", n) == expected


def test_arabic_plural_table_has_six_categories():
    from bot.render.messages import TASKS
    assert list(TASKS["ar"]) == ["zero", "one", "two", "few", "many", "other"]
    assert list(TASKS["cs"]) == ["one", "few", "many", "other"]


@pytest.mark.parametrize("lang,word", [("ko", "작업 {}개"), ("vi", "{} tác vụ")])
@pytest.mark.parametrize("n", [0, 1, 2, 5, 11, 22, 100])
def test_korean_and_vietnamese_have_one_form(lang, word, n):
    from bot.render.messages import TASKS, plural
    assert plural(TASKS, lang, n) == word.format(n)


def test_korean_newsletter_more_and_run_report_words():
    from bot.render.messages import NL_MORE, RUN_REPORT, plural
    assert plural(NL_MORE, "ko", 4) == "… 그 밖에 작업 4개가 더 있습니다."
    assert RUN_REPORT["ko"]["intro"] == "이 문서는 봇이 관리합니다. 이 위키에서 각 작업을 마지막으로 실행한 결과를 보여 줍니다."


def test_status_summaries_in_every_language():
    from bot.render.messages import status_summary
    assert status_summary("ko", ["a"], 5) == "봇: Phabricator 작업 현황표 갱신 (a; 작업 5개)"
    assert status_summary("ar", ["a", "b"], 2) == "بوت: تحديث جدول حالة مهام Phabricator (a, b؛ مهمتان)"
    assert status_summary("vi", ["a"], 1) == "Bot: cập nhật bảng trạng thái tác vụ Phabricator (a; 1 tác vụ)"
    assert status_summary("en", ["a"], 1) == "Bot: update Phabricator task status table (a; 1 task)"
