"""Delivery to talk pages that do not exist yet, end to end on the real local cs wiki.

As MassMessage: the talk page of an existing account is created by the message; a missing
talk page whose account does not exist is reported and not created; a page created between
the bot's read and its write (`createonly` refused with `articleexists`) is looked at like
any existing page before the bot posts to it.
"""
from __future__ import annotations

import pytest

from bot.adapters.wiki import WikiClient
from bot.domain import newsletter as nl
from bot.errors import NotFound
from bot.jobs import newsletter
from tests.integration.helpers import set_secrets
from tests.integration.test_newsletter_e2e import CS_TALK, EDITION, PAGES, context, newsletter_config, page_title

pytestmark = pytest.mark.integration

EXISTING = f"{CS_TALK}OtherUser"     # (a) an account with a talk page
UNBORN = f"{CS_TALK}Admin"           # (b) an account (created by install.php) without a talk page
NOBODY = f"{CS_TALK}Nikdo takový"    # (c) no such account
IP = f"{CS_TALK}192.0.2.7"           # an IP address: no account either


@pytest.fixture
def approved(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch):
    """An approved cs edition (no task links, no task comments) and a human's API client."""
    set_secrets(monkeypatch, wikis, conduit, codes=("cs",))
    data = newsletter_config(wikis, conduit, tmp_path, pywikibot_dir, codes=("cs",), comment_tasks=False)
    human = wikis.api("cs", wikis.wikis["cs"].human)
    # A person writes the draft and marks it ready in the same edit: that revision approves it.
    human.edit(PAGES["cs"]["draft_page"].replace("{edition}", EDITION),
               nl.STATUS_MARKER.format(status=nl.READY) + "\nV prosinci jsme vylepšili uvítání nováčků.", "návrh")
    return data, human


def subscribe(human, *titles):
    human.edit(PAGES["cs"]["subscribers"], "\n".join(f"{{{{target|page={t}}}}}" for t in titles), "seznam")


def copies(human, title):
    text = human.page_text(title)
    return 0 if text is None else text.count(nl.key_marker(nl.delivery_key(EDITION, "cs", title)))


def test_missing_talk_page_is_created_for_an_existing_user_and_not_for_a_missing_one(approved, tmp_path):
    data, human = approved
    human.edit(EXISTING, "Ahoj.", "x")
    assert human.page_text(UNBORN) is None and human.page_text(NOBODY) is None
    subscribe(human, EXISTING, UNBORN, NOBODY, IP)

    dry = context(data, tmp_path, dry_run=True)
    newsletter.command(dry, "publish", EDITION, ["cs"])
    out = dry.out.getvalue()
    assert f"would post to cs:{EXISTING}: section" in out and f"would create cs:{UNBORN} with section" in out
    assert "Nikdo" not in out and "192.0.2.7" not in out and human.page_text(UNBORN) is None

    ctx = context(data, tmp_path)
    report = newsletter.command(ctx, "publish", EDITION, ["cs"])
    assert report.problems == [], report.problems
    assert human.page_text(page_title("cs")) is not None
    assert copies(human, EXISTING) == 1 and copies(human, UNBORN) == 1
    created = human.revisions(UNBORN)
    assert len(created) == 1 and created[0]["user"] == "TestBot"                 # (b) the bot created it
    assert "== Zpravodaj Growth – prosinec 2026 ==" in human.page_text(UNBORN)
    assert human.page_text(NOBODY) is None and human.page_text(IP) is None        # (c) not created ...
    held = "\n".join(report.held)
    assert "no such user 'Nikdo takový'" in held and "no such user '192.0.2.7'" in held    # ... and reported

    revisions = {t: human.revisions(t, 1)[0]["revid"] for t in (EXISTING, UNBORN)}
    report = newsletter.command(ctx, "publish", EDITION, ["cs"])
    assert report.saved == [] and report.problems == []
    assert {t: human.revisions(t, 1)[0]["revid"] for t in (EXISTING, UNBORN)} == revisions
    assert human.page_text(NOBODY) is None and copies(human, UNBORN) == 1


def hook_first_creation(monkeypatch, ctx, before):
    """Run `before(...)` just before the bot's first write reaches the wiki; record every write."""
    wiki = ctx.wikis["cs"]
    original = WikiClient.new_section.__get__(wiki)
    calls = []

    def new_section(title, heading, text, summary, *, createonly=False):
        if not calls:
            before(title, heading, text, summary)
        call = {"title": title, "createonly": createonly, "refused": None}
        calls.append(call)
        try:
            return original(title, heading, text, summary, createonly=createonly)
        except NotFound as exc:
            call["refused"] = exc.code
            raise
    monkeypatch.setattr(wiki, "new_section", new_section)
    return calls


def test_page_created_by_a_person_between_read_and_write_is_not_clobbered_and_gets_one_copy(
        approved, tmp_path, monkeypatch):
    data, human = approved
    subscribe(human, UNBORN)
    ctx = context(data, tmp_path)
    calls = hook_first_creation(monkeypatch, ctx, lambda title, *_: human.edit(title, "Vítej na Wikipedii!", "uvítání"))
    report = newsletter.command(ctx, "publish", EDITION, ["cs"])
    assert report.problems == [], report.problems
    assert [(c["createonly"], c["refused"]) for c in calls] == [(True, "articleexists"), (False, None)]
    text = human.page_text(UNBORN)
    assert text.startswith("Vítej na Wikipedii!") and copies(human, UNBORN) == 1
    assert [r["user"] for r in reversed(human.revisions(UNBORN))] == ["OtherUser", "TestBot"]

    report = newsletter.command(ctx, "publish", EDITION, ["cs"])
    assert report.saved == [] and copies(human, UNBORN) == 1


def test_page_created_by_our_own_lost_write_is_not_posted_to_twice(approved, tmp_path, monkeypatch):
    data, human = approved
    subscribe(human, UNBORN)
    ctx = context(data, tmp_path)
    wiki = ctx.wikis["cs"]

    def our_earlier_write_whose_answer_was_lost(title, heading, text, summary):
        WikiClient.new_section(wiki, title, heading, text, summary)
    calls = hook_first_creation(monkeypatch, ctx, our_earlier_write_whose_answer_was_lost)
    report = newsletter.command(ctx, "publish", EDITION, ["cs"])
    assert report.problems == [], report.problems
    assert copies(human, UNBORN) == 1 and ctx.store.has_post(nl.delivery_key(EDITION, "cs", UNBORN))
    assert [(c["createonly"], c["refused"]) for c in calls] == [(True, "articleexists")]


def test_users_exist_asks_in_batches(approved, tmp_path, monkeypatch):
    data, _ = approved
    wiki = context(data, tmp_path).wikis["cs"]
    wiki.site    # log in first: the count below is of look-ups only
    monkeypatch.setattr(WikiClient, "batch_size", property(lambda self: 2))
    before = wiki.request_count
    found = wiki.users_exist(["Admin", "otherUser", "TestBot", "Nikdo takový", "192.0.2.7"])
    assert found == {"Admin", "otherUser", "TestBot"}
    assert wiki.request_count - before == 3
