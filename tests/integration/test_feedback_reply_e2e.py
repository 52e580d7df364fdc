"""The optional on-wiki reply ("Předáno do úkolu T123") under forwarded comments, on the real local cs wiki."""
from __future__ import annotations

import io
import re
from types import MappingProxyType

import pytest

from bot.jobs import feedback
from bot.jobs.registry import build_context
from bot.settings import parse_settings
from tests.integration.helpers import config_data, set_secrets

pytestmark = pytest.mark.integration

TALK = "Diskuse k Wikipedii:Growth/Zpětná vazba"   # talk page: DiscussionTools replies
PROJECT = "Wikipedie:Growth/Zpětná vazba"           # project page: DiscussionTools does not read it -> wikitext
KO_TALK = "위키백과토론:성장/피드백"
CODES = ("cs", "ko", "en")
BOT_SIG = re.compile(r"\[\[Wikipedista:TestBot\|TestBot\]\] \(\[\[Diskuse s wikipedistou:TestBot\|diskuse\]\]\) "
                     r"\d{1,2}\. \d{1,2}\. \d{4}, \d{1,2}:\d{2} \(CET\)")
MARKER = "<!-- ambassador-bot:key="


@pytest.fixture
def world(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch):
    project = conduit.create_project("Growth-Team", "growth-team")
    tasks = {"talk": conduit.create_task("Feedback talk", projects=[project]),
             "project": conduit.create_task("Feedback project", projects=[project]),
             "ko": conduit.create_task("Feedback ko", projects=[project]),
             "secret": conduit.create_task("Security: hidden", projects=[project], view_policy="users")}
    human = {c: wikis.api(c, wikis.wikis[c].human) for c in CODES}
    human["cs"].edit(TALK, "== Starší ==\nStarý komentář. ~~~~\n", "založení")
    human["cs"].edit(PROJECT, "Sem pište.\n\n== Starší ==\nStarý komentář. ~~~~\n", "založení")
    human["ko"].edit(KO_TALK, "== 이전 ==\n예전 의견입니다. ~~~~\n", "시작")

    def make(*, reply=True, dry_run=False, ko_reply=None):
        set_secrets(monkeypatch, wikis, conduit, CODES)
        data = config_data(wikis, conduit, tmp_path, pywikibot_dir, codes=CODES, tables=[])
        talk = {"wiki": "cs", "title": TALK, "task": tasks["talk"]}
        proj = {"wiki": "cs", "title": PROJECT, "task": tasks["project"]}
        ko = {"wiki": "ko", "title": KO_TALK, "task": tasks["ko"]}
        if reply is not None:
            talk["reply"] = proj["reply"] = reply
        if ko_reply is not None:
            ko["reply"] = ko_reply
        data["feedback"] = {"pages": [talk, proj, ko]}
        ctx = build_context(parse_settings(data, tmp_path / "test.yaml"), dry_run=dry_run)
        ctx.out = io.StringIO()
        return ctx

    ctx = make()
    assert feedback.run(ctx).problems == []       # first cycle: the baseline
    return ctx, make, conduit, human, tasks


def append(client, title, text):
    client.edit(title, client.page_text(title).rstrip("\n") + "\n" + text, "komentář")


def spy(monkeypatch, wiki, name):
    calls = []
    real = getattr(wiki, name)
    monkeypatch.setattr(wiki, name, lambda *a, **kw: calls.append(a) or real(*a, **kw))
    return calls


def bot_lines(text):
    return [line for line in text.split("\n") if "TestBot" in line]


def test_talk_page_reply_through_discussiontools_once(world, monkeypatch):
    ctx, make, conduit, human, tasks = world
    append(human["cs"], TALK, "\n== Nápad ==\nPřidejte filtr. ~~~~\n:Souhlas. ~~~~\n")
    dt_calls = spy(monkeypatch, ctx.wikis["cs"], "discussiontools_add_comment")
    saves = spy(monkeypatch, ctx.wikis["cs"], "save")

    report = feedback.run(ctx)
    assert report.problems == []
    assert len(conduit.comments(tasks["talk"])) == 1
    assert len(dt_calls) == 1 and saves == []          # one reply for the thread, not one per comment
    text = human["cs"].page_text(TALK)
    t = tasks["talk"]
    lines = text.split("\n")
    # The thread's reply goes after its last comment, one level deeper than it.
    top = next(i for i, ln in enumerate(lines) if ln.startswith("Přidejte filtr."))
    assert lines[top + 1].startswith(":Souhlas.")
    assert re.fullmatch(rf"::Předáno do úkolu \[\[phab:T{t}\|T{t}\]\]\. {MARKER}[a-z,]+ --> " + BOT_SIG.pattern,
                        lines[top + 2])
    tags = human["cs"].revisions(TALK, limit=1)[0].get("tags", [])
    assert any(tag.startswith("discussiontools") for tag in tags)

    # Again: no new reply, and the bot's replies are not feedback.
    report = feedback.run(ctx)
    assert report.problems == [] and report.saved == []
    assert len(bot_lines(human["cs"].page_text(TALK))) == 1 and len(dt_calls) == 1
    append(human["cs"], TALK, ":::Díky. ~~~~\n")
    report = feedback.run(ctx)
    got = [c["text"] for c in conduit.comments(tasks["talk"])]
    assert len(got) == 2 and "Díky." in got[1] and "Předáno" not in "".join(got)
    assert len(bot_lines(human["cs"].page_text(TALK))) == 2       # one reply to the new comment
    assert ctx.store.items(feedback.NS_QUEUE) == {}


