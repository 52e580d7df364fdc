"""The MediaWiki adapter against the real local wikis."""
from __future__ import annotations

import pytest

from bot.adapters.writes import issuing
from bot.errors import EditConflict, NotFound, Protected, TransientError
from tests.integration.helpers import make_context


@pytest.fixture(autouse=True)
def _issued_by_the_writer():
    """These tests are about the adapter itself; in the bot its writes come from the writer."""
    with issuing():
        yield


pytestmark = pytest.mark.integration


@pytest.fixture
def cs(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch):
    ctx = make_context(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch, codes=("cs",), tables=[])
    return ctx.wikis["cs"], wikis.api("cs", wikis.wikis["cs"].human), wikis


def test_reads_many_pages_in_one_batched_request(cs):
    wiki, human, farm = cs
    titles = [f"Wikipedie:Stránka {i}" for i in range(120)]
    for t in titles[:5]:
        human.edit(t, f"obsah {t}", "x")
    wiki.site  # log in first so only reads are counted
    before = wiki.request_count
    pages = wiki.read_pages(titles + ["wikipedie:Stránka_0"])
    assert wiki.batch_size == 500   # the bot group has apihighlimits
    assert wiki.request_count - before == 1
    assert pages["Wikipedie:Stránka 0"].text == "obsah Wikipedie:Stránka 0"
    assert pages["wikipedie:Stránka_0"].revid == pages["Wikipedie:Stránka 0"].revid
    assert not pages["Wikipedie:Stránka 100"].exists


def test_same_second_human_edit_is_a_conflict_not_overwritten(cs):
    wiki, human, farm = cs
    title = "Wikipedie:Konflikt"
    human.edit(title, "původní", "x")
    page = wiki.read_pages([title])[title]
    human.edit(title, "původní\nlidská změna", "člověk")   # same second as the read, in practice
    with pytest.raises(EditConflict):
        wiki.save(page, "původní\nbot", "bot")
    assert human.page_text(title) == "původní\nlidská změna"


def test_save_returns_new_revision_and_is_a_bot_edit(cs):
    wiki, human, farm = cs
    title = "Wikipedie:Bot"
    human.edit(title, "a", "x")
    page = wiki.read_pages([title])[title]
    revid = wiki.save(page, "b", "shrnutí")
    rev = human.revisions(title, limit=1)[0]
    assert rev["revid"] == revid and rev["user"] == "TestBot" and rev["comment"] == "shrnutí"


def test_missing_page_is_not_created_by_save_of_existing_state(cs):
    wiki, human, farm = cs
    title = "Wikipedie:Smazaná"
    human.edit(title, "a", "x")
    page = wiki.read_pages([title])[title]
    admin = farm.api("cs", farm.wikis["cs"].admin)
    admin.post(action="delete", title=title, token=admin.csrf())
    with pytest.raises((NotFound, EditConflict)):
        wiki.save(page, "b", "x")


def test_protected_page(cs):
    wiki, human, farm = cs
    title = "Wikipedie:Zamčená"
    human.edit(title, "a", "x")
    farm.api("cs", farm.wikis["cs"].admin).protect(title, "sysop")
    page = wiki.read_pages([title])[title]
    assert "sysop" in page.protected_edit
    with pytest.raises(Protected):
        wiki.save(page, "b", "x")


@pytest.fixture
def proxied_cs(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch):
    """The cs wiki behind a fault-injecting proxy (MediaWiki answers maxlag only when replicated)."""
    from tests.faultproxy import FaultProxy
    target = wikis.wikis["cs"].api_url.rsplit("/", 1)[0]
    proxy = FaultProxy(target, only_actions=("edit",)).start()
    from tests.integration import helpers
    data = helpers.config_data(wikis, conduit, tmp_path, pywikibot_dir, codes=("cs",), tables=[])
    data["wikis"]["cs"]["api_url"] = proxy.url + "/api.php"
    from bot.jobs.registry import build_context
    from bot.settings import parse_settings
    helpers.set_secrets(monkeypatch, wikis, conduit, ("cs",))
    ctx = build_context(parse_settings(data, tmp_path / "t.yaml"))
    from pywikibot import config
    monkeypatch.setattr(config, "max_retries", 2)
    monkeypatch.setattr(config, "retry_wait", 1)
    monkeypatch.setattr(config, "retry_max", 1)
    yield ctx.wikis["cs"], wikis.api("cs", wikis.wikis["cs"].human), proxy
    proxy.stop()


