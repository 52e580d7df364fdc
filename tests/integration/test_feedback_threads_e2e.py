"""Issue 13 end to end, on the real local cs and ko wikis and the real local Phorge: digests that read
like the thread, quoted text as the person wrote it, one reply per thread where a Wikipedian puts it.

The comment shapes: a custom signature (colours, spans) with a flag image, `:`/`::` replies, a
signature inside `{{small|…}}`, an `{{od|::}}` outdent, a bold signature, unsigned text, a later
edit, a renamed section, an archived thread; Korean signatures (KST) on the ko wiki."""
from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.adapters.wiki_facts import wiki_facts
from bot.domain.comments import comments_from_threaditems, parse_comments
from bot.jobs import feedback
from bot.jobs.registry import build_context
from bot.settings import parse_settings
from tests.integration.helpers import config_data, set_secrets

pytestmark = pytest.mark.integration

TALK = "Diskuse k Wikipedii:Growth/Zpětná vazba"      # DiscussionTools path
PROJECT = "Wikipedie:Growth/Zpětná vazba"              # wikitext path
ARCHIVE = "Diskuse k Wikipedii:Growth/Zpětná vazba/Archiv 1"
KO_TALK = "위키백과토론:성장/피드백"
DIGEST = "Wikipedie:Growth/Přehled zpětné vazby"
CODES = ("cs", "ko", "en")
FLAG = "[[Soubor:Flag of the Czech Republic.svg|15px]]"
DEBRIS = ("15px", "Soubor", "Flag of", "Šablona", "Shrnuto", "small", "span", "diskuse", "od|", "{{", "}}", "[[",
          "(CET)", "(CEST)", "(KST)", "토론")


def cs_time(minutes_ago: int) -> tuple[str, str]:
    """(signature time as cs MediaWiki writes it, the digest's English local time) `minutes_ago` minutes ago."""
    t = (datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)).astimezone(ZoneInfo("Europe/Prague"))
    zone = "CEST" if t.dst() else "CET"
    return (f"{t.day}. {t.month}. {t.year}, {t:%H:%M} ({zone})",
            f"{t.day} {t:%B} {t.year}, {t:%H:%M} {zone}")


def ko_time(minutes_ago: int) -> tuple[str, str]:
    t = (datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)).astimezone(ZoneInfo("Asia/Seoul"))
    day = "월화수목금토일"[t.weekday()]
    return (f"{t.year}년 {t.month}월 {t.day}일 ({day}) {t:%H:%M} (KST)", f"{t.day} {t:%B} {t.year}, {t:%H:%M} KST")


def thread_page(heading: str) -> tuple[str, dict]:
    """A cs thread with every signature shape; returns its wikitext and the digest times by author."""
    eva, petr, jana, karel = cs_time(8), cs_time(6), cs_time(4), cs_time(2)
    text = (f"== {heading} ==\n"
            f"Mobilní editor padá na Android + Chrome. {FLAG} [[Wikipedista:Eva Dvořáková|<span style=\"color:#063;"
            f"font-weight:bold;font-family:Georgia,serif\">Eva Dvořáková</span>]] <sup>[[Diskuse s wikipedistou:"
            f"Eva Dvořáková|<span style=\"color:#900\">diskuse</span>]]</sup> {eva[0]}\n"
            f":Souhlas, {{{{small|taky}}}} mi to padá. [[Wikipedista:Petr|Petr]] ([[Diskuse s wikipedistou:Petr|"
            f"diskuse]]) {petr[0]}\n"
            f"::Ověřím to na tabletu. {{{{small|[[Wikipedista:Jana|Jana]] ([[Diskuse s wikipedistou:Jana|diskuse]]) "
            f"{jana[0]}}}}}\n"
            f"{{{{od|::}}}}Mně to na iPhonu funguje. '''[[Wikipedista:Karel|Karel]]''' {karel[0]}\n")
    return text, {"Eva Dvořáková": eva[1], "Petr": petr[1], "Jana": jana[1], "Karel": karel[1]}


QUOTES = {"Eva Dvořáková": "Mobilní editor padá na Android + Chrome.", "Petr": "Souhlas, taky mi to padá.",
          "Jana": "Ověřím to na tabletu.", "Karel": "Mně to na iPhonu funguje."}


