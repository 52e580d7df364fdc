"""Malformed answers from the wiki: errors with context, never a crash or half-written state."""
from __future__ import annotations

import pytest

from bot.adapters.writes import issuing
from bot.errors import BotError, UncertainWriteError
from tests.faultproxy import FaultProxy
from tests.integration import helpers


@pytest.fixture(autouse=True)
def _issued_by_the_writer():
    """These tests are about the adapter itself; in the bot its writes come from the writer."""
    with issuing():
        yield


pytestmark = pytest.mark.integration


class GarblingProxy(FaultProxy):
    """Forwards requests, then mangles the next answers listed in `garble` (per action)."""

    def __init__(self, target):
        super().__init__(target)
        self.garble: list[tuple[str, bytes]] = []   # (action, replacement body)

    def _handle(self, handler, body):
        import urllib.parse
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(handler.path).query))
        if body:
            params.update(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
        if self.garble and self.garble[0][0] == params.get("action"):
            _, replacement = self.garble.pop(0)
            # forward first: the server does the work, the client gets rubbish back
            self._session.post(self.target + handler.path, data=body, headers={
                k: v for k, v in handler.headers.items() if k.lower() not in ("host", "content-length")})
            return FaultProxy._reply(handler, 200, replacement, "application/json", {})
        return super()._handle(handler, body)


@pytest.fixture
def garbled_cs(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch):
    proxy = GarblingProxy(wikis.wikis["cs"].api_url.rsplit("/", 1)[0]).start()
    data = helpers.config_data(wikis, conduit, tmp_path, pywikibot_dir, codes=("cs",), tables=[])
    data["wikis"]["cs"]["api_url"] = proxy.url + "/api.php"
    from bot.jobs.registry import build_context
    from bot.settings import parse_settings
    helpers.set_secrets(monkeypatch, wikis, conduit, ("cs",))
    ctx = build_context(parse_settings(data, tmp_path / "t.yaml"))
    from pywikibot import config
    monkeypatch.setattr(config, "max_retries", 1)
    monkeypatch.setattr(config, "retry_wait", 0)
    yield ctx.wikis["cs"], wikis.api("cs", wikis.wikis["cs"].human), proxy
    proxy.stop()


@pytest.mark.parametrize("body", [b'{"edit": {"result": "Succ', b"\xff\xfe\x00garbage", b"<html>Fatal</html>",
                                  b'["not", "an", "object"]'])
def test_malformed_answer_to_a_write_is_uncertain_and_not_resent(garbled_cs, body):
    wiki, human, proxy = garbled_cs
    title = "Wikipedie:Rozbitá odpověď"
    human.edit(title, "a", "x")
    page = wiki.read_pages([title])[title]
    proxy.garble = [("edit", body)]
    with pytest.raises(UncertainWriteError, match="may have happened"):
        wiki.save(page, "b", "x")
    # the edit reached the wiki once; the bot did not resend it
    assert human.page_text(title) == "b"
    assert [r["user"] for r in human.revisions(title)].count("TestBot") == 1


@pytest.mark.parametrize("body", [b'{"query": {"pages": [', b"\xff\xfe\x00garbage", b'{"query": []}'])
def test_malformed_answer_to_a_read_is_a_bot_error_with_context(garbled_cs, body):
    wiki, human, proxy = garbled_cs
    human.edit("Wikipedie:Čtení", "a", "x")
    wiki.site  # logged in before the rubbish starts
    proxy.garble = [("query", body)] * 5
    try:
        pages = wiki.read_pages(["Wikipedie:Čtení"])
    except BotError as exc:
        assert "wiki cs" in str(exc) and "\n" not in str(exc)
    else:
        # pywikibot retried and got a real answer once the rubbish ran out
        assert pages["Wikipedie:Čtení"].text == "a"