def test_maxlag_is_waited_out_and_the_edit_lands_once(proxied_cs):
    wiki, human, proxy = proxied_cs
    title = "Wikipedie:Lag"
    human.edit(title, "a", "x")
    page = wiki.read_pages([title])[title]
    proxy.queue = ["maxlag"]
    wiki.save(page, "b", "po zpoždění")
    assert human.page_text(title) == "b" and ("maxlag", "edit") in proxy.injected
    assert [r["comment"] for r in human.revisions(title)].count("po zpoždění") == 1


def test_persistent_maxlag_is_a_transient_error(proxied_cs):
    wiki, human, proxy = proxied_cs
    title = "Wikipedie:Lag2"
    human.edit(title, "a", "x")
    page = wiki.read_pages([title])[title]
    proxy.queue = ["maxlag"] * 10
    with pytest.raises(TransientError, match="lag"):
        wiki.save(page, "b", "x")
    assert human.page_text(title) == "a"


def test_recent_changes_since_a_timestamp(cs):
    wiki, human, farm = cs
    start = wiki.server_time()
    human.edit("Wikipedie:RC", "a", "x")
    changes = wiki.recent_changes(start)
    assert [c.title for c in changes] == ["Wikipedie:RC"] and changes[0].user == "OtherUser"


def test_new_section_after_a_read_timeout_is_not_resent(proxied_cs, monkeypatch):
    """pywikibot's Request would resend this POST; a talk-page message must not appear twice."""
    wiki, human, proxy = proxied_cs
    from pywikibot import config
    from bot.errors import UncertainWriteError
    title = "Diskuse s wikipedistou:OtherUser"
    human.edit(title, "Úvod.", "x")
    wiki.site  # log in before faults start
    monkeypatch.setattr(config, "socket_timeout", (5, 1))
    proxy.slow_seconds = 2.5
    proxy.queue = ["slow"]
    with pytest.raises(UncertainWriteError):
        wiki.new_section(title, "Zpravodaj", "Text zprávy.", "Zpravodaj")
    import time
    time.sleep(2)
    assert human.page_text(title).count("Text zprávy.") == 1


def test_server_error_on_write_is_uncertain_and_not_retried(proxied_cs):
    wiki, human, proxy = proxied_cs
    from bot.errors import UncertainWriteError
    title = "Wikipedie:Chyba"
    human.edit(title, "a", "x")
    page = wiki.read_pages([title])[title]
    proxy.queue = ["http503"]
    with pytest.raises(UncertainWriteError):
        wiki.save(page, "b", "x")
    assert proxy.injected == [("http503", "edit")]
    assert wiki.save(wiki.read_pages([title])[title], "b", "x") > 0


def test_every_wiki_request_carries_our_user_agent(proxied_cs):
    wiki, human, proxy = proxied_cs
    human.edit("Wikipedie:UA", "a", "x")
    page = wiki.read_pages(["Wikipedie:UA"])["Wikipedie:UA"]
    wiki.save(page, "b", "x")
    assert proxy.user_agents and all(ua.startswith("ambassador-bot-tests/0.1 (test@example.org)")
                                     for ua in proxy.user_agents), proxy.user_agents


def test_expired_session_during_a_write_is_a_bot_error_or_a_fresh_login(cs):
    """The wiki forgets every session (its database restored): the next write must not crash the job."""
    wiki, human, farm = cs
    from bot.errors import BotError
    title = "Wikipedie:Relace"
    human.edit(title, "a", "x")
    wiki.read_pages([title])              # logged in, tokens and cookies cached
    farm.reset()                          # drops sessions and the page; pywikibot still holds its cookies
    human = farm.api("cs", farm.wikis["cs"].human)
    human.edit(title, "a", "x")
    try:
        wiki.save(wiki.read_pages([title])[title], "b", "po ztrátě relace")
    except BotError as exc:
        assert "wiki cs" in str(exc) and "\n" not in str(exc)
    else:
        assert human.page_text(title) == "b"


