"""Small versions of the `make reliability` campaigns, and proof that their checkers see damage."""
from __future__ import annotations

import os

import pytest

from tests.reliability import campaigns

pytestmark = pytest.mark.integration


def test_fault_campaign_small(wikis, conduit):
    outcome = campaigns.fault_campaign(wikis, conduit, seed=11, rounds=4)
    assert outcome.faults > 0
    assert (outcome.duplicates, outcome.losses) == (0, 0), outcome.notes


def test_checker_counts_lost_human_lines_and_needless_edits(wikis, conduit, tmp_path):
    world = campaigns.World(wikis, conduit, tmp_path, pages_per_wiki=1, tasks=3)
    world.human_edit()
    (code, title), lines = next((k, v) for k, v in world.human_lines.items() if v)
    bot = wikis.api(code, wikis.wikis[code].bot)
    text = world.humans[code].page_text(title)
    bot.edit(title, text.replace(lines[0], ""), "a careless bot drops the human line")
    bot.edit(title, text.replace(lines[0], "") + "\n", "and edits again without changing its region")
    duplicates, losses, notes = world.check()
    assert duplicates >= 1 and losses >= 1 and "lost human line" in notes


def test_newsletter_fault_campaign_small(wikis, conduit):
    outcome = campaigns.newsletter_fault_campaign(wikis, conduit, seed=14, rounds=2, talk_pages=4, read_timeout=1.0)
    assert outcome.faults > 0
    assert (outcome.duplicates, outcome.losses) == (0, 0), outcome.notes


def test_newsletter_crash_campaign_small(wikis, conduit):
    outcome = campaigns.newsletter_crash_campaign(wikis, conduit, seed=15, talk_pages=4, max_runs=6)
    assert outcome.faults > 0, outcome.notes
    assert (outcome.duplicates, outcome.losses) == (0, 0), outcome.notes


def test_newsletter_checker_counts_second_copies_and_missing_messages(wikis, conduit, tmp_path):
    from bot.domain import newsletter as nl
    from bot.jobs import newsletter

    world = campaigns.NewsletterWorld(wikis, conduit, tmp_path, talk_pages=3, tasks=2)
    try:
        os.environ.update(campaigns.secrets(wikis, conduit))
        ctx = campaigns.in_process_context(world.config(), tmp_path)
        world.prepare(ctx)
        assert newsletter.command(ctx, "publish", campaigns.EDITION, ["cs", "ko"]).problems == []
        urls = {c: wikis.wikis[c].api_url for c in ("cs", "ko")}
        assert world.check(urls) == (0, 0, "")
        first, second = world.targets["cs"][:2]
        bot = wikis.api("cs", wikis.wikis["cs"].bot)
        text = world.humans["cs"].page_text(first)
        bot.edit(first, text + "\n" + text[text.index("=="):], "the same message once more")
        world.humans["cs"].edit(second, "Vítejte.\n", "the message is gone")
        # The wikis publish concurrently, so either wiki's comment may be the task's first: take cs's.
        cs_url = nl.page_url(urls["cs"], world.title("cs", "page"))
        comment = next(c for c in campaigns.bot_comments(conduit, world.public[0]) if cs_url in c)
        conduit.update_task(world.public[0], actor="GrowthBot", comment=comment)
    finally:
        world.close()
    duplicates, losses, notes = world.check(urls)
    assert duplicates >= 2 and losses >= 1, notes
    assert f"copies of cs message on {first}" in notes and f"missing cs message on {second}" in notes
    assert f"2 copies of T{world.public[0]} comment for cs" in notes


def test_feedback_fault_campaign_small(wikis, conduit):
    outcome = campaigns.feedback_fault_campaign(wikis, conduit, seed=16, rounds=2, read_timeout=1.0)
    assert outcome.faults > 0
    assert (outcome.duplicates, outcome.losses) == (0, 0), outcome.notes


def test_feedback_crash_campaign_small(wikis, conduit):
    outcome = campaigns.feedback_crash_campaign(wikis, conduit, seed=17, rounds=2)
    assert outcome.faults > 0, outcome.notes
    assert (outcome.duplicates, outcome.losses) == (0, 0), outcome.notes


