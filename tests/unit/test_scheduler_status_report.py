"""The run report page: edited only when it changes, escaped, and polite (run page, nobots)."""
from __future__ import annotations

import io
from pathlib import Path

import mwparserfromhell
from hypothesis import given, settings as hsettings, strategies as st

from bot.jobs import status_report
from bot.jobs.base import JobContext, JobReport
from bot.jobs.status_report import BEGIN, END, RunOutcome, render_table
from bot.settings import parse_settings
from bot.store import MemoryStore
from tests.fakes import FakePhab, FakeWiki

PAGE = "Wikipedista:TestBot/Běh"
RUN = "Wikipedista:TestBot/Run"


def make_ctx(run_page=None, **page_cfg):
    cs = {"api_url": "http://127.0.0.1:2/api.php", "language": "cs", "timezone": "Europe/Prague",
          "username": "TestBot"}
    if run_page:
        cs["run_page"] = run_page
    settings = parse_settings({
        "bot": {"user_agent": "t/1 (t@example.org)", "state_url": "memory://"},
        "phabricator": {"url": "http://127.0.0.1:1/"},
        "wikis": {"cs": cs},
        "status_page": {"pages": {"cs": PAGE}, **page_cfg},
    }, Path("bot.yaml"))
    wiki = FakeWiki()
    now = [1_795_476_800.0]
    ctx = JobContext(settings=settings, store=MemoryStore(), phab=FakePhab(), wikis={"cs": wiki}, out=io.StringIO(),
                     clock=lambda: now[0])
    return ctx, wiki, now


def outcome(ctx, saved=1, problems=(), job="status-sync"):
    report = JobReport(job, saved=[("cs", "P", 1)] * saved, unchanged=3, problems=list(problems))
    return RunOutcome.from_report(job, job, None, report, ctx.clock())


def test_page_is_created_then_edited_only_when_something_changes(monkeypatch):
    ctx, wiki, now = make_ctx()
    monkeypatch.setattr(wiki, "save", _creating_save(wiki))
    assert status_report.update(ctx, outcome(ctx)).saved
    text = wiki.text(PAGE)
    assert BEGIN in text and END in text and "status-sync" in text and "uloženo 1" in text and "v pořádku" in text
    now[0] += 600
    assert status_report.update(ctx, outcome(ctx)).unchanged == 1 and len(wiki.pages[PAGE]) == 1   # same result
    now[0] += 600
    report = status_report.update(ctx, outcome(ctx, problems=["wiki cs page 'X': protectedpage"]))
    assert report.saved and "s problémy" in wiki.text(PAGE) and "protectedpage" in wiki.text(PAGE)
    now[0] += 25 * 3600          # nothing changed, but the times shown are a day old
    assert status_report.update(ctx, outcome(ctx, problems=["wiki cs page 'X': protectedpage"])).saved


def test_problems_of_other_wikis_stay_off_this_page():
    ctx, wiki, _ = make_ctx()
    out = outcome(ctx, problems=["wiki ko page '현황': protectedpage", "wiki cs: emergency stop: X", "general"])
    row = out.for_wiki("cs")
    assert row["problems"] == ["wiki cs: emergency stop: X", "general"] and row["result"] == "problem"
    assert RunOutcome.from_report("j", "j", None, JobReport("j", problems=["wiki ko: x"]), 0).for_wiki("cs")[
        "result"] == "ok"


def test_human_text_around_the_markers_is_kept():
    ctx, wiki, _ = make_ctx()
    wiki.edit(PAGE, f"Lidský úvod.\n{BEGIN}\nstaré\n{END}\nPatička.")
    status_report.update(ctx, outcome(ctx))
    text = wiki.text(PAGE)
    assert text.startswith("Lidský úvod.\n" + BEGIN) and text.endswith(END + "\nPatička.") and "staré" not in text


def test_emergency_stop_and_nobots_are_respected():
    ctx, wiki, _ = make_ctx(run_page=RUN)
    wiki.edit(RUN, "stop")
    wiki.edit(PAGE, "x")
    report = status_report.update(ctx, outcome(ctx))
    assert "emergency stop" in report.problems[0] and wiki.saves == []
    wiki.edit(RUN, "run")
    wiki.edit(PAGE, "{{nobots}}")
    report = status_report.update(ctx, outcome(ctx))
    assert "excludes the bot" in report.problems[0] and wiki.saves == []
    wiki.edit(PAGE, "ok")
    assert status_report.update(ctx, outcome(ctx)).saved


def test_dry_run_shows_a_diff_and_saves_nothing():
    ctx, wiki, _ = make_ctx()
    wiki.edit(PAGE, "x")
    ctx.dry_run = True
    report = status_report.update(ctx, outcome(ctx))
    assert report.would_save == [("cs", PAGE)] and wiki.saves == [] and "+{|" in ctx.out.getvalue()


@hsettings(max_examples=150, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=80), min_size=1, max_size=4))
def test_problem_text_cannot_break_out_of_its_cell(problems):
    runs = [{"job": "status-sync", "finished_at": 1_795_476_800, "result": "problem", "saved": 1, "would_save": 0,
             "unchanged": 2, "held": 0, "problems": problems}]
    body = render_table(runs, "cs", "Europe/Prague", 10, with_times=True)
    code = mwparserfromhell.parse(body)
    assert not code.filter_templates() and not code.filter_wikilinks() and not code.filter_external_links()
    assert not code.filter_comments() and not code.filter_headings()
    lines = body.split("\n")
    assert lines[0] == '{| class="wikitable sortable"' and lines[-1] == "|}" and len(lines) == 5
    row = lines[3]
    assert row.startswith("| status-sync || ") and row.count("||") == 4


def _creating_save(wiki):
    real = wiki.save

    def save(page, text, summary, minor=False):
        if not page.exists:
            wiki.saves.append(page.title)
            return wiki.edit(page.title, text, user=wiki.settings.username)
        return real(page, text, summary, minor)
    return save


def test_run_report_times_as_the_wikis_write_them():
    from datetime import datetime, timezone

    from bot.jobs.status_report import _format_time
    moment = datetime(2026, 12, 6, 5, 8, tzinfo=timezone.utc).timestamp()
    assert _format_time(moment, "cs", "Europe/Prague") == "6. 12. 2026, 6:08"
    assert _format_time(moment, "ko", "Asia/Seoul") == "2026년 12월 6일 오후 2:08"
