"""Many wikis, one process (issue 15): status-sync works on the wikis at once, each on its own."""
from __future__ import annotations

import io
import threading
import time
from pathlib import Path

from bot.jobs import status_sync
from bot.jobs.base import JobContext
from bot.settings import parse_settings
from bot.store import MemoryStore
from tests.fakes import FakePhab, FakeWiki, task

CODES = ("cs", "ko", "ar", "vi")
ZONES = {"cs": "Europe/Prague", "ko": "Asia/Seoul", "ar": "Asia/Riyadh", "vi": "Asia/Ho_Chi_Minh"}
PAGE = "Project:Status"
BEGIN = "<!-- ambassador-bot:status growth-current begin -->"
END = "<!-- ambassador-bot:status growth-current end -->"
SAVE_SECONDS = 0.3   # what a throttle costs per edit


class SlowWiki(FakeWiki):
    """A wiki whose edits take a while, as under a throttle; records which threads saved at once."""

    active = 0
    most_at_once = 0
    lock = threading.Lock()

    def save(self, page, text, summary, minor=False, merge_ok=True):
        with SlowWiki.lock:
            SlowWiki.active += 1
            SlowWiki.most_at_once = max(SlowWiki.most_at_once, SlowWiki.active)
        try:
            time.sleep(SAVE_SECONDS)
            return super().save(page, text, summary, minor, merge_ok)
        finally:
            with SlowWiki.lock:
                SlowWiki.active -= 1


def _ctx(codes, run_page_on=()):
    raw = {
        "bot": {"user_agent": "test/1 (test@example.org)", "state_url": "memory://"},
        "phabricator": {"url": "http://127.0.0.1:1/"},
        "wikis": {c: {"api_url": f"http://127.0.0.1:{10 + i}/api.php", "language": c, "timezone": ZONES[c],
                      "username": "TestBot", **({"run_page": "Project:Run"} if c in run_page_on else {})}
                  for i, c in enumerate(codes)},
        "status_tables": [{"id": "growth-current", "query": {"projects": ["growth-team"]},
                           "pages": {c: PAGE for c in codes}}],
    }
    settings = parse_settings(raw, Path("test.yaml"))
    phab = FakePhab([task(1, "One"), task(2, "Two", status="resolved", priority=80)])
    wikis = {}
    for c in codes:
        wikis[c] = SlowWiki(pages={PAGE: f"intro\n{BEGIN}\n{END}\n", "Project:Run": "stop"})
        wikis[c].settings.code = wikis[c].settings.language = c
    return JobContext(settings=settings, store=MemoryStore(), phab=phab, wikis=wikis, out=io.StringIO()), wikis


def test_wikis_are_synced_at_once_and_reported_in_config_order():
    SlowWiki.most_at_once = 0
    ctx, wikis = _ctx(CODES)
    report = status_sync.run(ctx)
    assert report.problems == [] and [s[0] for s in report.saved] == list(CODES)
    # Every wiki's (slow) save was under way at the same moment: no wiki waited for another.
    # (Wall time is measured by bench/status_sync_wikis.py on real wikis, not here on a shared CPU.)
    assert SlowWiki.most_at_once == len(CODES)
    assert "|| محلولة ||" in wikis["ar"].text(PAGE) and "|| vysoká ||" in wikis["cs"].text(PAGE)
    assert "[[phab:T2|T2]]" in wikis["vi"].text(PAGE) and "đã giải quyết" in wikis["vi"].text(PAGE)


def test_one_wikis_emergency_stop_and_block_leave_the_others_alone():
    ctx, wikis = _ctx(CODES, run_page_on=("ko",))
    wikis["ar"].block = "blocked by an admin"
    report = status_sync.run(ctx)
    assert sorted(s[0] for s in report.saved) == ["cs", "vi"]
    problems = [str(p) for p in report.problems]
    assert any("emergency stop" in p and "ko" in p for p in problems)
    assert any("no more edits on ar" in p for p in problems)
    assert wikis["ko"].saves == [] and wikis["ar"].saves == []
