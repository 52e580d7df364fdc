"""Deployment column end to end: real MediaWiki (cs, ko) with an extension deployed from git, real Phorge
with gerritbot-shaped merge notices (master merges and backports) posted by a bot account."""
from __future__ import annotations

import io
import time

import pytest

from bot.jobs import newsletter, status_sync
from bot.jobs.registry import build_context
from bot.render.deployment_words import short_date
from bot.settings import parse_settings
from tests.integration.helpers import (BEGIN, END, STATUS_PAGES, TIMEZONES, config_data, make_context,
                                       page_with_markers, set_secrets)

pytestmark = pytest.mark.integration
CS, KO = STATUS_PAGES["cs"], STATUS_PAGES["ko"]
EXT = "Poem"
REPO = f"mediawiki/extensions/{EXT}"
DAY = 86400


def merge_notice(number: int, branch: str, subject: str, repo: str = REPO) -> str:
    return (f"Change #{number} **merged** by jenkins-bot:\n\n[{repo}@{branch}] {subject}\n\n"
            f"https://gerrit.wikimedia.org/r/{number}")


def cells(text: str) -> dict[str, str]:
    """Task -> its deployment cell (the last one of its row), from the bot's region of a page."""
    region = text.split(BEGIN)[1].split(END)[0]
    return {line.split("|T")[1].split("]]")[0]: line.rsplit("||", 1)[1].strip()
            for line in region.splitlines() if line.startswith("| [[phab:T")}


@pytest.fixture
def deployed(wikis):
    """cs and ko each load their own git checkout of Poem, both at a commit from ten days ago."""
    now = int(time.time())
    for code in ("cs", "ko"):
        wikis.use_git_extension(code, EXT, commit_date=now - 10 * DAY)
    yield wikis, now
    for code in ("cs", "ko"):
        wikis.drop_git_extension(code, EXT)


def test_siteinfo_reports_the_checkout_as_deployed_code(deployed):
    wikis, now = deployed
    head = wikis.commit_git_extension("cs", EXT, commit_date=now - DAY)
    ext = {e["name"]: e for e in wikis.api("cs").get(action="query", meta="siteinfo",
                                                     siprop="extensions")["query"]["extensions"]}[EXT]
    assert ext["vcs-system"] == "git" and ext["vcs-version"] == head
    assert ext["vcs-url"] == f"https://gerrit.wikimedia.org/g/{REPO}/+/{head}"
    assert ext["vcs-date"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - DAY))
    ko = {e["name"]: e for e in wikis.api("ko").get(action="query", meta="siteinfo",
                                                    siprop="extensions")["query"]["extensions"]}[EXT]
    assert ko["vcs-date"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 10 * DAY))