@pytest.fixture
def world(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch):
    project = conduit.create_project("Growth-Team", "growth-team")
    tasks = {"cs": conduit.create_task("Feedback cs", projects=[project]),
             "project": conduit.create_task("Feedback project page", projects=[project]),
             "ko": conduit.create_task("Feedback ko", projects=[project]),
             "section": conduit.create_task("Mentor dashboard", projects=[project])}
    human = {c: wikis.api(c, wikis.wikis[c].human) for c in CODES}
    # The templates as cswiki has them: {{small}} wraps its text, {{od}} draws an outdent line.
    human["cs"].edit("Šablona:Small", "<small>{{{1}}}</small>", "šablona")
    human["cs"].edit("Šablona:Od", '<span class="outdent-template">└────────</span>', "šablona")
    human["cs"].edit(TALK, "== Starší ==\nStarý komentář. ~~~~\n", "založení")
    human["cs"].edit(ARCHIVE, "Archiv.\n", "založení")
    human["cs"].edit(PROJECT, "Sem pište.\n\n== Starší ==\nStarý komentář. ~~~~\n", "založení")
    human["ko"].edit(KO_TALK, "== 이전 ==\n예전 의견입니다. ~~~~\n", "시작")

    def make(**extra):
        set_secrets(monkeypatch, wikis, conduit, CODES)
        data = config_data(wikis, conduit, tmp_path, pywikibot_dir, codes=CODES, tables=[])
        data["feedback"] = {"digest_page": {"wiki": "cs", "title": DIGEST}, "pages": [
            {"wiki": "cs", "title": TALK, "task": tasks["cs"], "reply": True},
            {"wiki": "cs", "title": ARCHIVE, "task": tasks["cs"]},
            {"wiki": "cs", "title": PROJECT, "task": tasks["project"], "reply": True},
            {"wiki": "ko", "title": KO_TALK, "task": tasks["ko"], "reply": True}], **extra}
        ctx = build_context(parse_settings(data, tmp_path / "test.yaml"))
        ctx.out = io.StringIO()
        return ctx

    ctx = make()
    assert feedback.run(ctx).problems == []        # the baseline
    return ctx, conduit, human, tasks


def append(client, title, text):
    client.edit(title, client.page_text(title).rstrip("\n") + "\n\n" + text, "komentář")


def comment_lines(digest: str) -> list[str]:
    return [ln for ln in digest.split("\n") if re.match(r"^(?:↳ )*\*\*[^*]+\*\*[, ]", ln)]


