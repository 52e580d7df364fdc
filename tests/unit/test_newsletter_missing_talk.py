"""Delivery to user talk pages that do not exist yet, as MassMessage does it, against adapter doubles.

A missing talk page is created by the message (`section=new` with `createonly`) when its user
account exists, and skipped with "no such user" when it does not. A page created between the
read and the write is looked at like any existing page before the bot posts to it.
"""
from __future__ import annotations

import io
from pathlib import Path

from bot.domain import newsletter as nl
from bot.errors import UncertainWriteError
from bot.jobs import newsletter
from bot.jobs.base import JobContext
from bot.settings import parse_settings
from bot.store import MemoryStore
from tests.fakes import FakePhab, FakeWiki

EDITION = "2026-12"
TALK = "Diskuse s wikipedistou:"
SUBSCRIBERS = "Wikipedie:Z/S"
NAMESPACES = {"Wikipedista": 2, "Diskuse s wikipedistou": 3, "Wikipedie": 4, "Diskuse k Wikipedii": 5}


class Crash(BaseException):
    """The process dies: nothing after it runs (not an Exception, so no handler catches it)."""


class TalkWiki(FakeWiki):
    """FakeWiki with cs namespaces that records user look-ups and sections, with hooks around a section=new."""

    def __init__(self, users=(), **kw):
        super().__init__(**kw)
        self.users = set(users)
        self.namespaces = {n: {name} for name, n in NAMESPACES.items()}
        self.user_lookups: list[list[str]] = []
        self.posts: list[tuple[str, bool]] = []          # (title, createonly) of every section=new sent
        self.before_post = None                          # hook(title, createonly), once
        self.after_post = None                           # hook(title), once: runs after the server wrote

    def save(self, page, text, summary, minor=False, merge_ok=True):
        if not page.exists:
            self.saves.append(page.title)
            return self.edit(page.title, text, user=self.settings.username)
        return super().save(page, text, summary, minor)

    def users_exist(self, names):
        names = list(names)
        self.user_lookups.append(names)
        return super().users_exist(names)

    def new_section(self, title, heading, text, summary, *, createonly=False):
        self.posts.append((title, createonly))
        if self.before_post:
            hook, self.before_post = self.before_post, None
            hook(title, createonly)
        revid = super().new_section(title, heading, text, summary, createonly=createonly)
        if self.after_post:
            hook, self.after_post = self.after_post, None
            hook(title)
        return revid


def context(wiki, *, dry_run=False, store=None):
    settings = parse_settings({
        "bot": {"user_agent": "t/1 (t@example.org)", "state_url": "memory://"},
        "phabricator": {"url": "http://127.0.0.1:1/"},
        "wikis": {"cs": {"api_url": "http://127.0.0.1:2/api.php", "language": "cs", "timezone": "Europe/Prague",
                         "username": "TestBot"}},
        "newsletters": {"projects": ["growth-team"], "comment_tasks": False,
                        "wikis": {"cs": {"draft_page": "Wikipedie:Z/{edition}", "page": "Wikipedie:Z/V/{edition}",
                                         "subscribers": SUBSCRIBERS, "optout_category": "Kategorie:Bez zpravodaje"}}},
    }, Path("t.yaml"))
    store = store or MemoryStore()
    # Approval is tested elsewhere: start from an edition whose approved text is already frozen.
    store.put(newsletter.NS_EDITION, f"cs:{EDITION}", {"frozen": {
        "revid": 1, "hash": nl.body_hash("Novinky."), "body": "Novinky.", "approved_by": "Jana", "at": 0}})
    return JobContext(settings=settings, store=store, phab=FakePhab(), wikis={"cs": wiki}, out=io.StringIO(),
                      dry_run=dry_run, clock=lambda: 1796860800)


def subscribe(wiki, *names):
    wiki.edit(SUBSCRIBERS, "\n".join(f"{{{{target|page={TALK}{n}}}}}" for n in names))


def publish(ctx):
    return newsletter.command(ctx, "publish", EDITION, ["cs"])


def copies(wiki, name):
    title = TALK + name
    return wiki.text(title).count(nl.key_marker(nl.delivery_key(EDITION, "cs", title))) if title in wiki.pages else 0


def test_missing_talk_page_of_an_existing_user_is_created_once():
    wiki = TalkWiki(users={"Jana", "Petr"})
    wiki.edit(TALK + "Petr", "Ahoj.")
    subscribe(wiki, "Petr", "Jana")
    ctx = context(wiki)
    report = publish(ctx)
    assert report.problems == [] and report.held == []
    assert copies(wiki, "Petr") == 1 and copies(wiki, "Jana") == 1
    assert wiki.pages[TALK + "Jana"][0][1] == "TestBot"                   # the bot created it
    assert (TALK + "Jana", True) in wiki.posts and (TALK + "Petr", False) in wiki.posts
    assert wiki.user_lookups == [["Jana"]]                                 # only missing pages are looked up

    posts = len(wiki.posts)
    report = publish(ctx)
    assert report.saved == [] and report.problems == [] and len(wiki.posts) == posts
    assert copies(wiki, "Jana") == 1


def test_missing_talk_page_of_an_unknown_account_is_reported_and_not_created():
    wiki = TalkWiki(users={"Jana"})
    subscribe(wiki, "Jana", "Nikdo", "Nikdo/Archiv", "192.0.2.7")
    report = publish(context(wiki))
    assert [t for _, t, _ in report.saved if t.startswith(TALK)] == [TALK + "Jana"]
    held = "\n".join(report.held)
    assert "no such user 'Nikdo'" in held and "no such user '192.0.2.7'" in held
    assert f"{TALK}Nikdo/Archiv" in held
    assert TALK + "Nikdo" not in wiki.pages and TALK + "192.0.2.7" not in wiki.pages
    # One batched look-up for all missing user talk pages, not one per target.
    assert len(wiki.user_lookups) == 1 and sorted(set(wiki.user_lookups[0])) == ["192.0.2.7", "Jana", "Nikdo"]


