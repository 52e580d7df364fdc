"""Week boundaries in a wiki's time zone and the grouping of a week's activity."""
from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from bot.domain.weekly import (Contribution, namespace_name, parse_label, post_wiki, previous_week, section_of,
                               summarize_contributions, summarize_posts, summarize_tasks, week_bounds, week_label)


def epoch(tz, *args):
    return int(datetime(*args, tzinfo=ZoneInfo(tz)).timestamp())


def test_week_starts_at_local_monday_midnight():
    w = week_bounds("2026-W47", "Europe/Prague")
    assert w.start == epoch("Europe/Prague", 2026, 11, 16) and w.end == epoch("Europe/Prague", 2026, 11, 23)
    k = week_bounds("2026-W47", "Asia/Seoul")
    assert k.start == epoch("Asia/Seoul", 2026, 11, 16)
    assert w.start - k.start == 8 * 3600      # Seoul's Monday begins 8 hours before Prague's in winter


def test_dst_weeks_are_167_and_169_hours():
    spring = week_bounds("2026-W13", "Europe/Prague")     # 29 March 2026: clocks go forward
    autumn = week_bounds("2026-W43", "Europe/Prague")     # 25 October 2026: clocks go back
    assert spring.end - spring.start == 167 * 3600
    assert autumn.end - autumn.start == 169 * 3600
    assert week_bounds("2026-W43", "Asia/Seoul").end - week_bounds("2026-W43", "Asia/Seoul").start == 168 * 3600


def test_boundary_second_belongs_to_exactly_one_week():
    w = week_bounds("2026-W47", "Europe/Prague")
    nxt = week_bounds("2026-W48", "Europe/Prague")
    assert w.end == nxt.start and not w.contains(w.end) and nxt.contains(w.end) and w.contains(w.end - 1)


def test_previous_week_is_last_complete_week_in_the_wiki_time_zone():
    # Sunday 23:30 in Prague is already Monday in Seoul: the previous week differs.
    moment = epoch("Europe/Prague", 2026, 11, 22, 23, 30)
    assert previous_week(moment, "Europe/Prague").label == "2026-W46"
    assert previous_week(moment, "Asia/Seoul").label == "2026-W47"
    # ISO years: the first days of January 2027 are week 53 of 2026.
    assert week_label(epoch("UTC", 2027, 1, 2), "UTC") == "2026-W53"
    assert previous_week(epoch("UTC", 2027, 1, 5), "UTC").label == "2026-W53"


def test_bad_week_labels():
    for bad in ("2026-47", "2026-W7", "2025-W53", "x"):
        with pytest.raises(ValueError):
            parse_label(bad)


def test_contributions_grouped_by_namespace_and_page_with_counts():
    w = week_bounds("2026-W47", "Europe/Prague")
    t = w.start
    rows = [
        Contribution("Jana", 1, "Nápověda:Úvod", 12, t + 10, "/* Začínáme */ oprava", 120),
        Contribution("Jana", 2, "Nápověda:Úvod", 12, t + 20, "", -4),
        Contribution("Jana", 3, "Diskuse:Growth", 1, t + 30, "/* Mentoring */ odpověď", 300),
        Contribution("Jana", 4, "Diskuse:Growth", 1, t + 40, "/* Jiné */", 30),
        Contribution("Jana", 5, "Nový článek", 0, t + 50, "nový", 2000, new=True),
        Contribution("Jana", 6, "Předtím", 0, t - 1, "", 5),         # the week before
        Contribution("Jana", 7, "Potom", 0, w.end, "", 5),           # the week after
    ]
    s = summarize_contributions(rows, w)
    assert (s["edits"], s["pages"], s["created"], s["bytes_added"]) == (5, 3, 1, 116 + 330 + 2000)  # net per page
    assert [(n["ns"], n["name"], n["edits"]) for n in s["namespaces"]] == [(0, "", 1), (1, "Diskuse", 2),
                                                                           (12, "Nápověda", 2)]
    assert [p["title"] for p in s["discussions"]] == ["Diskuse:Growth"]
    assert s["discussions"][0]["sections"] == ["Mentoring", "Jiné"]