def test_project_page_reply_through_wikitext_once(world, monkeypatch):
    ctx, make, conduit, human, tasks = world
    append(human["cs"], PROJECT, "\n== Nápad ==\nPřidejte filtr. ~~~~\n:Souhlas. ~~~~\n\nJiný bod. ~~~~\n"
                                 "\n== Druhý ==\nDalší nápad. ~~~~\n")
    dt_calls = spy(monkeypatch, ctx.wikis["cs"], "discussiontools_add_comment")
    report = feedback.run(ctx)
    assert report.problems == []
    assert dt_calls == []
    text = human["cs"].page_text(PROJECT)
    lines = text.split("\n")
    t = tasks["project"]
    top = next(i for i, ln in enumerate(lines) if ln.startswith("Přidejte filtr."))
    assert lines[top + 1].startswith(":Souhlas.")
    # One reply per thread, after its last comment ("Jiný bod.", top level), one level deeper.
    assert "Předáno" not in lines[top + 2]
    other = next(i for i, ln in enumerate(lines) if ln.startswith("Jiný bod."))
    assert re.fullmatch(rf":Předáno do úkolu \[\[phab:T{t}\|T{t}\]\]\. {MARKER}[a-z,]+ --> " + BOT_SIG.pattern,
                        lines[other + 1])
    second = next(i for i, ln in enumerate(lines) if ln.startswith("Další nápad."))
    assert lines[second + 1].startswith(":Předáno do")
    revs = human["cs"].revisions(PROJECT, limit=2)
    assert revs[0]["user"] == "TestBot" and revs[1]["user"] == "OtherUser"   # all replies in one edit
    assert revs[0]["comment"] == f"Robot: komentář předán do úkolu T{t}"

    report = feedback.run(ctx)
    assert report.saved == [] and report.problems == []
    assert len(bot_lines(human["cs"].page_text(PROJECT))) == 2
    assert len(conduit.comments(tasks["project"])) == 1


def test_korean_reply(world):
    ctx, make, conduit, human, tasks = world
    ctx = make(ko_reply=True)
    append(human["ko"], KO_TALK, "\n== 새 의견 ==\n첫 의견입니다. ~~~~\n")
    assert feedback.run(ctx).problems == []
    t = tasks["ko"]
    text = human["ko"].page_text(KO_TALK)
    assert re.search(rf"\n:\[\[phab:T{t}\|T{t}\]\]에 전달했습니다\. {MARKER}[a-z,]+ --> \[\[사용자:TestBot\|TestBot\]\]", text)


def test_crash_between_reply_and_record_does_not_reply_twice(world, monkeypatch):
    ctx, make, conduit, human, tasks = world
    append(human["cs"], TALK, "\n== Pád ==\nKomentář před pádem. ~~~~\n")
    append(human["cs"], PROJECT, "\n== Pád ==\nJiný komentář před pádem. ~~~~\n")
    real_record = ctx.store.record_post
    crashed = set()

    def crash(key, *a, **kw):
        if key.startswith("fb-reply:") and key not in crashed:
            crashed.add(key)
            raise KeyboardInterrupt("killed after replying")
        return real_record(key, *a, **kw)

    monkeypatch.setattr(ctx.store, "record_post", crash)
    with pytest.raises(KeyboardInterrupt):
        feedback.run(ctx)     # the talk page reply (DiscussionTools) is saved, not recorded
    with pytest.raises(KeyboardInterrupt):
        feedback.run(ctx)     # talk page: marker found and recorded; project page (wikitext) saved, not recorded
    assert len(crashed) == 2
    report = feedback.run(ctx)
    assert report.problems == [] and report.saved == []
    for title in (TALK, PROJECT):
        assert len(bot_lines(human["cs"].page_text(title))) == 1
    assert ctx.store.items(feedback.NS_QUEUE) == {}
    assert len(ctx.store.posts("reply")) == 2
    assert len(conduit.comments(tasks["talk"])) == 1 and len(conduit.comments(tasks["project"])) == 1


