"""The newsletter job against adapter doubles: scheduling, progress, bad input."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.jobs import newsletter
from bot.jobs.base import JobContext
from bot.render.escape import wikilink
from bot.settings import parse_settings
from bot.store import MemoryStore
from tests.fakes import FakePhab, FakeWiki, task

DRAFT = "Wikipedie:Z/{edition}"
NOV_15 = 1794700800          # 2026-11-15 00:00 UTC


class CreatingWiki(FakeWiki):
    def save(self, page, text, summary, minor=False, merge_ok=True):
        if not page.exists:
            self.saves.append(page.title)
            return self.edit(page.title, text, user=self.settings.username)
        return super().save(page, text, summary, minor)


def context(now, dry_run=False):
    settings = parse_settings({
        "bot": {"user_agent": "t/1 (t@example.org)", "state_url": "memory://"},
        "phabricator": {"url": "http://127.0.0.1:1/"},
        "wikis": {"cs": {"api_url": "http://127.0.0.1:2/api.php", "language": "cs", "timezone": "Europe/Prague",
                         "username": "TestBot"}},
        "newsletters": {"projects": ["growth-team"], "draft_day": 3,
                        "wikis": {"cs": {"draft_page": DRAFT, "page": "Wikipedie:Z/V/{edition}",
                                         "subscribers": "Wikipedie:Z/S"}}},
    }, Path("t.yaml"))
    phab = FakePhab([task(1, "Hotovo", status="resolved", date_closed=NOV_15, date_created=NOV_15 - 10**6,
                          modified=NOV_15)])
    clock = {"now": now}
    ctx = JobContext(settings=settings, store=MemoryStore(), phab=phab, wikis={"cs": CreatingWiki()},
                     out=io.StringIO(), dry_run=dry_run, clock=lambda: clock["now"])
    return ctx, clock


def test_scheduled_run_drafts_last_month_once_from_the_draft_day():
    ctx, clock = context(1796169600)          # 2026-12-02: before draft_day 3
    assert newsletter.run(ctx).saved == []
    clock["now"] = 1796256000                 # 2026-12-03
    report = newsletter.run(ctx)
    assert [t for _, t, _ in report.saved] == ["Wikipedie:Z/2026-11"]
    text = ctx.wikis["cs"].text("Wikipedie:Z/2026-11")
    assert "[[phab:T1|T1]]" in text and "status=draft" in text
    calls = len(ctx.phab.calls)
    assert newsletter.run(ctx).saved == [] and len(ctx.phab.calls) == calls     # once per edition


def test_czech_typography_keeps_out_of_task_titles():
    ctx, _ = context(1796256000)
    ctx.phab.change(1, title="add a Korean FAQ link <b>")
    newsletter.command(ctx, "draft", "2026-11", ["cs"])
    text = ctx.wikis["cs"].text("Wikipedie:Z/2026-11")
    assert "add a Korean FAQ link &lt;b&gt;" in text or "add a Korean FAQ link &lt;b>" in text, text
    assert "a&nbsp;Korean" not in text
    assert "k&nbsp;úkolům" in text     # the bot's own Czech words are typeset
    link = wikilink("Special:TalkPage/Wikipedie:Z/V/2026-11", "diskusní stránku zpravodaje")
    assert f"pište na {link} nebo" in text


def test_draft_is_not_regenerated_over_human_edits():
    ctx, _ = context(1796256000)
    newsletter.command(ctx, "draft", "2026-11", ["cs"])
    ctx.wikis["cs"].edit("Wikipedie:Z/2026-11", ctx.wikis["cs"].text("Wikipedie:Z/2026-11") + "Lidský text.")
    ctx.phab.change(1, title="Nový název")
    report = newsletter.command(ctx, "draft", "2026-11", ["cs"])
    assert report.saved == [] and "people edited the draft" in report.held[0]
    assert "Lidský text." in ctx.wikis["cs"].text("Wikipedie:Z/2026-11")


def test_dry_run_draft_prints_a_diff_and_saves_nothing():
    ctx, _ = context(1796256000, dry_run=True)
    report = newsletter.command(ctx, "draft", "2026-11", ["cs"])
    assert report.would_save == [("cs", "Wikipedie:Z/2026-11")] and ctx.wikis["cs"].saves == []
    assert "+++ cs:Wikipedie:Z/2026-11 (bot)" in ctx.out.getvalue()


@pytest.mark.parametrize("edition,wikis,message", [
    ("2026-13", ["cs"], "must be a month written YYYY-MM"),
    ("2026-11", ["ko"], "no newsletter settings for wiki ko"),
])
def test_bad_input_is_one_line(edition, wikis, message):
    ctx, _ = context(1796256000)
    with pytest.raises(ConfigError, match=message):
        newsletter.command(ctx, "draft", edition, wikis)


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_is_a_tqdm_bar_on_a_terminal_and_a_log_line_every_50_targets_or_30_s_otherwise(caplog):
    now = {"t": 0.0}
    tty = Tty()
    p = newsletter.Progress("cs", 10, stream=tty, clock=lambda: now["t"])
    p.tick(4)
    p.finish("cs: done")
    assert "4/10" in tty.getvalue() and "page" in tty.getvalue()       # tqdm's bar
    plain = io.StringIO()
    q = newsletter.Progress("cs", 120, stream=plain, clock=lambda: now["t"])
    with caplog.at_level("INFO"):
        for _ in range(49):
            q.tick()
        assert "left" not in caplog.text                                  # quiet until 50 targets ...
        q.tick()
        assert "cs: 50/120 delivered, 0 skipped, 0 failed, 70 left" in caplog.text
        caplog.clear()
        now["t"] += 31                                                   # ... or 30 s
        q.tick(kind="skipped")
        assert "51 skipped" not in caplog.text and "1 skipped, 0 failed, 69 left" in caplog.text
        assert "ETA" in caplog.text
        q.finish("cs: 50 of 120 delivered")
    assert plain.getvalue() == "" and "cs: 50 of 120 delivered in" in caplog.text
