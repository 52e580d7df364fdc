"""The visibility rule on the real Phorge: only what an anonymous reader of Phabricator sees
reaches a wiki, and it leaves every wiki table within one cycle when that changes.

Each case here is one where an imitation of Conduit was kinder than the real server: a task the
bot may no longer see is simply not returned, a task in a restricted Space still says
`policy.view: public`, and a task removed from the project no longer matches an incremental query.
"""
from __future__ import annotations

import sqlite3

import pytest

from bot.adapters.writes import issuing
from bot.jobs import status_sync
from tests.integration.helpers import STATUS_PAGES, make_context, page_with_markers

pytestmark = pytest.mark.integration
CS, KO = STATUS_PAGES["cs"], STATUS_PAGES["ko"]


@pytest.fixture
def world(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch):
    project = conduit.create_project("Growth-Team", "growth-team", members=["alice"])
    ids = {name: conduit.create_task(f"Úkol {name}", projects=[project]) for name in
           ("stays", "goes-admin", "goes-space", "leaves", "goes-members")}
    human = {c: wikis.api(c, wikis.wikis[c].human) for c in ("cs", "ko")}
    human["cs"].edit(CS, page_with_markers(), "stránka pro tabulku")
    human["ko"].edit(KO, page_with_markers("사람이 쓴 소개.", "꼬리말."), "표 자리")
    ctx = make_context(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch)
    return ctx, conduit, human, ids, project


def shown(human, task_id) -> dict[str, bool]:
    return {c: f"[[phab:T{task_id}|" in human[c].page_text(STATUS_PAGES[c]) for c in ("cs", "ko")}


def test_a_task_leaving_public_view_leaves_every_table_within_one_cycle(world):
    ctx, conduit, human, ids, project = world
    assert status_sync.run(ctx).problems == []
    for task_id in ids.values():
        assert shown(human, task_id) == {"cs": True, "ko": True}

    conduit.update_task(ids["goes-admin"], actor="admin", view_policy="admin")   # the bot can no longer see it
    space = conduit.create_space("Members only", "users")                          # the bot sees it; anonymous don't
    conduit.update_task(ids["goes-space"], actor="admin", space=space)
    conduit.update_task(ids["leaves"], projects_remove=[project])
    conduit.update_task(ids["goes-members"], actor="alice", view_policy="#growth-team")   # the bot is no member

    # What the bot sees of the real server: the task in the Space still says "public".
    moved = conduit.call("maniphest.search", {"constraints": {"ids": [ids["goes-space"]]}}, as_user="GrowthBot")
    assert moved["data"][0]["fields"]["policy"]["view"] == "public"
    assert moved["data"][0]["fields"]["spacePHID"] == space

    report = status_sync.run(ctx)          # incremental: no full refresh in between
    assert report.problems == [] and len(report.saved) == 2
    assert shown(human, ids["stays"]) == {"cs": True, "ko": True}
    for name in ("goes-admin", "goes-space", "leaves", "goes-members"):
        assert shown(human, ids[name]) == {"cs": False, "ko": False}, name
        assert f"Úkol {name}" not in human["cs"].page_text(CS)


def test_a_task_in_a_restricted_space_never_appears(world):
    ctx, conduit, human, ids, project = world
    space = conduit.create_space("Growth members", "#growth-team", actor="alice")
    hidden = conduit.create_task("Bezpečnostní chyba", projects=[project], space=space)     # the bot cannot see it
    members = conduit.create_space("Logged in", "users")
    seen_by_bot = conduit.create_task("Jen pro přihlášené", projects=[project], space=members)
    report = status_sync.run(ctx)
    assert report.problems == []
    for task_id in (hidden, seen_by_bot):
        assert shown(human, task_id) == {"cs": False, "ko": False}
    assert "Bezpečnostní" not in human["cs"].page_text(CS) and "přihlášené" not in human["ko"].page_text(KO)
    # ... while a task in the public default Space (every new task once Spaces exist) is shown.
    public_in_space = conduit.create_task("Veřejný úkol v prostoru", projects=[project])
    assert conduit.task(public_in_space)["fields"]["spacePHID"]
    status_sync.run(ctx)
    assert shown(human, public_in_space) == {"cs": True, "ko": True}