@pytest.mark.parametrize("title,task", [(TALK, "cs"), (PROJECT, "project")], ids=["discussiontools", "wikitext"])
def test_thread_digest_and_one_reply_per_thread(world, title, task):
    ctx, conduit, human, tasks = world
    text, times = thread_page("Editor padá")
    append(human["cs"], title, text + "\n== Jiné ==\nTohle jsem zapomněl podepsat.\n")
    report = feedback.run(ctx)
    assert report.problems == []

    [posted] = conduit.comments(tasks[task])
    digest = posted["text"]
    lines = comment_lines(digest)
    # Thread order: each reply right after its parent, saying whom it answers; the wiki's time and zone.
    assert [re.match(r"^(?:↳ )*\*\*([^*]+)\*\*", ln).group(1) for ln in lines] == \
        ["Eva Dvořáková", "Petr", "Jana", "Karel", "OtherUser"]
    assert lines[1].startswith("↳ **Petr**, in reply to Eva Dvořáková, " + times["Petr"])
    assert lines[2].startswith("↳ ↳ **Jana**, in reply to Petr, " + times["Jana"])
    assert lines[0].startswith("**Eva Dvořáková**, " + times["Eva Dvořáková"])
    assert lines[3].startswith("**Karel**, " + times["Karel"])       # after {{od}}: a new top-level comment
    assert "(unsigned)" in lines[4]
    assert "**Czech Wikipedia / " + title.replace(":", ":") + " / Editor padá**" in digest
    assert "Special:GoToComment/c-Eva_Dvo" in digest
    # No invisible characters in names, labels, times or plain quotes.
    assert "\u2060" not in "\n".join(ln.split(" ([[ http")[0] for ln in lines) + digest.split("\n", 3)[2]
    # Quoted text is what the person wrote: no signature, image, template or timestamp debris.
    quotes = [ln[2:] for ln in digest.split("\n") if ln.startswith("> ")]
    assert quotes == [QUOTES[a] for a in ("Eva Dvořáková", "Petr", "Jana", "Karel")] + \
        ["Tohle jsem zapomněl podepsat."]
    for q in quotes:
        assert not any(d in q for d in DEBRIS), q
        assert "\u2060" not in q and "\u200b" not in q

    # One reply for the thread, after its last comment (Karel, written after {{od}}), one level deeper.
    page = human["cs"].page_text(title).split("\n")
    bot = [i for i, ln in enumerate(page) if "TestBot" in ln]
    assert len(bot) == 1
    karel = next(i for i, ln in enumerate(page) if "iPhonu" in ln)
    # (DiscussionTools leaves a blank line before a reply to a top-level comment; the wikitext path none.)
    assert bot[0] == next(i for i in range(karel + 1, len(page)) if page[i].strip()), "\n".join(page)
    t = tasks[task]
    assert re.match(rf"^:Předáno do úkolu \[\[phab:T{t}\|T{t}\]\]\. <!-- ambassador-bot:key=[a-z]+(,[a-z]+){{3}} -->",
                    page[bot[0]])

    # The digest page: each wiki under its own heading, threads in order, local times.
    page_text = human["cs"].page_text(DIGEST)
    assert "== česká Wikipedie ==" in page_text and "korejská" not in page_text
    entries = [ln for ln in page_text.split("\n") if ln.startswith("*")]
    assert [re.search(r"'''([^']+)'''", ln).group(1) for ln in entries] == \
        ["Eva Dvořáková", "Petr", "Jana", "Karel", "OtherUser"]
    assert entries[1].startswith("** ") and "v odpovědi Eva Dvořáková" in entries[1]
    assert entries[2].startswith("*** ")
    assert "\u2060" not in page_text and "\u200b" not in page_text

    # A later edit: forwarded once as an edit, no second reply.
    human["cs"].edit(title, human["cs"].page_text(title).replace("na tabletu.", "na tabletu i telefonu."), "oprava")
    assert feedback.run(ctx).problems == []
    got = conduit.comments(tasks[task])
    assert len(got) == 2 and "**edited**" in got[1]["text"] and "> Ověřím to na tabletu i telefonu." in got[1]["text"]
    assert "in reply to Petr" in got[1]["text"]
    assert len([ln for ln in human["cs"].page_text(title).split("\n") if "TestBot" in ln]) == 1

    # A human answers the bot's reply: their comment goes out, the bot replies once more, at the end.
    append_line = ":: Díky za předání. ~~~~\n"
    human["cs"].edit(title, human["cs"].page_text(title).replace("\n\n== Jiné ==", "\n" + append_line + "\n== Jiné =="),
                     "odpověď")
    assert feedback.run(ctx).problems == []
    page = human["cs"].page_text(title).split("\n")
    bot = [i for i, ln in enumerate(page) if "TestBot" in ln and "Předáno" in ln]
    assert len(bot) == 2
    thanks = next(i for i, ln in enumerate(page) if "Díky za předání." in ln)
    assert bot[1] == next(i for i in range(thanks + 1, len(page)) if page[i].strip()) and \
        page[bot[1]].startswith(":::Předáno"), "\n".join(page)

    # A renamed section: nothing new, no reply.
    before = len(conduit.comments(tasks[task]))
    human["cs"].edit(title, human["cs"].page_text(title).replace("== Editor padá ==", "== Mobilní editor padá =="),
                     "přejmenování")
    report = feedback.run(ctx)
    assert report.problems == [] and report.saved == []
    assert len(conduit.comments(tasks[task])) == before


def test_archived_thread_is_not_new_feedback(world):
    ctx, conduit, human, tasks = world
    text, _ = thread_page("Archivované")
    append(human["cs"], TALK, text)
    assert feedback.run(ctx).problems == []
    before = len(conduit.comments(tasks["cs"]))
    page = human["cs"].page_text(TALK)
    thread = page[page.index("== Archivované =="):]
    human["cs"].edit(TALK, page.replace(thread, "").rstrip("\n") + "\n", "archivace")
    append(human["cs"], ARCHIVE, thread)
    report = feedback.run(ctx)
    assert report.problems == [] and len(conduit.comments(tasks["cs"])) == before
    assert [ln for ln in human["cs"].page_text(ARCHIVE).split("\n") if "TestBot" in ln] == \
        [ln for ln in thread.split("\n") if "TestBot" in ln]


