"""An ambassador's newsletter from the wiki alone: the worker's job drafts, a person approves on the
wiki, the job publishes at the send time and not before; untouched drafts are refused with the reason
on the draft. Real MediaWiki (cs, ko) and the real local Phorge; no CLI command."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain import newsletter as nl
from bot.jobs import newsletter
from tests.integration.test_newsletter_e2e import (CS_TALK, EDITION, KO_TALK, PAGES, context, copies, draft_title,
                                                   page_title, world)  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration


def at(text_time: str, tz: str) -> float:
    return datetime.strptime(text_time, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(tz)).timestamp()


def test_ready_on_the_wiki_is_enough_at_the_send_time_and_not_before(world, tmp_path):
    data, humans, ids = world
    cs, ko = humans["cs"], humans["ko"]
    for i in range(3):
        cs.edit(f"{CS_TALK}Čtenář{i}", "Ahoj.", "x")
    cs.edit(PAGES["cs"]["subscribers"], "\n".join(f"{{{{target|page={CS_TALK}Čtenář{i}}}}}" for i in range(3)), "x")
    ko.edit(f"{KO_TALK}독자", "안녕하세요.", "x")
    ko.edit(PAGES["ko"]["subscribers"], f"{{{{target|page={KO_TALK}독자}}}}", "x")
    data["newsletters"]["comment_tasks"] = False
    ctx = context(data, tmp_path)
    now = {"t": at("2027-01-04 08:00", "Europe/Prague")}        # Monday 4 January: December's edition is due
    ctx.clock = lambda: now["t"]

    newsletter.run(ctx)                                          # the worker drafts December on both wikis
    draft = cs.page_text(draft_title("cs"))
    assert nl.draft_status(draft) == "draft" and "při svém příštím běhu po schválení" in nl.help_of(draft)

    # 1. Ready, but nobody touched the bot's text: refused, the reason on the draft, back to draft.
    cs.edit(draft_title("cs"), nl.set_status(draft, nl.READY), "hotovo")
    report = newsletter.run(ctx)
    draft = cs.page_text(draft_title("cs"))
    assert nl.draft_status(draft) == "draft" and "text nikdo neupravil" in nl.help_of(draft)
    assert any("nobody edited the text the bot generated" in h for h in report.held), report.held
    assert cs.page_text(page_title("cs")) is None

    # 2. Edited and approved for Monday 10:00 Prague (Czech form), ko for 2027년 1월 4일 오후 6시 (Seoul).
    cs.edit(draft_title("cs"), (draft + "\nMilí čtenáři, přeložila jsem názvy.").replace(
        "status=draft", "status=ready send=4. 1. 2027 10:00"), "schvaluji, odeslat v pondělí v 10")
    kod = ko.page_text(draft_title("ko"))
    ko.edit(draft_title("ko"), (kod + "\n번역했습니다.").replace(
        "status=draft", "status=ready send=2027년 1월 4일 오후 6시"), "승인")
    report = newsletter.run(ctx)                                 # 08:00 Prague = 16:00 Seoul: too early for both
    assert cs.page_text(page_title("cs")) is None and ko.page_text(page_title("ko")) is None
    assert "dne 4. 1. 2027 (pondělí) v 10:00" in nl.help_of(cs.page_text(draft_title("cs")))
    assert "2027년 1월 4일 월요일 18:00" in nl.help_of(ko.page_text(draft_title("ko")))
    assert any("scheduled for" in h for h in report.held)

    now["t"] = at("2027-01-04 09:59", "Europe/Prague")           # one minute before: still nothing
    newsletter.run(ctx)
    assert cs.page_text(page_title("cs")) is None and "Zpravodaj" not in cs.page_text(f"{CS_TALK}Čtenář0")

    now["t"] = at("2027-01-04 10:00", "Europe/Prague")           # cs is due; ko (18:00 Seoul = 10:00 Prague) too
    report = newsletter.run(ctx)
    assert report.problems == [], report.problems
    assert cs.page_text(page_title("cs")) is not None, report.held
    assert "přeložila jsem názvy" in cs.page_text(page_title("cs"))
    for i in range(3):
        title = f"{CS_TALK}Čtenář{i}"
        assert copies(cs.page_text(title), nl.delivery_key(EDITION, "cs", title)) == 1
    assert copies(ko.page_text(f"{KO_TALK}독자"), nl.delivery_key(EDITION, "ko", f"{KO_TALK}독자")) == 1
    help_cs = nl.help_of(cs.page_text(draft_title("cs")))
    assert "Rozesláno" in help_cs and "doručeno 3 z 3" in help_cs, help_cs
    assert "1곳 중 1곳에 전달" in nl.help_of(ko.page_text(draft_title("ko")))
    assert "Doručování skončilo" in cs.page_text(page_title("cs") + "/Doručení")
    assert "전달이 끝났습니다" in ko.page_text(page_title("ko") + "/배달 보고")

    # Later runs write nothing more.
    revs = cs.revisions(f"{CS_TALK}Čtenář0", 1)[0]["revid"]
    assert newsletter.run(ctx).saved == []
    assert cs.revisions(f"{CS_TALK}Čtenář0", 1)[0]["revid"] == revs


def test_empty_edition_goes_out_only_with_force_said_on_the_wiki(world, conduit, tmp_path):
    data, humans, ids = world
    cs = humans["cs"]
    cs.edit(f"{CS_TALK}Čtenář", "Ahoj.", "x")
    cs.edit(PAGES["cs"]["subscribers"], f"{{{{target|page={CS_TALK}Čtenář}}}}", "x")
    data["newsletters"]["comment_tasks"] = False
    data["newsletters"]["wikis"] = {"cs": {k: v for k, v in PAGES["cs"].items() if k != "intro_page"}}
    data["newsletters"]["projects"] = ["empty-project"]
    conduit.create_project("Empty-Project", "empty-project")
    ctx = context(data, tmp_path)
    ctx.clock = lambda: at("2027-01-04 08:00", "Europe/Prague")
    newsletter.run(ctx)
    draft = cs.page_text(draft_title("cs"))
    assert "nic nezměnilo" in draft
    cs.edit(draft_title("cs"), nl.set_status(draft + "\nPodpis velvyslance.", nl.READY), "x")
    report = newsletter.run(ctx)
    assert any("says nothing changed" in h for h in report.held), report.held
    assert "nic nezměnilo." in nl.help_of(cs.page_text(draft_title("cs")))
    assert cs.page_text(page_title("cs")) is None
    draft = cs.page_text(draft_title("cs"))
    cs.edit(draft_title("cs"), draft.replace("status=draft", "status=ready force"), "přesto poslat")
    report = newsletter.run(ctx)
    assert report.problems == [] and cs.page_text(page_title("cs")) is not None
    assert copies(cs.page_text(f"{CS_TALK}Čtenář"), nl.delivery_key(EDITION, "cs", f"{CS_TALK}Čtenář")) == 1
