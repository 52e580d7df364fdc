"""Status sync end to end: real MediaWiki (cs, ko) + Conduit sandbox."""
from __future__ import annotations

import mwparserfromhell
import pytest

from bot.jobs import status_sync
from tests.integration.helpers import BEGIN, END, STATUS_PAGES, make_context, page_with_markers

pytestmark = pytest.mark.integration
CS, KO = STATUS_PAGES["cs"], STATUS_PAGES["ko"]


@pytest.fixture
def world(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch):
    project = conduit.create_project("Growth-Team", "growth-team")
    ids = {
        "open": conduit.create_task("Zlepšit nápovědu pro nováčky", projects=[project], priority="high", owner="alice"),
        "done": conduit.create_task("신규 사용자 환영 메시지", projects=[project], status="resolved", owner="bob"),
        "secret": conduit.create_task("Security: XSS in onboarding", projects=[project], view_policy="users"),
        "other": conduit.create_task("Unrelated", projects=[]),
    }
    human = {c: wikis.api(c, wikis.wikis[c].human) for c in ("cs", "ko")}
    human["cs"].edit(CS, page_with_markers(), "stránka pro tabulku")
    human["ko"].edit(KO, page_with_markers("사람이 쓴 소개.", "꼬리말."), "표 자리")
    ctx = make_context(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch)
    return ctx, conduit, human, ids, project


def latest(client, title):
    return client.revisions(title, limit=1)[0]


def test_table_is_created_on_both_wikis_without_private_tasks(world):
    ctx, conduit, human, ids, _ = world
    report = status_sync.run(ctx)
    assert report.problems == [] and len(report.saved) == 2
    cs = human["cs"].page_text(CS)
    ko = human["ko"].page_text(KO)
    for text in (cs, ko):
        assert f"[[phab:T{ids['open']}|T{ids['open']}]]" in text and f"[[phab:T{ids['done']}|" in text
        assert f"T{ids['secret']}" not in text and "Security" not in text and f"T{ids['other']}" not in text
    assert cs.startswith("Úvod napsaný člověkem.\n" + BEGIN) and cs.rstrip().endswith(END + "\nPatička.")
    assert "vysoká" in cs and "vyřešený" in cs and "alice" in cs
    assert "해결됨" in ko and "높음" in ko
    rev = latest(human["cs"], CS)
    assert rev["user"] == "TestBot" and "Robot: aktualizace" in rev["comment"]
    # the bot's only markup in the region: our links and the table
    region = cs.split(BEGIN)[1].split(END)[0]
    links = [str(l.title) for l in mwparserfromhell.parse(region).filter_wikilinks()]
    # in the table's order (sort: -priority, id): the high-priority open task first, then the resolved one
    assert links == [f"phab:T{ids['open']}", f"phab:T{ids['done']}"]


def test_bot_edits_are_flagged_bot(world):
    ctx, conduit, human, ids, _ = world
    status_sync.run(ctx)
    rc = human["cs"].get(action="query", list="recentchanges", rctitle=CS, rcprop="flags|user", rcshow="bot")
    assert rc["query"]["recentchanges"] and rc["query"]["recentchanges"][0]["user"] == "TestBot"


def test_task_change_updates_and_no_change_does_not_edit(world):
    ctx, conduit, human, ids, _ = world
    status_sync.run(ctx)
    first = latest(human["cs"], CS)["revid"]
    report = status_sync.run(ctx)
    assert report.saved == [] and latest(human["cs"], CS)["revid"] == first
    conduit.update_task(ids["open"], title="Zlepšit nápovědu (nový název)", status="progress")
    report = status_sync.run(ctx)
    assert len(report.saved) == 2
    assert "Zlepšit nápovědu (nový název)" in human["cs"].page_text(CS)
    assert "v řešení" in human["cs"].page_text(CS)


def test_task_made_private_disappears(world):
    ctx, conduit, human, ids, _ = world
    status_sync.run(ctx)
    conduit.update_task(ids["open"], view_policy="users")
    status_sync.run(ctx)
    assert f"T{ids['open']}" not in human["cs"].page_text(CS)


def test_human_edit_outside_markers_survives(world):
    ctx, conduit, human, ids, _ = world
    status_sync.run(ctx)
    text = human["cs"].page_text(CS).replace("Patička.", "Patička, kterou upravil člověk.")
    human["cs"].edit(CS, text, "úprava patičky")
    conduit.update_task(ids["done"], title="Přejmenováno")
    status_sync.run(ctx)
    final = human["cs"].page_text(CS)
    assert "Patička, kterou upravil člověk." in final and "Přejmenováno" in final


