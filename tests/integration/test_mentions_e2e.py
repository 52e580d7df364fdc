"""Task mentions end to end: an edit on the real local cs/ko wikis gives the task one "mentioned in" comment."""
from __future__ import annotations

import io

import pytest

from bot.adapters.writes import issuing
from bot.jobs import mentions
from bot.jobs.registry import build_context
from bot.settings import parse_settings
from tests.integration.helpers import config_data, set_secrets

pytestmark = pytest.mark.integration
CS = "Wikipedie:Growth"
KO_NS_PAGE = "위키백과:성장/토론방"


@pytest.fixture
def world(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch):
    project = conduit.create_project("Growth-Team", "growth-team")
    tasks = {"a": conduit.create_task("Help panel", projects=[project]),
             "secret": conduit.create_task("Security: private", projects=[project], view_policy="users")}
    human = {c: wikis.api(c, wikis.wikis[c].human) for c in ("cs", "ko")}
    human["cs"].edit(CS, "Stránka projektu.\n", "založení")

    def make(dry_run=False):
        set_secrets(monkeypatch, wikis, conduit)
        data = config_data(wikis, conduit, tmp_path, pywikibot_dir, tables=[])
        data["mentions"] = {"pages": {"cs": [CS]}, "namespaces": {"ko": [4]}}
        ctx = build_context(parse_settings(data, tmp_path / "test.yaml"), dry_run=dry_run)
        ctx.out = io.StringIO()
        return ctx

    ctx = make()
    assert mentions.run(ctx).problems == []
    return ctx, make, conduit, human, tasks


def test_mention_comments_once_even_after_revert_and_readd(world):
    ctx, make, conduit, human, tasks = world
    a = tasks["a"]
    human["cs"].edit(CS, f"Stránka projektu.\nViz [[phab:T{a}]] a {{{{Phabricator|T{tasks['secret']}}}}}.\n", "odkaz")
    human["ko"].edit(KO_NS_PAGE, f"T{a} 참고\n", "언급")
    report = mentions.run(ctx)
    assert report.problems == []
    got = [c["text"].replace("\u2060", "") for c in conduit.comments(a)]
    assert len(got) == 2 and any("Wikipedie:Growth" in t and "OtherUser" in t and "Special:Diff/" in t for t in got)
    assert len(conduit.comments(tasks["secret"])) == 1        # Phabricator only; nothing goes to a wiki
    # re-save, revert and re-add: no second comment
    human["cs"].edit(CS, "Stránka projektu.\n", "revert")
    human["cs"].edit(CS, f"Stránka projektu.\nZase [[phab:T{a}]].\n", "znovu")
    report = mentions.run(ctx)
    assert report.saved == [] and len(conduit.comments(a)) == 2


def test_bot_edits_and_quiet_cycles(world):
    ctx, make, conduit, human, tasks = world
    wiki = ctx.wikis["cs"]
    state = wiki.read_pages([CS])[CS]
    with issuing():   # the bot's own edit, sent as its writer would send it
        wiki.save(state, state.text + f"[[phab:T{tasks['a']}|T{tasks['a']}]]\n", "bot table")
    for w in ctx.wikis.values():
        w.request_count = 0
    mentions.run(ctx)
    assert conduit.comments(tasks["a"]) == []
    assert {c: w.request_count for c, w in ctx.wikis.items()} == {"cs": 1, "ko": 1}


def test_crash_after_post_and_dry_run(world, monkeypatch):
    ctx, make, conduit, human, tasks = world
    human["cs"].edit(CS, f"Stránka projektu.\nT{tasks['a']}\n", "odkaz")
    dry = make(dry_run=True)
    mentions.run(dry)
    assert f"would comment on T{tasks['a']}" in dry.out.getvalue() and conduit.comments(tasks["a"]) == []
    real = ctx.store.record_post
    monkeypatch.setattr(ctx.store, "record_post", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        mentions.run(ctx)
    monkeypatch.setattr(ctx.store, "record_post", real)
    mentions.run(ctx)
    got = conduit.comments(tasks["a"])
    assert len(got) == 1 and got[0]["text"].replace("\u2060", "") in dry.out.getvalue().replace("\u2060", "")


def test_a_mention_of_a_task_out_of_sight_is_kept_reported_once_and_delivered_when_visible(world):
    ctx, make, conduit, human, tasks = world
    hidden = conduit.create_task("Not yet announced", projects=["growth-team"], view_policy="admin")
    human["cs"].edit(CS, f"Stránka projektu.\nViz T{hidden} a T999.\n", "odkaz")
    first = mentions.run(ctx)
    assert len(first.problems) == 2 and all("kept and delivered once the task can be reached" in p
                                            for p in first.problems)
    # the next cycles: still held, but no new problem, so the job's exit code is 0 again
    second = mentions.run(make())
    assert second.problems == [] and len(second.held) == 2 and second.saved == []
    conduit.update_task(hidden, actor="admin", view_policy="public")
    third = mentions.run(make())
    assert third.problems == [] and [t for _, t, _ in third.saved] == [f"T{hidden}"]
    assert len(conduit.comments(hidden)) == 1
    assert "Wikipedie:Growth" in conduit.comments(hidden)[0]["text"].replace("\u2060", "")
    assert len(mentions.run(make()).held) == 1          # T999 still waits; nothing posted twice
    assert len(conduit.comments(hidden)) == 1