def test_feedback_checker_counts_double_forwards_and_missing_ones(wikis, conduit, tmp_path):
    from bot.jobs import feedback, mentions

    world = campaigns.FeedbackWorld(wikis, conduit, tmp_path, seed=3)
    os.environ.update(campaigns.secrets(wikis, conduit))
    ctx = campaigns.in_process_context(world.config(), tmp_path)
    for job in (feedback, mentions):
        job.run(ctx)
    world.humans_act(comments=2, mentions=2)
    for job in (feedback, mentions):
        assert job.run(ctx).problems == []
    assert world.check() == (0, 0, "")
    token, task = world.comments[0]
    digest = next(t for t in campaigns.bot_comments(conduit, task) if token in t)
    conduit.update_task(task, actor="GrowthBot", comment=digest)            # forwarded twice
    world.human_comment()                                                   # never forwarded
    code, title, mentioned = sorted(world.mentions)[0]
    note = next(t for t in campaigns.bot_comments(conduit, mentioned) if mentions.MARKER_PREFIX in t)
    conduit.update_task(mentioned, actor="GrowthBot", comment=note)         # a second "mentioned in"
    duplicates, losses, notes = world.check()
    assert duplicates >= 3 and losses >= 2, notes
    assert f"2 copies of comment {token} on T{task}" in notes and f"missing comment {world.comments[-1][0]}" in notes


def test_weekly_report_fault_campaign_small(wikis, conduit):
    import re

    outcome = campaigns.weekly_report_fault_campaign(wikis, conduit, seed=22, rounds=2, ambassadors=4,
                                                     read_timeout=1.0)
    # This seed includes a report written while its answer was lost (the "look at the target first" path).
    assert int(re.search(r"(\d+) read timeouts on writes", outcome.notes).group(1)) > 0, outcome.notes
    assert (outcome.duplicates, outcome.losses) == (0, 0), outcome.notes


def test_weekly_report_crash_campaign_small(wikis, conduit):
    outcome = campaigns.weekly_report_crash_campaign(wikis, conduit, seed=21, ambassadors=4, max_runs=4)
    assert outcome.faults > 0, outcome.notes
    assert (outcome.duplicates, outcome.losses) == (0, 0), outcome.notes


def test_weekly_report_checker_counts_second_copies_and_missing_reports(wikis, conduit, tmp_path):
    import time

    from bot.jobs import weekly_report

    world = campaigns.WeeklyWorld(wikis, conduit, tmp_path, ambassadors=4)
    os.environ.update(campaigns.secrets(wikis, conduit))
    ctx = campaigns.in_process_context(world.config(), tmp_path)
    now = time.time()
    ctx.clock = lambda: now
    assert weekly_report.run(ctx).problems == []
    assert world.check(now) == (0, 0, "")
    on_task = next(a for a in world.ambassadors if "task" in a)
    task = int(on_task["task"][1:])
    report = campaigns.bot_comments(conduit, task)[0]
    conduit.update_task(task, actor="GrowthBot", comment=report)                 # the report posted twice
    on_page = next(a for a in world.ambassadors if "page" in a)
    code, title = on_page["page"]["wiki"], on_page["page"]["title"]
    text = world.humans[code].page_text(title)
    marker = f"<!-- ambassador-bot:key=weekly:{on_page['id']}:{world.label(now, on_page)} -->"
    start = text.rindex("\n==", 0, text.index(marker)) if "\n==" in text[:text.index(marker)] else 0
    world.humans[code].edit(title, text[:start] + text[text.index(marker) + len(marker):], "the report is gone")
    duplicates, losses, notes = world.check(now)
    assert duplicates == 1 and losses == 1, notes
    label = world.label(now, on_task)
    assert f"2 copies of {on_task['id']} {label} report on T{task}" in notes
    assert f"missing {on_page['id']} {world.label(now, on_page)} report on {code}:{title}" in notes