def test_a_fix_goes_live_on_cs_and_not_yet_on_ko(deployed, conduit, tmp_path, pywikibot_dir, monkeypatch):
    wikis, now = deployed
    conduit.create_user("gerritbot", bot=True)
    project = conduit.create_project("Growth-Team", "growth-team")
    merged = now - 2 * DAY

    def at(when, fn, *a, **kw):
        conduit.clock = lambda: when
        try:
            return fn(*a, **kw)
        finally:
            conduit.clock = time.time

    ids = {}
    # A master merge in the extension the wikis run from git.
    ids["master"] = at(merged - DAY, conduit.create_task, "Verše se zalamují špatně", projects=[project])
    at(merged, conduit.update_task, ids["master"], actor="gerritbot",
       comment=merge_notice(1084512, "master", "Poem: keep line breaks"))
    at(merged + 60, conduit.update_task, ids["master"], status="resolved")
    # A backport to a branch older than the wikis' MediaWiki 1.43 (live), and one to a later branch (pending).
    ids["old-backport"] = at(merged - DAY, conduit.create_task, "Old train fix", projects=[project])
    at(merged, conduit.update_task, ids["old-backport"], actor="gerritbot",
       comment=merge_notice(1085001, "wmf/1.42.0-wmf.9", "Backport: fix the fix"))
    at(merged + 60, conduit.update_task, ids["old-backport"], status="resolved")
    ids["new-backport"] = at(merged - DAY, conduit.create_task, "Next train fix", projects=[project])
    at(merged, conduit.update_task, ids["new-backport"], actor="gerritbot",
       comment=merge_notice(1085002, "wmf/1.44.0-wmf.3", "Backport: newer"))
    at(merged + 60, conduit.update_task, ids["new-backport"], status="resolved")
    # Resolved without code, and still open.
    ids["no-code"] = conduit.create_task("Dokumentace", projects=[project], status="resolved")
    ids["open"] = conduit.create_task("Otevřený úkol", projects=[project])

    human = {c: wikis.api(c, wikis.wikis[c].human) for c in ("cs", "ko")}
    human["cs"].edit(CS, page_with_markers(), "stránka pro tabulku")
    human["ko"].edit(KO, page_with_markers("사람이 쓴 소개.", "꼬리말."), "표 자리")
    tables = [{"id": "growth-current", "deployment": True,
               "query": {"projects": ["growth-team"], "statuses": ["open", "resolved"]},
               "pages": {"cs": CS, "ko": KO}}]
    ctx = make_context(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch, tables=tables)
    T = {k: str(v) for k, v in ids.items()}

    report = status_sync.run(ctx)
    assert report.problems == [] and len(report.saved) == 2
    first_seen = int(time.time())
    cs, ko = cells(human["cs"].page_text(CS)), cells(human["ko"].page_text(KO))
    assert "!! Nasazení" in human["cs"].page_text(CS) and "!! 배포" in human["ko"].page_text(KO)
    assert cs[T["master"]] == "čeká na nasazení" and ko[T["master"]] == "배포 대기 중"
    assert cs[T["old-backport"]] == f"nasazeno na cswiki od {short_date(first_seen, 'cs', TIMEZONES['cs'])}"
    assert ko[T["old-backport"]] == f"{short_date(first_seen, 'ko', TIMEZONES['ko'])}부터 kowiki에 적용됨"
    assert cs[T["new-backport"]] == "čeká na nasazení" and ko[T["new-backport"]] == "배포 대기 중"
    assert cs[T["no-code"]] == "neznámo" and ko[T["no-code"]] == "알 수 없음"
    assert cs[T["open"]] == "–" and ko[T["open"]] == "–"

    # Nothing changed: no edit, the tables byte-identical.
    texts = {c: human[c].page_text(p) for c, p in (("cs", CS), ("ko", KO))}
    report = status_sync.run(ctx)
    assert report.saved == [] and report.problems == []

    # The train reaches cs: its checkout moves to a commit after the merge; ko stays behind.
    wikis.commit_git_extension("cs", EXT, commit_date=merged + 3600, message="Deploy wmf train to cswiki")
    report = status_sync.run(ctx)
    assert report.problems == [] and [s[0] for s in report.saved] == ["cs"]
    cs = cells(human["cs"].page_text(CS))
    today = int(time.time())
    assert cs[T["master"]] == f"nasazeno na cswiki od {short_date(today, 'cs', TIMEZONES['cs'])}"
    assert cells(human["ko"].page_text(KO))[T["master"]] == "배포 대기 중"
    assert human["ko"].page_text(KO) == texts["ko"]

    # Quiet again: nothing edited, the "since" date stays what it was.
    cs_text = human["cs"].page_text(CS)
    report = status_sync.run(ctx)
    assert report.saved == [] and human["cs"].page_text(CS) == cs_text


NEWSLETTER_PAGES = {
    "cs": {"draft_page": "Wikipedie:Growth/Zpravodaj/{edition}", "page": "Wikipedie:Growth/Zpravodaj/Vydání/{edition}",
           "subscribers": "Wikipedie:Growth/Zpravodaj/Odběratelé"},
    "ko": {"draft_page": "위키백과:성장/소식지/{edition}", "page": "위키백과:성장/소식지/발행/{edition}",
           "subscribers": "위키백과:성장/소식지/구독자"},
}