def test_helpers():
    assert namespace_name("Wikipedista:Jana/Pískoviště", 2) == "Wikipedista" and namespace_name("A:B", 0) == ""
    assert section_of("/* Nová sekce */ nové téma") == "Nová sekce" and section_of("bez sekce") is None
    assert post_wiki("newsletter:2026-12:cs:x", "T5", ["cs", "ko"]) == "cs"
    assert post_wiki("k", "ko:사용자토론:A", ["cs", "ko"]) == "ko" and post_wiki("k", "T5", ["cs"]) is None


def test_posts_counted_for_the_wiki_and_week():
    w = week_bounds("2026-W47", "Europe/Prague")
    P = lambda key, kind, target, at: SimpleNamespace(key=key, kind=kind, target=target, created_at=at)
    posts = [P("newsletter:2026-12:cs:User talk:A", "message", "cs:Diskuse s wikipedistou:A", w.start + 5),
             P("newsletter:2026-12:cs:User talk:B", "message", "cs:Diskuse s wikipedistou:B", w.start + 6),
             P("newsletter:2026-12:cs:page", "edit", "cs:Wikipedie:Zpravodaj", w.start + 7),
             P("newsletter:2026-12:ko:x", "message", "ko:사용자토론:C", w.start + 8),
             P("feedback:cs:rev123", "task-comment", "T9", w.start + 9),
             P("feedback:cs:rev124", "task-comment", "T9", w.end + 1),       # next week
             P("status:cs:page", "edit", "cs:Wikipedie:Growth/Stav", w.start)]
    s = summarize_posts(posts, w, "cs", ["cs", "ko"])
    assert s == {"newsletters": [{"edition": "2026-12", "deliveries": 2, "edits": 1, "drafted": False,
                                  "published": False}], "deliveries": 2, "feedback": 1}


def test_posts_of_the_newsletter_and_feedback_jobs_are_recognised():
    w = week_bounds("2026-W47", "Europe/Prague")
    P = lambda key, kind, target: SimpleNamespace(key=key, kind=kind, target=target, created_at=w.start + 60)
    posts = [P("nld:2026-12:cs:abc:5", "edit", "cs:Wikipedie:Zpravodaj/2026-12"),
             P("nlp:2026-12:cs", "edit", "cs:Wikipedie:Zpravodaj/2026-12"),
             P("nl:2026-12:cs:d1", "newsletter-message", "cs:Diskuse s wikipedistou:A"),
             P("nl:2026-12:cs:d2", "newsletter-message", "cs:Diskuse s wikipedistou:B"),
             P("nl:2026-12:ko:d3", "newsletter-message", "ko:사용자토론:C"),
             P("nlc:2026-12:cs:T5", "task-comment", "T5"),
             P("fb-phab:cs:123:abcdef", "task-comment", "T9"),
             P("fb-wiki:cs:123:abcdef", "edit", "cs:Wikipedie:Growth/Zpětná vazba")]
    s = summarize_posts(posts, w, "cs", ["cs", "ko"])
    assert s == {"newsletters": [{"edition": "2026-12", "deliveries": 2, "edits": 2, "drafted": True,
                                  "published": True}], "deliveries": 2, "feedback": 1}


def test_private_tasks_never_in_wiki_reports_and_titleless_in_phabricator():
    facts = {1: {"id": 1, "title": "Public", "status": "open", "public": True},
             2: {"id": 2, "title": "Security hole", "status": "open", "public": False}}
    wiki = summarize_tasks([facts[1], facts[2]], [], {2: 3, 1: 1}, facts, public_only=True)
    assert [t["id"] for t in wiki["created"]] == [1] and wiki["comments"] == 1
    assert "Security" not in repr(wiki)
    phab = summarize_tasks([facts[1], facts[2]], [], {2: 3, 1: 1}, facts, public_only=False)
    assert [t["id"] for t in phab["created"]] == [1, 2] and phab["created"][1]["title"] == "" and phab["comments"] == 4
    assert "Security" not in repr(phab)
