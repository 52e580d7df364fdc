"""Send times as ambassadors write them, the marker's options, and the guards against empty/untouched editions."""
from __future__ import annotations

import pytest

from bot.domain import newsletter as nl
from bot.render import messages

MON_9_PRAGUE = 1797235200      # 2026-12-14 09:00 CET


@pytest.mark.parametrize("written,tz,expected", [
    ("2026-12-14 09:00", "Europe/Prague", MON_9_PRAGUE),
    ("2026-12-14T09:00", "Europe/Prague", MON_9_PRAGUE),
    ("14. 12. 2026 9:00", "Europe/Prague", MON_9_PRAGUE),
    ("14.12.2026 9.00", "Europe/Prague", MON_9_PRAGUE),
    ("2026년 12월 14일 17:00", "Asia/Seoul", MON_9_PRAGUE),
    ("2026년 12월 14일 오후 5시", "Asia/Seoul", MON_9_PRAGUE),
    ("2026년 12월 14일 오후 5시 30분", "Asia/Seoul", MON_9_PRAGUE + 1800),
])
def test_send_times_in_the_forms_ambassadors_write(written, tz, expected):
    assert nl.parse_send_time(written, tz) == expected


@pytest.mark.parametrize("bad", ["zítra", "2026-13-01 09:00", "32. 12. 2026 9:00", "next monday"])
def test_unreadable_send_time_says_how_to_write_it(bad):
    with pytest.raises(nl.SendTimeError):
        nl.parse_send_time(bad, "Europe/Prague")


def test_default_send_is_the_first_matching_moment_after_approval():
    rule = nl.parse_default_send("next Monday 09:00")
    assert nl.next_default_send(MON_9_PRAGUE - 1, rule, "Europe/Prague") == MON_9_PRAGUE
    assert nl.next_default_send(MON_9_PRAGUE, rule, "Europe/Prague") == MON_9_PRAGUE + 7 * 86400
    assert nl.next_default_send(MON_9_PRAGUE, nl.parse_default_send("day 09:00"), "Europe/Prague") == \
        MON_9_PRAGUE + 86400
    with pytest.raises(nl.SendTimeError):
        nl.parse_default_send("monday at nine")


def test_marker_options_and_what_never_approves():
    text = "<!-- ambassador-bot:newsletter status=ready send=14. 12. 2026 9:00 force -->\nText"
    assert nl.draft_status(text) == "ready"
    assert nl.marker_options(text) == nl.MarkerOptions(True, "14. 12. 2026 9:00")
    back = nl.set_status(text, nl.DRAFT)
    assert nl.marker_options(back) == nl.MarkerOptions(False, "14. 12. 2026 9:00")   # force goes, the time stays
    assert nl.draft_status("<!-- ambassador-bot:newsletter status=ready soon -->") == "ready soon"
    assert nl.draft_body(text) == "Text\n"                                           # options are not the body
    helped = nl.set_help(text, "Pozor <b>--> x")
    assert "<b>" not in nl.help_of(helped) and nl.draft_body(helped) == "Text\n"


def test_guards_untouched_and_nothing_happened():
    bot_text = nl.STATUS_MARKER.format(status="draft") + "\nV&nbsp;tomto období se v&nbsp;projektu nic nezměnilo.\n"
    ready = nl.set_status(bot_text, nl.READY)
    history = [nl.Revision(3, "TestBot", "t", nl.set_help(ready, "x")),      # the bot's help edit keeps the body
               nl.Revision(2, "Jana", "t", ready), nl.Revision(1, "TestBot", "t", bot_text)]
    assert nl.untouched(history, ready, "TestBot")
    edited = ready + "Můj text.\n"
    history = [nl.Revision(3, "TestBot", "t", nl.set_help(edited, "x")), nl.Revision(2, "Jana", "t", edited),
               nl.Revision(1, "TestBot", "t", bot_text)]
    assert not nl.untouched(history, edited, "TestBot")
    assert nl.says_nothing_happened(nl.draft_body(edited), messages.nothing_happened_sentences())
    assert not nl.says_nothing_happened(nl.draft_body(edited), ["Nothing changed in the project in this period."])
    arabic = nl.STATUS_MARKER.format(status="draft") + "\nلم يتغير شيء في المشروع خلال هذه الفترة.\n"
    assert nl.says_nothing_happened(nl.draft_body(arabic), messages.nothing_happened_sentences())
    forced = nl.Revision(4, "Jana", "t", nl.with_force(edited))
    assert nl.forced([forced] + history, history[1]) and not nl.forced(history, history[1])
    assert not nl.forced([forced] + history, history[1], approvers=["Admin"])