def test_partial_block_refuses_that_page_only_full_block_stops_the_wiki(cs, conduit, tmp_path):
    from bot.errors import Blocked, TargetError
    from bot.jobs.base import JobContext, JobReport
    from bot.jobs.writer import NS_BLOCKS, run_guarded
    from bot.store import MemoryStore

    wiki, human, farm = cs
    forbidden, allowed = "Diskuse s wikipedistou:Zakázaná", "Diskuse s wikipedistou:Povolená"
    human.edit(forbidden, "Sem ne.", "x")
    human.edit(allowed, "Sem ano.", "x")
    admin = farm.api("cs", farm.wikis["cs"].admin)
    admin._write(action="block", user="TestBot", expiry="infinite", reason="jen tahle stránka",
                 partial=1, allowusertalk=1, pagerestrictions=forbidden)
    ctx = JobContext(settings=None, store=MemoryStore(), phab=None, wikis={"cs": wiki})
    outcome = {}

    def job(ctx):
        with pytest.raises(TargetError) as refused:
            wiki.new_section(forbidden, "A", "text", "s")
        outcome["refused"] = (type(refused.value), refused.value.code)
        outcome["saved"] = wiki.new_section(allowed, "B", "text", "s")
        return JobReport("x")
    run_guarded(job, ctx)
    assert outcome["refused"] == (TargetError, "partialblock") and outcome["saved"]
    assert wiki.blocked is None and wiki.block_reason() is None and ctx.store.items(NS_BLOCKS) == {}

    admin.unblock("TestBot")
    admin.block("TestBot")                                  # now sitewide
    with pytest.raises(Blocked):
        wiki.new_section(allowed, "C", "text", "s")
    assert wiki.blocked and "blocked by Admin" in wiki.block_reason()


def test_exact_save_notices_a_merge_even_when_the_other_edit_already_holds_the_change(cs):
    wiki, human, farm = cs
    title = "Wikipedie:Sloučení"
    human.edit(title, "line1\nline2\nline3\nline4\nline5", "x")
    page = wiki.read_pages([title])[title]
    # someone saves our change and one more before us: MediaWiki answers "nochange"
    human.edit(title, "line1\nline2\nLINE3\nline4\nline5 změněno", "člověk")
    with pytest.raises(EditConflict) as merged:
        wiki.save(page, "line1\nline2\nLINE3\nline4\nline5", "bot", merge_ok=False)
    assert merged.value.code == "merged" and merged.value.saved_revid is None
    # and a real merge says which revision it saved
    page = wiki.read_pages([title])[title]
    human.edit(title, "line1 člověk\nline2\nLINE3\nline4\nline5 změněno", "člověk")
    with pytest.raises(EditConflict) as merged:
        wiki.save(page, "line1\nline2\nLINE3\nline4\nline5 bot", "bot", merge_ok=False)
    assert merged.value.saved_revid == human.revisions(title, 1)[0]["revid"]
    assert human.page_text(title) == "line1 člověk\nline2\nLINE3\nline4\nline5 bot"


@pytest.mark.parametrize("token_known", [True, False])
def test_a_lost_session_is_logged_in_again_and_the_edit_lands_once(cs, token_known):
    wiki, human, farm = cs
    main = next(t for t, p in wiki.read_pages(["Hlavní strana", "Main Page"]).items() if p.exists)
    page = wiki.read_pages([main])[main]                  # logged in, with a session cookie
    if token_known:                                       # an edit token fetched in the lost session
        wiki.save(page, page.text + "\nprvní", "bot")
    farm.reset()                                          # the server forgets every session; the page is as read
    revid = wiki.save(page, page.text + "\nbot", "bot")   # refused for the session: log in again, send once
    revisions = human.revisions(main)
    assert revisions[0]["revid"] == revid and revisions[0]["user"] == "TestBot"
    assert [r["user"] for r in revisions].count("TestBot") == 1 and human.page_text(main).endswith("\nbot")