def test_edit_conflict_in_the_same_second_keeps_the_human_edit(world):
    ctx, conduit, human, ids, _ = world
    status_sync.run(ctx)
    conduit.update_task(ids["open"], title="Nový název úkolu")
    wiki = ctx.wikis["cs"]
    original_save = wiki.save
    interventions = []

    def human_saves_first(page, text, summary, **kw):
        if not interventions:
            # Between the bot's read and its save: a human edit, typically in the same second.
            current = human["cs"].page_text(CS)
            human["cs"].edit(CS, current + "\nLidský komentář v tutéž sekundu.", "člověk")
            interventions.append(page.revid)
        return original_save(page, text, summary, **kw)
    wiki.save = human_saves_first
    report = status_sync.run(ctx)
    final = human["cs"].page_text(CS)
    assert interventions and "Lidský komentář v tutéž sekundu." in final and "Nový název úkolu" in final
    assert any(t == CS for _, t, _ in report.saved)


def test_nobots_page_is_left_alone(world):
    ctx, conduit, human, ids, _ = world
    human["ko"].edit(KO, "{{nobots}}\n" + page_with_markers(), "no bots")
    before = latest(human["ko"], KO)["revid"]
    report = status_sync.run(ctx)
    assert latest(human["ko"], KO)["revid"] == before
    assert any("excludes the bot" in p for p in report.problems)
    assert any(w == "cs" for w, _, _ in report.saved)   # the other wiki went on


def test_dry_run_saves_nothing_and_prints_a_diff(world, wikis, conduit, tmp_path, pywikibot_dir, monkeypatch):
    ctx, conduit, human, ids, _ = world
    ctx.dry_run = True
    before = latest(human["cs"], CS)["revid"]
    report = status_sync.run(ctx)
    assert latest(human["cs"], CS)["revid"] == before and report.saved == []
    assert len(report.would_save) == 2 and f"+| [[phab:T{ids['open']}|T{ids['open']}]]" in ctx.out.getvalue()


def test_missing_page_and_page_without_markers_are_reported(world):
    ctx, conduit, human, ids, _ = world
    human["ko"].edit(KO, "마커 없는 문서.", "no markers")
    object.__setattr__(ctx.settings.status_tables[0], "pages", {"cs": "Wikipedie:Neexistuje", "ko": KO})
    report = status_sync.run(ctx)
    assert any("does not exist" in p for p in report.problems)
    assert any("no 'status growth-current' markers" in p for p in report.problems)
    assert human["ko"].page_text(KO) == "마커 없는 문서."


def test_protected_page_is_reported(world, wikis):
    ctx, conduit, human, ids, _ = world
    wikis.api("cs", wikis.wikis["cs"].admin).protect(CS, "sysop")
    report = status_sync.run(ctx)
    assert any("protected" in p for p in report.problems)
    assert any(w == "ko" for w, _, _ in report.saved)


def test_emergency_stop_page(world, wikis, conduit, tmp_path, pywikibot_dir, monkeypatch):
    ctx, conduit, human, ids, _ = world
    object.__setattr__(ctx.settings.wikis["cs"], "run_page", "Wikipedista:TestBot/Run")
    human["cs"].edit("Wikipedista:TestBot/Run", "stop", "zastavit bota")
    before = latest(human["cs"], CS)["revid"]
    report = status_sync.run(ctx)
    assert latest(human["cs"], CS)["revid"] == before
    assert any("emergency stop" in p for p in report.problems)
    human["cs"].edit("Wikipedista:TestBot/Run", "run", "spustit")
    status_sync.run(ctx)
    assert latest(human["cs"], CS)["revid"] != before


def test_blocked_bot_stops_editing_that_wiki_until_unblocked(world, wikis, tmp_path, pywikibot_dir, monkeypatch):
    from pywikibot.comms import http

    from bot.jobs.writer import NS_BLOCKS
    from bot.jobs.registry import run_job

    ctx, conduit, human, ids, _ = world
    admin = wikis.api("cs", wikis.wikis["cs"].admin)
    admin.block("TestBot")
    report = run_job("status-sync", ctx)
    assert [c for c, _, _ in report.saved] == ["ko"]
    assert any("blocked" in p and "wiki cs" in p for p in report.problems)
    assert "Zlepšit nápovědu" not in human["cs"].page_text(CS)

    # a restart: a new process knows the block from the store and sends no write to cs
    posts = []
    real_request = http.request

    def counting(*args, **kwargs):
        data = kwargs.get("data")
        if isinstance(data, dict) and data.get("action") == "edit":   # the adapter's writes (reads send bytes)
            posts.append(data["title"])
        return real_request(*args, **kwargs)
    monkeypatch.setattr(http, "request", counting)
    conduit.update_task(ids["open"], title="Nový název během bloku")
    again = make_context(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch)
    report = run_job("status-sync", again)
    assert "blocked by" in report.problems[0] and "until the block ends" in report.problems[0]
    assert posts == [KO] and [c for c, _, _ in report.saved] == ["ko"]       # nothing sent to cs
    assert "cs" in again.store.items(NS_BLOCKS)

    admin.unblock("TestBot")
    report = run_job("status-sync", again)
    assert [c for c, _, _ in report.saved] == ["cs"] and report.problems == []
    assert "Nový název během bloku" in human["cs"].page_text(CS)
    assert again.store.items(NS_BLOCKS) == {}