def test_korean_thread_and_per_wiki_digest_sections(world):
    ctx, conduit, human, tasks = world
    kim, lee, park = ko_time(6), ko_time(4), ko_time(2)
    append(human["ko"], KO_TALK, f"== 편집기 ==\n모바일 편집기가 느립니다. [[사용자:김민수|<span style=\"color:navy\">김민수</span>]] "
                                 f"([[사용자토론:김민수|토론]]) {kim[0]}\n"
                                 f":저도 그렇습니다. [[사용자:이영희|이영희]] ([[사용자토론:이영희|토론]]) {lee[0]}\n"
                                 f"::확인하겠습니다. [[사용자:박지훈|박지훈]] ([[사용자토론:박지훈|토론]]) {park[0]}\n")
    text, _ = thread_page("Editor padá")
    append(human["cs"], TALK, text)
    assert feedback.run(ctx).problems == []
    [ko] = conduit.comments(tasks["ko"])
    lines = comment_lines(ko["text"])
    assert lines[0].startswith("**김민수**, " + kim[1])
    assert lines[1].startswith("↳ **이영희**, in reply to 김민수, " + lee[1])
    assert lines[2].startswith("↳ ↳ **박지훈**, in reply to 이영희, " + park[1])
    assert "**Korean Wikipedia / " in ko["text"] and "\u2060" not in "\n".join(lines)
    assert [ln[2:] for ln in ko["text"].split("\n") if ln.startswith("> ")] == \
        ["모바일 편집기가 느립니다.", "저도 그렇습니다.", "확인하겠습니다."]
    # ko reply: one, after the last comment, one level deeper.
    page = human["ko"].page_text(KO_TALK).split("\n")
    [bot] = [i for i, ln in enumerate(page) if "TestBot" in ln]
    assert page[bot - 1].startswith("::확인하겠습니다.") and page[bot].startswith(":::[[phab:")
    # The cs digest page: cs and ko comments each under their own wiki's heading (in Czech), ko times in KST.
    digest = human["cs"].page_text(DIGEST)
    cs_at, ko_at = digest.index("== česká Wikipedie =="), digest.index("== korejská Wikipedie ==")
    ko_part = digest[ko_at:] if ko_at > cs_at else digest[ko_at:cs_at]
    assert "김민수" in ko_part and "Eva Dvořáková" not in ko_part and "KST" in ko_part
    # A second cycle adds to the right sections instead of new headings.
    append(human["ko"], KO_TALK, f":::감사합니다. ~~~~\n")
    append(human["cs"], TALK, "== Další ==\nJeště jedna věc. ~~~~\n")
    assert feedback.run(ctx).problems == []
    digest = human["cs"].page_text(DIGEST)
    assert digest.count("== korejská Wikipedie ==") == 1 and digest.count("== česká Wikipedie ==") == 1
    ko_at, cs_at = digest.index("== korejská Wikipedie =="), digest.index("== česká Wikipedie ==")
    ko_part = digest[ko_at:] if ko_at > cs_at else digest[ko_at:cs_at]
    assert "감사합니다" in ko_part and "Ještě jedna věc" not in ko_part


def test_both_paths_give_the_same_quoted_text(world):
    """The same page through DiscussionTools and through the wikitext parser: the same comments, the
    same quoted text; DiscussionTools' own HTML text is free of image and template debris too."""
    ctx, conduit, human, tasks = world
    text, _ = thread_page("Obě cesty")
    human["cs"].edit(TALK, text, "test")
    wiki = ctx.wikis["cs"]
    [rev] = [r for r in wiki.revisions_by_id({human["cs"].revisions(TALK, limit=1)[0]["revid"]}).values()]
    newest = feedback.revision_from_api(rev)
    facts = wiki_facts(wiki)     # read from the live wiki
    parse = feedback.discussiontools_parser(wiki, TALK, newest, facts)
    assert parse is not None
    dt_signed, _ = parse(newest)
    wt_signed, _ = parse_comments(newest.text, facts)
    assert [(c.id, c.author, c.text, c.parent, c.level) for c in dt_signed] == \
        [(c.id, c.author, c.text, c.parent, c.level) for c in wt_signed]
    assert [c.text for c in wt_signed] == list(QUOTES.values())
    raw_dt = comments_from_threaditems(wiki.discussion_items(TALK), facts)
    assert [c.id for c in raw_dt] == [c.id for c in wt_signed]
    for c in raw_dt:
        assert not any(d in c.text for d in ("15px", "Soubor:", "Šablona:", "Shrnuto")), c.text
