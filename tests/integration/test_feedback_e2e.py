"""Feedback end to end: comments signed with ~~~~ on the real local cs/ko wikis reach the Conduit sandbox once."""
from __future__ import annotations

import io

import pytest

from bot.adapters.wiki_facts import wiki_facts
from bot.adapters.writes import issuing
from bot.domain.comments import comments_from_threaditems, parse_comments
from bot.jobs import feedback
from bot.jobs.registry import build_context
from bot.settings import parse_settings
from tests.integration.helpers import config_data, set_secrets

pytestmark = pytest.mark.integration

CS = "Wikipedie:Growth/Zpětná vazba"           # project page: DiscussionTools does not read it -> wikitext path
KO = "위키백과토론:성장/피드백"                     # talk page: the DiscussionTools path
DIGEST = "Wikipedia:Growth team/Feedback digest"
CODES = ("cs", "ko", "en")


@pytest.fixture
def world(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch):
    project = conduit.create_project("Growth-Team", "growth-team")
    tasks = {"cs": conduit.create_task("Feedback cs", projects=[project]),
             "ko": conduit.create_task("Feedback ko", projects=[project]),
             "section": conduit.create_task("Mentor dashboard", projects=[project]),
             "secret": conduit.create_task("Security: hidden", projects=[project], view_policy="users")}
    human = {c: wikis.api(c, wikis.wikis[c].human) for c in CODES}
    human["cs"].edit(CS, "Sem pište zpětnou vazbu.\n\n== Starší ==\nStarý komentář. ~~~~\n", "založení")
    human["ko"].edit(KO, "== 이전 ==\n예전 의견입니다. ~~~~\n", "시작")

    def make(dry_run=False, **feedback_extra):
        set_secrets(monkeypatch, wikis, conduit, CODES)
        data = config_data(wikis, conduit, tmp_path, pywikibot_dir, codes=CODES, tables=[])
        data["feedback"] = {"digest_page": {"wiki": "en", "title": DIGEST}, "pages": [
            {"wiki": "cs", "title": CS, "task": f"T{tasks['cs']}"},
            {"wiki": "ko", "title": KO, "task": tasks["ko"]}], **feedback_extra}
        ctx = build_context(parse_settings(data, tmp_path / "test.yaml"), dry_run=dry_run)
        ctx.out = io.StringIO()
        return ctx

    ctx = make()
    first = feedback.run(ctx)          # first cycle: the pages as they are now are the baseline
    assert first.problems == [] and conduit.comments(tasks["cs"]) == []
    return ctx, make, conduit, human, tasks


def texts(conduit, task_id):
    # The escaper breaks markup with invisible word joiners; read the comments as a person sees them.
    return [c["text"].replace("\u2060", "") for c in conduit.comments(task_id)]


def append(client, title, text, summary="komentář"):
    client.edit(title, client.page_text(title).rstrip("\n") + "\n" + text, summary)


def test_new_comments_replies_unsigned_forwarded_once(world):
    ctx, make, conduit, human, tasks = world
    append(human["cs"], CS, ":Souhlasím se **@alice** a {{T1}}. ~~~~\n\n== Nástěnka T%d ==\nNávrh: přidat filtr. ~~~~\n"
           % tasks["section"])
    append(human["cs"], CS, "Tohle jsem zapomněl podepsat.\n")
    append(human["ko"], KO, ":답글입니다. ~~~~\n\n== 새 의견 ==\n첫 의견입니다. ~~~~\n")

    report = feedback.run(ctx)
    assert report.problems == []
    cs_comments = texts(conduit, tasks["cs"])
    section_comments = texts(conduit, tasks["section"])
    ko_comments = texts(conduit, tasks["ko"])
    assert len(cs_comments) == 1 and len(section_comments) == 1 and len(ko_comments) == 1
    assert "Souhlasím" in cs_comments[0] and "in reply to OtherUser" in cs_comments[0] and "Special:Diff/" in cs_comments[0]
    assert "@alice" not in conduit.comments(tasks["cs"])[0]["text"]     # no mention from quoted text
    assert "Návrh: přidat filtr." in section_comments[0] 
    assert "zapomněl podepsat" in section_comments[0] and "(unsigned)" in section_comments[0]
    assert "OtherUser" in ko_comments[0] and "답글입니다." in ko_comments[0] and "첫 의견입니다." in ko_comments[0]
    assert "Starý komentář" not in cs_comments[0] and "예전 의견" not in ko_comments[0]
    digest = human["en"].page_text(DIGEST)
    assert digest.count("<!-- ambassador-bot:key=") == 5
    assert "Souhlasím" in digest and "첫 의견입니다." in digest and "{{T1}}" not in digest
    assert f"[[phab:T{tasks['section']}|" in digest

    # Rerun: nothing new, nothing posted, one request per wiki.
    for w in ctx.wikis.values():
        w.request_count = 0
    before = conduit.requests[:] if hasattr(conduit, "requests") else None
    report = feedback.run(ctx)
    assert report.saved == [] and report.problems == []
    assert {c: w.request_count for c, w in ctx.wikis.items()} == {"cs": 1, "ko": 1, "en": 0}
    if before is not None:
        assert len(conduit.requests) == len(before)
    assert len(conduit.comments(tasks["cs"])) == 1