def test_missing_page_that_is_not_a_talk_page_is_still_skipped():
    wiki = TalkWiki(users={"Jana"})
    wiki.edit(SUBSCRIBERS, "{{target|page=Wikipedista:Jana}}\n{{target|page=Diskuse k Wikipedii:Novinky}}")
    report = publish(context(wiki))
    assert "Wikipedista:Jana" not in wiki.pages
    assert any("'Wikipedista:Jana': the page does not exist and is not a talk page" in h for h in report.held)
    # Other talk namespaces are created without a user look-up, as MassMessage posts to any talk page.
    assert wiki.pages["Diskuse k Wikipedii:Novinky"][0][1] == "TestBot" and wiki.user_lookups == []


def test_dry_run_shows_would_create_and_writes_nothing():
    wiki = TalkWiki(users={"Jana", "Petr"})
    wiki.edit(TALK + "Petr", "Ahoj.")
    subscribe(wiki, "Petr", "Jana", "Nikdo")
    ctx = context(wiki, dry_run=True)
    report = publish(ctx)
    out = ctx.out.getvalue()
    assert f"would create cs:{TALK}Jana with section 'Zpravodaj Growth – prosinec 2026'" in out
    assert f"would post to cs:{TALK}Petr: section" in out and "Nikdo" not in out
    assert any("no such user 'Nikdo'" in h for h in report.held)
    assert wiki.posts == [] and TALK + "Jana" not in wiki.pages


def test_page_created_by_a_person_between_read_and_write_gets_the_message_appended():
    wiki = TalkWiki(users={"Jana"})
    subscribe(wiki, "Jana")
    wiki.before_post = lambda title, createonly: wiki.edit(title, "Vítej na Wikipedii!", user="Uvítač")
    report = publish(context(wiki))
    assert report.problems == []
    assert wiki.posts == [(TALK + "Jana", True), (TALK + "Jana", False)]   # createonly refused, then appended
    assert wiki.text(TALK + "Jana").startswith("Vítej na Wikipedii!") and copies(wiki, "Jana") == 1
    assert [u for _, u, _ in wiki.pages[TALK + "Jana"]] == ["Uvítač", "TestBot"]


def test_page_created_meanwhile_by_our_own_lost_write_is_not_posted_to_again():
    wiki = TalkWiki(users={"Jana"})
    subscribe(wiki, "Jana")

    def earlier_attempt_of_ours(title, createonly):
        heading, key = "Zpravodaj Growth – prosinec 2026", nl.delivery_key(EDITION, "cs", title)
        revid = wiki.edit(title, f"== {heading} ==\nNovinky. {nl.key_marker(key)}", user="TestBot")
        wiki.summaries[revid] = "Zpravodaj"
    wiki.before_post = earlier_attempt_of_ours
    ctx = context(wiki)
    report = publish(ctx)
    assert report.problems == [] and copies(wiki, "Jana") == 1
    assert wiki.posts == [(TALK + "Jana", True)]
    assert ctx.store.has_post(nl.delivery_key(EDITION, "cs", TALK + "Jana"))
    assert ctx.store.items(newsletter.NS_PENDING) == {}


def test_page_created_meanwhile_with_nobots_is_left_alone():
    wiki = TalkWiki(users={"Jana"})
    subscribe(wiki, "Jana")
    wiki.before_post = lambda title, createonly: wiki.edit(title, "{{nobots}} Klid, prosím.", user="Jana")
    ctx = context(wiki)
    report = publish(ctx)
    assert wiki.text(TALK + "Jana") == "{{nobots}} Klid, prosím." and len(wiki.posts) == 1
    assert any("created meanwhile, excluding the bot" in h for h in report.held)
    assert ctx.store.items(newsletter.NS_PENDING) == {}


def test_crash_after_creating_the_page_is_not_delivered_twice_even_if_the_section_was_removed():
    wiki = TalkWiki(users={"Jana"})
    subscribe(wiki, "Jana")
    ctx = context(wiki)

    def crash(title):
        raise Crash()
    wiki.after_post = crash
    try:
        publish(ctx)
    except Crash:
        pass
    key = nl.delivery_key(EDITION, "cs", TALK + "Jana")
    assert not ctx.store.has_post(key) and key in ctx.store.items(newsletter.NS_PENDING)
    wiki.edit(TALK + "Jana", "Archivováno.", user="Jana")      # the message is gone from the page
    report = publish(ctx)
    assert report.saved == [] and report.problems == [] and len(wiki.posts) == 1
    assert ctx.store.has_post(key)


def test_uncertain_creation_that_did_not_happen_is_created_on_the_next_run():
    wiki = TalkWiki(users={"Jana"})
    subscribe(wiki, "Jana")
    ctx = context(wiki)

    def timeout(title, createonly):
        raise UncertainWriteError(f"wiki cs page {title!r}: ReadTimeout; the write may have happened")
    wiki.before_post = timeout
    report = publish(ctx)
    assert len(report.problems) == 1 and "checked on the next run" in report.problems[0]
    assert TALK + "Jana" not in wiki.pages
    report = publish(ctx)
    assert report.problems == [] and copies(wiki, "Jana") == 1
    assert wiki.posts[-1] == (TALK + "Jana", True)
