"""The status-sync job against adapter doubles: decisions, not transport."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.jobs import status_sync
from bot.jobs.base import JobContext
from bot.settings import parse_settings
from bot.store import MemoryStore
from bot.errors import Protected
from tests.fakes import FakePhab, FakeWiki, task

BEGIN = "<!-- ambassador-bot:status growth-current begin -->"
END = "<!-- ambassador-bot:status growth-current end -->"
PAGE = "Wikipedie:Growth/Stav"


def _raw_settings(wiki_extra=None, **table_overrides):
    table = {"id": "growth-current", "query": {"projects": ["growth-team"], "statuses": ["open", "resolved"]},
             "pages": {"cs": PAGE}, **table_overrides}
    return {
        "bot": {"user_agent": "test/1 (test@example.org)", "state_url": "memory://"},
        "phabricator": {"url": "http://127.0.0.1:1/"},
        "wikis": {"cs": {"api_url": "http://127.0.0.1:2/api.php", "language": "cs", "timezone": "Europe/Prague",
                         "username": "TestBot", **(wiki_extra or {})}},
        "status_tables": [table],
    }


def settings(wiki_extra=None, **table_overrides):
    return parse_settings(_raw_settings(wiki_extra, **table_overrides), Path("test.yaml"))


@pytest.fixture
def world():
    phab = FakePhab([task(1, "První úkol", owner="PHID-USER-a"), task(2, "Druhý", status="resolved", priority=80),
                     task(3, "Security: hole", policy="PHID-PROJC-security")], users={"PHID-USER-a": "alice"})
    wiki = FakeWiki(pages={PAGE: f"Úvod.\n{BEGIN}\n{END}\nPatička."})
    ctx = JobContext(settings=settings(), store=MemoryStore(), phab=phab, wikis={"cs": wiki}, out=io.StringIO())
    return ctx, phab, wiki


def test_first_cycle_writes_the_table_and_keeps_text_outside(world):
    ctx, phab, wiki = world
    report = status_sync.run(ctx)
    assert report.problems == [] and len(report.saved) == 1
    text = wiki.text(PAGE)
    assert text.startswith("Úvod.\n" + BEGIN) and text.endswith(END + "\nPatička.")
    assert "[[phab:T1|T1]]" in text and "[[phab:T2|T2]]" in text and "alice" in text


def test_private_task_never_reaches_the_wiki(world):
    ctx, phab, wiki = world
    report = status_sync.run(ctx)
    # The table was written (a job that writes nothing would pass a test of absence alone) ...
    assert report.saved == [("cs", PAGE, wiki.pages[PAGE][-1][0])] and "[[phab:T1|T1]]" in wiki.text(PAGE)
    # ... and the private task is not in it.
    assert "T3" not in wiki.text(PAGE) and "Security" not in wiki.text(PAGE)


def test_nothing_changed_means_no_read_and_no_edit(world):
    ctx, phab, wiki = world
    status_sync.run(ctx)
    reads, saves = len(wiki.reads), len(wiki.saves)
    phab.calls.clear()
    report = status_sync.run(ctx)
    assert len(wiki.reads) == reads and len(wiki.saves) == saves
    assert [c[0] for c in phab.calls] == ["maniphest.search"]
    assert report.unchanged == 1


def test_changed_task_updates_the_table(world):
    ctx, phab, wiki = world
    status_sync.run(ctx)
    phab.change(1, title="Přejmenovaný úkol")
    report = status_sync.run(ctx)
    assert len(report.saved) == 1 and "Přejmenovaný úkol" in wiki.text(PAGE)


def test_task_leaving_the_statuses_leaves_the_table(world):
    ctx, phab, wiki = world
    status_sync.run(ctx)
    phab.change(2, status="declined")
    status_sync.run(ctx)
    assert "T2|" not in wiki.text(PAGE)


def test_human_edit_elsewhere_on_the_page_is_kept_and_table_restored(world):
    ctx, phab, wiki = world
    status_sync.run(ctx)
    text = wiki.text(PAGE)
    broken = text.replace("[[phab:T1|T1]]", "vandal").replace("Patička.", "Patička upravená.")
    wiki.edit(PAGE, broken)
    status_sync.run(ctx)
    assert "Patička upravená." in wiki.text(PAGE) and "[[phab:T1|T1]]" in wiki.text(PAGE)


def test_edit_conflict_is_retried_on_fresh_text(world):
    ctx, phab, wiki = world
    wiki.before_save = lambda title: wiki.edit(title, wiki.text(title) + "\nLidský dodatek.")
    report = status_sync.run(ctx)
    assert report.saved and "Lidský dodatek." in wiki.text(PAGE) and "[[phab:T1|T1]]" in wiki.text(PAGE)


def test_partial_fetch_keeps_the_old_table(world):
    ctx, phab, wiki = world
    status_sync.run(ctx)
    before = wiki.text(PAGE)
    phab.fail_search = True
    report = status_sync.run(ctx)
    assert wiki.text(PAGE) == before and any("kept as they are" in p for p in report.problems)


def test_large_drop_is_held_until_a_second_cycle_confirms(world):
    ctx, phab, wiki = world
    for i in range(10, 20):
        phab.tasks[i] = task(i, f"Úkol {i}")
    status_sync.run(ctx)
    for i in range(10, 20):
        phab.change(i, status="declined")
    first = status_sync.run(ctx)
    assert first.held and not first.saved and "[[phab:T15|T15]]" in wiki.text(PAGE)
    second = status_sync.run(ctx)
    assert second.saved and "[[phab:T15|T15]]" not in wiki.text(PAGE)


def test_nobots_page_is_left_alone(world):
    ctx, phab, wiki = world
    wiki.edit(PAGE, "{{nobots}}\n" + BEGIN + "\n" + END)
    report = status_sync.run(ctx)
    assert not report.saved and any("excludes the bot" in p for p in report.problems)


def test_page_without_markers_is_reported_not_edited(world):
    ctx, phab, wiki = world
    wiki.edit(PAGE, "Jen text.")
    report = status_sync.run(ctx)
    assert not wiki.saves and any("no 'status growth-current' markers" in p for p in report.problems)


def test_protected_page_is_reported_and_job_goes_on(world):
    other = "Wikipedie:Growth/Hotovo"
    ctx, phab, _ = world
    raw = _raw_settings()
    raw["status_tables"].append({"id": "growth-done", "query": {"projects": ["growth-team"], "statuses": ["resolved"]},
                                 "pages": {"cs": other}})
    s = parse_settings(raw, Path("test.yaml"))
    wiki = FakeWiki(pages={PAGE: f"Úvod.\n{BEGIN}\n{END}\n",
                           other: "<!-- ambassador-bot:status growth-done begin -->\n"
                                  "<!-- ambassador-bot:status growth-done end -->\n"})
    ctx = JobContext(settings=s, store=MemoryStore(), phab=phab, wikis={"cs": wiki}, out=io.StringIO())
    real_save = wiki.save

    def save(page, text, summary, minor=False, merge_ok=True):
        if page.title == PAGE:     # the server's refusal, worded by no one but the wiki (as in the real API)
            raise Protected("protectedpage: This page has been protected to prevent editing", "protectedpage")
        return real_save(page, text, summary, minor, merge_ok)
    wiki.save = save
    report = status_sync.run(ctx)
    # reported once, for that page ...
    assert len(report.problems) == 1 and "protectedpage" in report.problems[0]
    assert wiki.text(PAGE) == f"Úvod.\n{BEGIN}\n{END}\n"
    # ... and the job went on to the next page, which it wrote
    assert [title for _, title, _ in report.saved] == [other] and "[[phab:T2|T2]]" in wiki.text(other)


def test_dry_run_prints_a_diff_and_saves_nothing(world):
    ctx, phab, wiki = world
    ctx.dry_run = True
    report = status_sync.run(ctx)
    assert not wiki.saves and report.would_save == [("cs", PAGE)]
    assert "+| [[phab:T1|T1]]" in ctx.out.getvalue()


@pytest.mark.parametrize("minutes, deferred", [(60, True), (0, False)])
def test_min_edit_interval_defers_second_edit(minutes, deferred):
    # The interval comes from the config the job is given (as WikiClient.settings is the parsed
    # WikiSettings), not from a value patched into a double: with 0 the second edit goes through.
    s = settings(wiki_extra={"min_edit_interval_minutes": minutes})
    phab = FakePhab([task(1, "První úkol")])
    wiki = FakeWiki(settings=s.wikis["cs"], pages={PAGE: f"Úvod.\n{BEGIN}\n{END}\nPatička."})
    ctx = JobContext(settings=s, store=MemoryStore(), phab=phab, wikis={"cs": wiki}, out=io.StringIO())
    status_sync.run(ctx)
    phab.change(1, title="Nový název")
    report = status_sync.run(ctx)
    assert bool(report.held) is deferred and ("Nový název" not in wiki.text(PAGE)) is deferred


def test_crash_between_save_and_record_does_not_edit_twice(world):
    ctx, phab, wiki = world
    original_put = ctx.store.put

    def crash_on_rendered(ns, key, value):
        if ns == status_sync.NS_RENDERED:
            raise RuntimeError("killed")
        return original_put(ns, key, value)
    ctx.store.put = crash_on_rendered
    with pytest.raises(RuntimeError):
        status_sync.run(ctx)
    ctx.store.put = original_put
    saves = len(wiki.saves)
    status_sync.run(ctx)
    assert len(wiki.saves) == saves == 1


def test_tables_on_one_project_share_one_conduit_request():
    s = parse_settings({
        "bot": {"user_agent": "test/1 (test@example.org)", "state_url": "memory://"},
        "phabricator": {"url": "http://127.0.0.1:1/"},
        "wikis": {"cs": {"api_url": "http://127.0.0.1:2/api.php", "language": "cs", "timezone": "Europe/Prague",
                         "username": "TestBot"}},
        "status_tables": [
            {"id": "open", "query": {"projects": ["growth-team"], "statuses": ["open"]}, "pages": {"cs": "A"}},
            {"id": "done", "query": {"projects": ["growth-team"], "statuses": ["resolved"]}, "pages": {"cs": "B"}},
        ]}, Path("t.yaml"))
    phab = FakePhab([task(1, "otevřený"), task(2, "hotový", status="resolved"), task(3, "zamítnutý", status="declined")])
    pages = {t: f"<!-- ambassador-bot:status {i} begin -->\n<!-- ambassador-bot:status {i} end -->"
             for t, i in (("A", "open"), ("B", "done"))}
    wiki = FakeWiki(pages=pages)
    ctx = JobContext(settings=s, store=MemoryStore(), phab=phab, wikis={"cs": wiki}, out=io.StringIO())
    status_sync.run(ctx)
    assert [c for c in phab.calls if c[0] == "maniphest.search"] == [
        ("maniphest.search", {"projects": ["PHID-PROJ-growth"], "modified_start": None,
                              "statuses": ["open", "resolved"]})]
    assert "T1|" in wiki.text("A") and "T2|" not in wiki.text("A")
    assert "T2|" in wiki.text("B") and "T3" not in wiki.text("B")