def heading_of(text: str, task_id: int) -> str | None:
    """The `=== heading ===` under which a draft lists the task."""
    heading = None
    for line in text.splitlines():
        if line.startswith("==="):
            heading = line.strip("= ").strip()
        elif f"[[phab:T{task_id}|" in line:
            return heading
    return None


def test_newsletter_draft_and_tables_agree_per_wiki(deployed, conduit, tmp_path, pywikibot_dir, monkeypatch):
    wikis, now = deployed
    conduit.create_user("gerritbot", bot=True)
    project = conduit.create_project("Growth-Team", "growth-team")
    merged = now - 4 * 3600
    edition = time.strftime("%Y-%m", time.localtime(merged))

    def at(when, fn, *a, **kw):
        conduit.clock = lambda: when
        try:
            return fn(*a, **kw)
        finally:
            conduit.clock = time.time

    fix = at(merged - 3600, conduit.create_task, "Verše se zalamují špatně", projects=[project])
    at(merged, conduit.update_task, fix, actor="gerritbot", comment=merge_notice(1084512, "master", "Poem: keep line breaks"))
    at(merged + 60, conduit.update_task, fix, status="resolved")
    no_code = at(merged + 120, conduit.create_task, "Dokumentace", projects=[project])
    at(merged + 180, conduit.update_task, no_code, status="resolved")
    # A person pastes a merge notice: with review_bots set, only gerritbot's notices count.
    pasted = at(merged + 120, conduit.create_task, "Vložené oznámení", projects=[project])
    at(merged + 150, conduit.update_task, pasted, actor="alice", comment=merge_notice(1, "master", "Fake"))
    at(merged + 180, conduit.update_task, pasted, status="resolved")
    wikis.commit_git_extension("cs", EXT, commit_date=merged + 600, message="Deploy to cswiki")   # ko stays behind

    human = {c: wikis.api(c, wikis.wikis[c].human) for c in ("cs", "ko")}
    human["cs"].edit(CS, page_with_markers(), "stránka pro tabulku")
    human["ko"].edit(KO, page_with_markers("사람이 쓴 소개.", "꼬리말."), "표 자리")
    tables = [{"id": "growth-current", "deployment": True,
               "query": {"projects": ["growth-team"], "statuses": ["open", "resolved"]},
               "pages": {"cs": CS, "ko": KO}}]
    set_secrets(monkeypatch, wikis, conduit)
    data = config_data(wikis, conduit, tmp_path, pywikibot_dir, tables=tables)
    data["newsletters"] = {"projects": ["growth-team"], "wikis": NEWSLETTER_PAGES}
    data["deployment"] = {"newsletters": True, "review_bots": ["gerritbot"]}
    ctx = build_context(parse_settings(data, tmp_path / "test.yaml"))
    ctx.out = io.StringIO()

    report = newsletter.command(ctx, "draft", edition, ["cs", "ko"])
    assert report.problems == [] and len(report.saved) == 2
    drafts = {c: human[c].page_text(NEWSLETTER_PAGES[c]["draft_page"].replace("{edition}", edition)) for c in ("cs", "ko")}
    assert heading_of(drafts["cs"], fix) == "Co je hotové" and heading_of(drafts["cs"], no_code) == "Co je hotové"
    assert heading_of(drafts["ko"], fix) == "완료, 배포 대기 중" and heading_of(drafts["ko"], no_code) == "완료된 작업"

    report = status_sync.run(ctx)
    assert report.problems == []
    cs, ko = cells(human["cs"].page_text(CS)), cells(human["ko"].page_text(KO))
    assert cs[str(fix)].startswith("nasazeno na cswiki od ") and ko[str(fix)] == "배포 대기 중"
    assert cs[str(no_code)] == "neznámo" and ko[str(no_code)] == "알 수 없음"
    assert cs[str(pasted)] == "neznámo" and ko[str(pasted)] == "알 수 없음"
    assert heading_of(drafts["cs"], pasted) == "Co je hotové" and heading_of(drafts["ko"], pasted) == "완료된 작업"
