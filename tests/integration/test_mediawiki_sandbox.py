"""Tests of the local MediaWiki farm harness itself (sandbox/mediawiki.py), with raw requests."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest
import requests

from sandbox.mediawiki import MediaWikiFarm, MediaWikiUnavailable

pytestmark = pytest.mark.integration

EXPECTED = {
    "cs": {
        "lang": "cs",
        "timezone": "Europe/Prague",
        "namespaces": {1: "Diskuse", 2: "Wikipedista", 3: "Diskuse s wikipedistou",
                       4: "Wikipedie", 5: "Diskuse k Wikipedii"},
    },
    "ko": {
        "lang": "ko",
        "timezone": "Asia/Seoul",
        "namespaces": {1: "토론", 2: "사용자", 3: "사용자토론", 4: "위키백과"},
    },
    "en": {
        "lang": "en",
        "timezone": "UTC",
        "namespaces": {1: "Talk", 2: "User", 3: "User talk", 4: "Wikipedia"},
    },
}

# What ~~~~ writes for OtherUser (date/time parts as regexes).
SIGNATURES = {
    "cs": r"\[\[Wikipedista:OtherUser\|OtherUser\]\] \(\[\[Diskuse s wikipedistou:OtherUser\|diskuse\]\]\)"
          r" \d{1,2}\. \d{1,2}\. \d{4}, \d{2}:\d{2} \((CET|CEST)\)",
    "ko": r"\[\[사용자:OtherUser\|OtherUser\]\] \(\[\[사용자토론:OtherUser\|토론\]\]\)"
          r" \d{4}년 \d{1,2}월 \d{1,2}일 \([월화수목금토일]\) \d{2}:\d{2} \(KST\)",
    "en": r"\[\[User:OtherUser\|OtherUser\]\] \(\[\[User talk:OtherUser\|talk\]\]\)"
          r" \d{2}:\d{2}, \d{1,2} [A-Z][a-z]+ \d{4} \(UTC\)",
}

TALK = {"cs": "Diskuse:Sandbox", "ko": "토론:Sandbox", "en": "Talk:Sandbox"}


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"MediaWiki unavailable in CI: {reason}")
    pytest.skip(f"MediaWiki unavailable: {reason}")


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    farm = MediaWikiFarm(tmp_path_factory.mktemp("mwfarm"))
    try:
        farm.ensure_code()
        farm.setup()
        farm.start()
    except MediaWikiUnavailable as exc:
        farm.stop()
        _unavailable(str(exc))
    print(f"\nfarm timings: {farm.timings}")
    yield farm
    farm.stop()


def _siteinfo(wiki) -> dict:
    r = requests.get(wiki.api_url, params={
        "action": "query", "meta": "siteinfo", "siprop": "general|namespaces",
        "format": "json", "formatversion": "2"}, timeout=30)
    r.raise_for_status()
    return r.json()["query"]


@pytest.mark.parametrize("code", ["cs", "ko", "en"])
def test_siteinfo(farm, code):
    wiki = farm.wikis[code]
    q = _siteinfo(wiki)
    general = q["general"]
    assert general["wikiid"] == wiki.dbname == f"{code}wiki"
    assert general["generator"].startswith("MediaWiki 1.43")
    assert general["lang"] == EXPECTED[code]["lang"]
    assert general["timezone"] == EXPECTED[code]["timezone"]
    assert general["server"] == f"http://127.0.0.1:{wiki.port}"
    names = {int(k): v["name"] for k, v in q["namespaces"].items()}
    for ns, name in EXPECTED[code]["namespaces"].items():
        assert names[ns] == name
    assert q["namespaces"]["4"]["subpages"] is True
    assert wiki.api_url == f"http://127.0.0.1:{wiki.port}/api.php"
    assert wiki.index_url == f"http://127.0.0.1:{wiki.port}/index.php"


def test_accounts_shape(farm):
    for wiki in farm.wikis.values():
        assert wiki.bot.username == "TestBot@ci"
        assert wiki.bot_main_user == "TestBot"
        assert re.fullmatch(r"[0-9a-w]{32}", wiki.bot.password)
        assert wiki.human.username == "OtherUser"
        assert wiki.admin.username == "Admin"


def test_maintenance_script_sees_port(farm):
    wiki = farm.wikis["cs"]
    got = farm.maintenance("cs", "getConfiguration", "--settings", "wgServer", "--format", "json")
    assert json.loads(got)["wgServer"] == f"http://127.0.0.1:{wiki.port}"


@pytest.mark.parametrize("code", ["cs", "ko", "en"])
def test_bot_login_and_bot_flagged_edit(farm, code):
    wiki = farm.wikis[code]
    bot = farm.api(code, wiki.bot)
    ui = bot.get(action="query", meta="userinfo", uiprop="groups|rights")["query"]["userinfo"]
    assert ui["name"] == "TestBot"
    assert "bot" in ui["groups"]
    assert "bot" in ui["rights"] and "noratelimit" in ui["rights"]
    edit = bot.edit(f"Bot test {code}", "bot text", summary="bot edit", bot=1)
    assert edit["newrevid"] > 0
    rc = bot.get(action="query", list="recentchanges", rctitle=f"Bot test {code}",
                 rcprop="flags|user|ids")["query"]["recentchanges"]
    assert rc and rc[0]["bot"] is True and rc[0]["user"] == "TestBot"
    revs = bot.revisions(f"Bot test {code}")
    assert revs[0]["revid"] == edit["newrevid"] and revs[0]["comment"] == "bot edit"


def test_human_edit_not_bot(farm):
    wiki = farm.wikis["cs"]
    human = farm.api("cs", wiki.human)
    edit = human.edit("Lidská stránka", "text člověka", summary="human")
    rc = human.get(action="query", list="recentchanges", rctitle="Lidská stránka",
                   rcprop="flags|user")["query"]["recentchanges"]
    assert rc[0]["user"] == "OtherUser" and rc[0]["bot"] is False
    assert human.page_text("Lidská stránka") == "text člověka"
    assert human.page_text("Neexistuje") is None
    assert edit["newrevid"] > 0


@pytest.mark.parametrize("code", ["cs", "ko", "en"])
def test_signature_shape(farm, code):
    wiki = farm.wikis[code]
    human = farm.api(code, wiki.human)
    human.edit(TALK[code], "== Ahoj ==\nZkouška. ~~~~\n", summary="sig")
    text = human.page_text(TALK[code])
    sig = text.split("Zkouška. ", 1)[1].strip()
    print(f"\n{code} signature: {sig}")
    assert re.fullmatch(SIGNATURES[code], sig), sig


@pytest.mark.parametrize("code", ["cs", "ko"])
def test_discussiontools_pageinfo(farm, code):
    wiki = farm.wikis[code]
    human = farm.api(code, wiki.human)
    title = TALK[code] + " DT"
    human.edit(title, "== Téma ==\nPrvní komentář. ~~~~\n", summary="dt")
    data = human.get(action="discussiontoolspageinfo", page=title, prop="threaditemshtml")
    items = data["discussiontoolspageinfo"]["threaditemshtml"]
    assert items[0]["type"] == "heading"
    assert re.sub(r"<[^>]+>", "", items[0]["html"]) == "Téma"
    comment = items[0]["replies"][0]
    assert comment["type"] == "comment" and comment["author"] == "OtherUser"


def test_protect_block_unblock(farm):
    wiki = farm.wikis["cs"]
    admin = farm.api("cs", wiki.admin)
    human = farm.api("cs", wiki.human)
    admin.edit("Chráněná", "x")
    admin.protect("Chráněná")
    with pytest.raises(RuntimeError, match="protectedpage"):
        human.edit("Chráněná", "y")
    admin.block("OtherUser")
    with pytest.raises(RuntimeError, match="blocked"):
        human.edit("Volná", "y")
    admin.unblock("OtherUser")
    human.edit("Volná", "y")


def test_concurrent_requests(farm):
    """PHP_CLI_SERVER_WORKERS: a slow request does not block another one."""
    from concurrent.futures import ThreadPoolExecutor
    wiki = farm.wikis["en"]
    params = {"action": "query", "meta": "siteinfo", "format": "json"}
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: requests.get(wiki.api_url, params=params, timeout=30),
                                range(8)))
    assert all(r.ok for r in results)


def test_reset_restores(farm):
    wiki = farm.wikis["ko"]
    human = farm.api("ko", wiki.human)
    human.edit("리셋 시험", "내용")
    assert human.page_text("리셋 시험") == "내용"
    t0 = time.monotonic()
    farm.reset()
    elapsed = time.monotonic() - t0
    print(f"\nreset took {elapsed:.3f} s")
    fresh = farm.api("ko", wiki.human)
    assert fresh.page_text("리셋 시험") is None
    # accounts still work after a reset
    bot = farm.api("ko", wiki.bot)
    bot.edit("리셋 후", "ok", bot=1)
    for code in ("cs", "en"):
        assert farm.api(code).page_text(TALK[code]) is None


def test_stop_leaves_no_php(tmp_path):
    """A second small farm: stop() kills its servers (and their workers) completely."""
    farm = MediaWikiFarm(tmp_path / "one", codes=("en",))
    try:
        farm.ensure_code()
        farm.setup()
        farm.start()
    except MediaWikiUnavailable as exc:
        farm.stop()
        _unavailable(str(exc))
    pgid = farm.wikis["en"].process.pid
    url = farm.wikis["en"].api_url
    farm.stop()
    farm.stop()  # twice is fine
    left = subprocess.run(["ps", "-o", "pid=,stat=", "-g", str(pgid)], capture_output=True,
                          text=True).stdout.strip()
    assert left == ""
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=5)