def test_private_task_gets_no_reply_and_nothing_of_it_reaches_the_wiki(world):
    ctx, make, conduit, human, tasks = world
    secret = tasks["secret"]
    append(human["cs"], TALK, f"\n== Chyba T{secret} ==\nBezpečnostní problém. ~~~~\n")
    append(human["cs"], PROJECT, f"\n== Chyba T{secret} ==\nJiný bezpečnostní problém. ~~~~\n")
    report = feedback.run(ctx)
    assert report.problems == []
    assert len(conduit.comments(secret)) == 1             # forwarded on Phabricator
    for title in (TALK, PROJECT):
        text = human["cs"].page_text(title)
        assert "TestBot" not in text and text.count(f"T{secret}") == 1    # only the human's own heading
    assert ctx.store.items(feedback.NS_QUEUE) == {}
    assert feedback.run(ctx).saved == []


def test_reply_is_off_by_default(world):
    ctx, make, conduit, human, tasks = world
    ctx = make(reply=None)
    append(human["cs"], TALK, "\n== Nápad ==\nBez odpovědi. ~~~~\n")
    append(human["cs"], PROJECT, "\n== Nápad ==\nTaky bez odpovědi. ~~~~\n")
    report = feedback.run(ctx)
    assert report.problems == [] and len(conduit.comments(tasks["talk"])) == 1
    for title in (TALK, PROJECT):
        assert "TestBot" not in human["cs"].page_text(title)
    assert ctx.store.posts("reply") == [] and ctx.store.items(feedback.NS_QUEUE) == {}


def test_dry_run_prints_the_replies_and_writes_nothing(world):
    ctx, make, conduit, human, tasks = world
    append(human["cs"], TALK, "\n== Nápad ==\nNa zkoušku. ~~~~\n")
    append(human["cs"], PROJECT, "\n== Nápad ==\nTaky na zkoušku. ~~~~\n")
    before = {t: human["cs"].page_text(t) for t in (TALK, PROJECT)}
    dry = make(dry_run=True)
    report = feedback.run(dry)
    printed = dry.out.getvalue()
    assert report.problems == [] and conduit.comments(tasks["talk"]) == []
    assert f"would reply on cs:{TALK} under c-OtherUser-" in printed
    assert f"Předáno do úkolu [[phab:T{tasks['talk']}|T{tasks['talk']}]]. {MARKER}" in printed
    assert f"+:Předáno do úkolu [[phab:T{tasks['project']}|T{tasks['project']}]]. {MARKER}" in printed   # wikitext diff
    assert {t: human["cs"].page_text(t) for t in (TALK, PROJECT)} == before
    assert feedback.run(ctx).problems == []
    assert all(len(bot_lines(human["cs"].page_text(t))) == 1 for t in (TALK, PROJECT))


def test_nobots_and_emergency_stop_hold_the_reply_not_the_digest(world, monkeypatch):
    ctx, make, conduit, human, tasks = world
    append(human["cs"], PROJECT, "{{nobots}}\n\n== Nápad ==\nNávrh. ~~~~\n")
    report = feedback.run(ctx)
    assert len(conduit.comments(tasks["project"])) == 1
    assert any("nobots" in p for p in report.problems)
    assert "TestBot" not in human["cs"].page_text(PROJECT)
    # The comment waits in the queue; once the page allows the bot, the reply comes.
    human["cs"].edit(PROJECT, human["cs"].page_text(PROJECT).replace("{{nobots}}\n", ""), "povolit")
    ws = ctx.wikis["cs"].settings
    from dataclasses import replace
    stopped = replace(ws, run_page="Wikipedista:TestBot/Run", run_value="yes")
    monkeypatch.setattr(ctx.wikis["cs"], "settings", stopped)
    # The writer reads the run's settings, which are immutable: the run gets a copy with the stopped wiki.
    monkeypatch.setattr(ctx, "settings", replace(ctx.settings, wikis=MappingProxyType({**ctx.settings.wikis, "cs": stopped})))
    report = feedback.run(ctx)
    assert any("emergency stop" in p for p in report.problems)
    assert "TestBot" not in human["cs"].page_text(PROJECT)
    human["cs"].edit("Wikipedista:TestBot/Run", "yes", "run")
    report = feedback.run(ctx)
    assert report.problems == []
    assert len(bot_lines(human["cs"].page_text(PROJECT))) == 1
    assert len(conduit.comments(tasks["project"])) == 1