def test_subprojects_and_milestones_count_as_the_project(world):
    """Phorge's own rule for a project constraint: its subprojects and milestones are included."""
    ctx, conduit, human, ids, project = world
    sub = conduit.create_project("Growth-Mobile", parent=project)
    milestone = conduit.create_project("Sprint 1", milestone=project)
    in_sub = conduit.create_task("Úkol podprojektu", projects=[sub])
    in_milestone = conduit.create_task("Úkol milníku", projects=[milestone])
    status_sync.run(ctx)
    assert shown(human, in_sub) == {"cs": True, "ko": True}
    assert shown(human, in_milestone) == {"cs": True, "ko": True}


def test_the_bots_own_comments_change_no_table(world):
    ctx, conduit, human, ids, _ = world
    status_sync.run(ctx)
    before = {c: human[c].page_text(STATUS_PAGES[c]) for c in ("cs", "ko")}
    conduit.update_task(ids["stays"], actor="bob", comment="A person's comment.")
    for task_id in ids.values():         # as a newsletter's back-links would
        with issuing():
            ctx.phab.comment(task_id, "Announced in the newsletter.")
    assert status_sync.run(ctx).problems == []
    after = {c: human[c].page_text(STATUS_PAGES[c]) for c in ("cs", "ko")}
    for code in ("cs", "ko"):
        changed = [a for a, b in zip(after[code].splitlines(), before[code].splitlines()) if a != b]
        assert all(f"T{ids['stays']}" in row for row in changed), changed
    revs = {c: human[c].revisions(STATUS_PAGES[c], limit=1)[0]["revid"] for c in ("cs", "ko")}
    for task_id in ids.values():
        with issuing():
            ctx.phab.comment(task_id, "Another back-link.")
    report = status_sync.run(ctx)
    assert report.saved == [] and report.problems == []
    assert {c: human[c].revisions(STATUS_PAGES[c], limit=1)[0]["revid"] for c in ("cs", "ko")} == revs


def dump(path) -> list:
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return [(t, sorted(map(repr, db.execute(f"SELECT * FROM {t}")))) for t in tables]


def test_dry_run_writes_nothing_not_even_state(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch):
    project = conduit.create_project("Growth-Team", "growth-team")
    conduit.create_task("Úkol", projects=[project])
    human = wikis.api("cs", wikis.wikis["cs"].human)
    human.edit(CS, page_with_markers(), "stránka pro tabulku")
    ctx = make_context(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch, dry_run=True)
    store_file = tmp_path / "state.sqlite"
    ctx.store.get("any", "thing")        # the store exists (its schema) before the run
    before = dump(store_file)
    report = status_sync.run(ctx)
    assert report.would_save and report.saved == []
    assert dump(store_file) == before
    assert "[[phab:T" not in human.page_text(CS)


def test_a_task_out_of_public_view_never_enters_a_newsletter(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch):
    import io
    import time as _time

    from bot.jobs import newsletter
    from bot.jobs.registry import build_context
    from bot.settings import parse_settings
    from tests.integration.helpers import config_data, set_secrets

    edition = _time.strftime("%Y-%m", _time.gmtime())       # tasks are made now, so this month has them
    project = conduit.create_project("Growth-Team", "growth-team", members=["alice"])
    logged_in = conduit.create_space("Logged in", "users")
    ids = {"public": conduit.create_task("Veřejná novinka", projects=[project]),
           "space": conduit.create_task("Novinka v prostoru", projects=[project], space=logged_in),
           "members": conduit.create_task("Novinka pro členy", projects=[project])}
    conduit.update_task(ids["members"], actor="alice", view_policy="#growth-team")
    for task_id in ids.values():
        conduit.update_task(task_id, actor="alice", status="resolved")
    set_secrets(monkeypatch, wikis, conduit, ("cs",))
    data = config_data(wikis, conduit, tmp_path, pywikibot_dir, codes=("cs",), tables=[])
    draft_page = "Wikipedie:Growth/Zpravodaj/{edition}"
    data["newsletters"] = {"projects": ["growth-team"], "wikis": {"cs": {
        "draft_page": draft_page, "page": "Wikipedie:Growth/Zpravodaj/Vydání/{edition}",
        "subscribers": "Wikipedie:Growth/Zpravodaj/Odběratelé"}}}
    ctx = build_context(parse_settings(data, tmp_path / "test.yaml"))
    ctx.out = io.StringIO()
    report = newsletter.command(ctx, "draft", edition, ["cs"])
    assert report.problems == [] and report.saved
    draft = wikis.api("cs", wikis.wikis["cs"].human).page_text(draft_page.replace("{edition}", edition))
    assert f"[[phab:T{ids['public']}|" in draft and "Veřejná novinka" in draft
    for name in ("space", "members"):
        assert f"T{ids[name]}" not in draft and "Novinka " not in draft.replace("Veřejná novinka", "")