def test_edited_comment_forwarded_once_as_edit_and_bot_edits_ignored(world):
    ctx, make, conduit, human, tasks = world
    append(human["cs"], CS, "Původní text. ~~~~\n")
    feedback.run(ctx)
    text = human["cs"].page_text(CS)
    human["cs"].edit(CS, text.replace("Původní text.", "Opravený text."), "oprava")
    # The bot's own edit (a reply signed by the bot) is not feedback.
    wiki = ctx.wikis["cs"]
    state = wiki.read_pages([CS])[CS]
    with issuing():   # sent as the bot's writer would send it
        wiki.save(state, state.text + ":Předáno. [[Wikipedista:TestBot|TestBot]] 24. 11. 2026, 08:00 (CET)\n", "bot")
    report = feedback.run(ctx)
    assert report.problems == []
    got = texts(conduit, tasks["cs"])
    assert len(got) == 2 and "**edited**" in got[1] and "Opravený text." in got[1]
    assert "Předáno" not in "".join(got)
    feedback.run(ctx)
    assert len(conduit.comments(tasks["cs"])) == 2


def test_crash_between_post_and_record_does_not_post_again(world, monkeypatch):
    ctx, make, conduit, human, tasks = world
    append(human["cs"], CS, "Komentář před pádem. ~~~~\n")
    real_record = ctx.store.record_post

    def crash(key, *a, **kw):
        if key.startswith("fb-phab:"):
            raise KeyboardInterrupt("killed after posting")
        return real_record(key, *a, **kw)

    monkeypatch.setattr(ctx.store, "record_post", crash)
    with pytest.raises(KeyboardInterrupt):
        feedback.run(ctx)
    assert len(conduit.comments(tasks["cs"])) == 1
    monkeypatch.setattr(ctx.store, "record_post", real_record)
    append(human["cs"], CS, "Komentář po pádu. ~~~~\n")
    report = feedback.run(ctx)
    assert report.problems == []
    got = texts(conduit, tasks["cs"])
    assert len(got) == 2 and "před pádem" in got[0] and "po pádu" in got[1] and "před pádem" not in got[1]
    assert human["en"].page_text(DIGEST).count("před pádem") == 1


def test_dry_run_prints_exact_comments_and_posts_nothing(world):
    ctx, make, conduit, human, tasks = world
    append(human["cs"], CS, "Na zkoušku. ~~~~\n")
    dry = make(dry_run=True)
    report = feedback.run(dry)
    assert report.would_save and conduit.comments(tasks["cs"]) == []
    printed = dry.out.getvalue()
    assert f"would comment on T{tasks['cs']}" in printed and "Na zkoušku." in printed
    report = feedback.run(ctx)
    posted = conduit.comments(tasks["cs"])[0]["text"]
    assert posted in printed


def test_stale_cursor_catches_up_from_page_histories(world):
    ctx, make, conduit, human, tasks = world
    append(human["cs"], CS, "Během výpadku. ~~~~\n")
    cursor = ctx.store.get(feedback.NS_CURSOR, "cs")
    ctx.store.put(feedback.NS_CURSOR, "cs", {**cursor, "timestamp": "2026-10-01T00:00:00Z"})
    calls = []
    real = ctx.wikis["cs"].recent_changes
    ctx.wikis["cs"].recent_changes = lambda *a, **kw: calls.append(a) or real(*a, **kw)
    feedback.run(ctx)
    assert calls == []                        # history, not recent changes
    assert "Během výpadku." in texts(conduit, tasks["cs"])[0]
    assert ctx.store.get(feedback.NS_CURSOR, "cs")["timestamp"] > "2026-11-01"


def test_discussiontools_and_wikitext_agree(world):
    ctx, make, conduit, human, tasks = world
    for code, title in (("cs", "Diskuse k Wikipedii:Growth"), ("ko", KO)):
        human[code].edit(title, "== A [[T5]] ==\nPrvní. ~~~~\n:Odpověď s '''tučným''' a [[odkaz|odkazem]]. ~~~~\n"
                                "::Druhá\n::řádka. ~~~~\n:Další. ~~~~\n\n== B ==\n나중. ~~~~\n", "t")
        wiki = ctx.wikis[code]
        text = human[code].page_text(title)
        facts = wiki_facts(wiki)     # read from the live wiki
        from_wikitext, _ = parse_comments(text, facts)
        from_dt = comments_from_threaditems(wiki.discussion_items(title), facts)
        assert len(from_wikitext) == 5 and from_wikitext == from_dt
