"""Newsletters end to end: real MediaWiki (cs, ko) + Conduit sandbox, in process and through the CLI."""
from __future__ import annotations

import io
import json
import os
import random
import re
import signal
import subprocess
import sys
from pathlib import Path

import mwparserfromhell
import pytest
import yaml

from bot.domain import newsletter as nl
from bot.jobs import newsletter
from bot.jobs.registry import build_context
from bot.render.escape import wikilink
from bot.settings import parse_settings
from tests.integration.helpers import config_data, set_secrets

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
EDITION = "2026-12"
DEC_10 = 1796860800          # 2026-12-10 00:00 UTC
CS_TALK = "Diskuse s wikipedistou:"
KO_TALK = "사용자토론:"
PAGES = {
    "cs": {"draft_page": "Wikipedie:Growth/Zpravodaj/{edition}", "page": "Wikipedie:Growth/Zpravodaj/Vydání/{edition}",
           "archive_page": "Wikipedie:Growth/Zpravodaj/Archiv", "subscribers": "Wikipedie:Growth/Zpravodaj/Odběratelé",
           "intro_page": "Wikipedie:Growth/Zpravodaj/Úvod/{edition}",
           "optout_category": "Kategorie:Bez zpravodaje"},
    "ko": {"draft_page": "위키백과:성장/소식지/{edition}", "page": "위키백과:성장/소식지/발행/{edition}",
           "subscribers": "위키백과:성장/소식지/구독자"},
}


def newsletter_config(wikis, conduit, tmp_path, pywikibot_dir, codes=("cs", "ko"), **extra):
    data = config_data(wikis, conduit, tmp_path, pywikibot_dir, codes=codes, tables=[])
    data["newsletters"] = {"projects": ["growth-team"], "wikis": {c: PAGES[c] for c in codes}, **extra}
    return data


def context(data, tmp_path, dry_run=False):
    ctx = build_context(parse_settings(data, tmp_path / "test.yaml"), dry_run=dry_run)
    ctx.out = io.StringIO()
    return ctx


def draft_title(code):
    return PAGES[code]["draft_page"].replace("{edition}", EDITION)


def page_title(code):
    return PAGES[code]["page"].replace("{edition}", EDITION)


def copies(text, key):
    return text.count(nl.key_marker(key))


@pytest.fixture
def world(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch):
    conduit.clock = lambda: DEC_10
    project = conduit.create_project("Growth-Team", "growth-team")
    ids = {
        "done": conduit.create_task("Zlepšit uvítání nováčků", projects=[project], date_modified=DEC_10 - 40 * 86400),
        "doing": conduit.create_task("새 편집자 도움말 {{틀}}", projects=[project], status="progress"),
        "new": conduit.create_task("Nový úkol s [[Kategorie:Hack]] a ~~~~", projects=[project]),
        "secret": conduit.create_task("Security: XSS", projects=[project], view_policy="users"),
        "old": conduit.create_task("Starý úkol", projects=[project], date_modified=DEC_10 - 60 * 86400),
    }
    conduit.update_task(ids["done"], status="resolved")
    conduit.update_task(ids["secret"], status="resolved")
    humans = {c: wikis.api(c, wikis.wikis[c].human) for c in ("cs", "ko")}
    humans["cs"].edit(PAGES["cs"]["intro_page"].replace("{edition}", EDITION),
                      "Milí kolegové, v prosinci se toho stalo hodně. {{Šablona}} [[Kategorie:Spam]]", "úvod")
    set_secrets(monkeypatch, wikis, conduit)
    data = newsletter_config(wikis, conduit, tmp_path, pywikibot_dir)
    return data, humans, ids


def cs_subscribers(humans, n=6):
    """Six users plus: a duplicate, a redirect to a listed page, opt-out, nobots, missing, invalid, other site."""
    h = humans["cs"]
    for i in range(n):
        h.edit(f"{CS_TALK}Uživatel{i}", f"Diskuse uživatele {i}.", "x")
    h.edit(f"{CS_TALK}Přejmenovaný", f"#PŘESMĚRUJ [[{CS_TALK}Uživatel1]]", "přesměrování")
    h.edit(f"{CS_TALK}Přesunutý", f"#REDIRECT [[{CS_TALK}Cíl]]", "přesměrování")
    h.edit(f"{CS_TALK}Cíl", "Sem patří zprávy.", "x")
    h.edit(f"{CS_TALK}Odhlášený", "Nechci. [[Kategorie:Bez zpravodaje]]", "x")
    h.edit(f"{CS_TALK}Bezbotů", "{{nobots}} Klid.", "x")
    lines = [f"{{{{target|page={CS_TALK}Uživatel{i}}}}}" for i in range(n)]
    lines += [f"{{{{target|page={CS_TALK}Uživatel0}}}}", f"{{{{target|page={CS_TALK}Přejmenovaný}}}}",
              f"{{{{target|page={CS_TALK}Přesunutý}}}}", f"{{{{target|page={CS_TALK}Odhlášený}}}}", f"{{{{target|page={CS_TALK}Bezbotů}}}}",
              f"{{{{target|page={CS_TALK}Neexistuje}}}}", "{{target|page=Foo[bar]}}",
              "{{target|page=User talk:X|site=en.wikipedia.org}}"]
    h.edit(PAGES["cs"]["subscribers"], "\n".join(lines), "seznam")
    return [f"{CS_TALK}Uživatel{i}" for i in range(n)] + [f"{CS_TALK}Cíl"]


def set_ready(human, title, body_change="\nPoznámka velvyslance.", marker="status=ready"):
    """A person approves: by default they also touched the text, as the guard against untouched drafts wants."""
    text = human.page_text(title)
    if body_change:
        text = text + body_change
    if marker != "status=ready":
        human.edit(title, nl.set_status(text, nl.DRAFT).replace("status=draft", marker), "schváleno")
        return
    human.edit(title, nl.set_status(text, nl.READY), "schváleno")


def test_draft_approve_publish_deliver_exactly_once(world, conduit, tmp_path):
    data, humans, ids = world
    targets = cs_subscribers(humans)
    ctx = context(data, tmp_path)

    report = newsletter.command(ctx, "draft", EDITION, ["cs", "ko"])
    assert report.problems == [] and len(report.saved) == 2
    draft = humans["cs"].page_text(draft_title("cs"))
    assert nl.draft_status(draft) == "draft"
    assert f"[[phab:T{ids['done']}|" in draft and f"[[phab:T{ids['doing']}|" in draft and f"T{ids['new']}|" in draft
    assert f"T{ids['secret']}" not in draft and "Security" not in draft and f"T{ids['old']}" not in draft
    assert "Vyřešili jsme 1&nbsp;úkol." not in draft and "Vyřešili jsme 1 úkol." in draft
    assert "V&nbsp;tomto období" not in draft  # there were changes
    assert "k&nbsp;úkolům" in draft                          # Czech typography
    parsed = mwparserfromhell.parse(draft)
    assert [str(t.name) for t in parsed.filter_templates()] == []      # nothing injected by titles or intro
    talk = wikilink("Special:TalkPage/" + PAGES["cs"]["archive_page"], "diskusní stránku zpravodaje")
    assert sorted(str(link.title) for link in parsed.filter_wikilinks()) == sorted(
        [f"phab:T{ids[k]}" for k in ("done", "doing", "new")] + [str(mwparserfromhell.parse(talk).nodes[0].title)])
    assert f"pište na {talk} nebo" in draft
    # The wiki knows Special:TalkPage (a special page it lacks would be a red link, class "new").
    html = humans["cs"].get(action="parse", page=draft_title("cs"), prop="text", formatversion=2)["parse"]["text"]
    anchor = re.search(r"<a [^>]*>diskusní stránku zpravodaje</a>", html)
    assert anchor and 'class="new"' not in anchor.group(0) and "TalkPage" in anchor.group(0), anchor
    assert "~~~" not in draft and "Milí kolegové" in draft
    ko = humans["ko"].page_text(draft_title("ko"))
    assert "작업 1개를 해결했습니다." in ko and "&#123;&#123;틀&#125;&#125;" in ko

    # Not approved: nothing published.
    report = newsletter.command(ctx, "publish", EDITION, ["cs"])
    assert report.saved == [] and any("not approved" in h for h in report.held)
    assert humans["cs"].page_text(page_title("cs")) is None

    # Approved, then edited: not published, marker set back to draft.
    set_ready(humans["cs"], draft_title("cs"))
    humans["cs"].edit(draft_title("cs"), humans["cs"].page_text(draft_title("cs")) + "\nDodatek bez schválení.", "x")
    report = newsletter.command(ctx, "publish", EDITION, ["cs"])
    assert any("changed after approval" in h for h in report.held)
    assert nl.draft_status(humans["cs"].page_text(draft_title("cs"))) == "draft"
    assert humans["cs"].page_text(page_title("cs")) is None

    # Approved again: published, archived, delivered, tasks commented.
    set_ready(humans["cs"], draft_title("cs"), "\nPřeložil jsem názvy.")
    report = newsletter.command(ctx, "publish", EDITION, ["cs"])
    assert report.problems == [], report.problems
    page = humans["cs"].page_text(page_title("cs"))
    assert "Dodatek bez schválení." in page and "Přeložil jsem názvy." in page and "status=" not in page
    assert f"[[{page_title('cs')}|prosinec 2026]]" in humans["cs"].page_text(PAGES["cs"]["archive_page"])
    for title in targets:
        text = humans["cs"].page_text(title)
        assert copies(text, nl.delivery_key(EDITION, "cs", title)) == 1, title
        assert "== Zpravodaj Growth – prosinec 2026 ==" in text and "[[Wikipedista:TestBot|" in text
    assert "Zpravodaj" not in humans["cs"].page_text(f"{CS_TALK}Odhlášený")
    assert "Zpravodaj" not in humans["cs"].page_text(f"{CS_TALK}Bezbotů")
    assert "Zpravodaj" not in humans["cs"].page_text(f"{CS_TALK}Přejmenovaný")       # the redirect itself
    assert "Zpravodaj" not in humans["cs"].page_text(f"{CS_TALK}Přesunutý")
    held = "\n".join(report.held)
    for word in ("Neexistuje", "Foo[bar]", "en.wikipedia.org", "opt-out", "nobots"):
        assert word in held, word
    delivered = [t for w, t, _ in report.saved if w == "cs" and t.startswith(CS_TALK)]
    assert sorted(delivered) == sorted(targets)
    comments = {k: conduit_comments(conduit, ids[k]) for k in ("done", "doing", "new", "secret")}
    assert [len(comments[k]) for k in ("done", "doing", "new", "secret")] == [1, 1, 1, 0]
    assert nl.page_url(data["wikis"]["cs"]["api_url"], page_title("cs")) in comments["done"][0]["text"]
    assert "announced to the Czech Wikipedia community" in comments["done"][0]["text"]

    # Re-running publish changes nothing anywhere.
    revs = {t: humans["cs"].revisions(t, 1)[0]["revid"] for t in targets}
    report = newsletter.command(ctx, "publish", EDITION, ["cs"])
    assert report.saved == [] and report.problems == []
    assert {t: humans["cs"].revisions(t, 1)[0]["revid"] for t in targets} == revs
    assert [len(conduit_comments(conduit, ids[k])) for k in ("done", "doing", "new")] == [1, 1, 1]

    out = io.StringIO()
    ctx.out = out
    newsletter.command(ctx, "status", EDITION, ["cs"])
    status = out.getvalue()
    assert f"{len(targets)} delivered (0 talk pages created, 2 through a redirect)" in status, status
    assert "0 failed" in status and "0 pending" in status and "3 task comments" in status
    assert f"delivered: {CS_TALK}Cíl (revision " in status and f"redirected from {CS_TALK}Přesunutý" in status
    for word in ("skipped: " + CS_TALK + "Odhlášený: optout", "skipped: " + CS_TALK + "Bezbotů: nobots",
                 "skipped: " + CS_TALK + "Neexistuje: nouser", "other-site"):
        assert word in status, word
    # The same report, localized, on the wiki, with a link to each delivered revision.
    report_page = humans["cs"].page_text(page_title("cs") + "/Doručení")
    assert "Doručování skončilo" in report_page and f"Doručeno {len(targets)}," in report_page
    for title in targets:
        revid = humans["cs"].revisions(title, 1)[0]["revid"]
        assert f"| [[{title}]] || doručeno ([[Special:Diff/{revid}|{revid}]])" in report_page, title
    assert f"přesměrováno z&nbsp;[[{CS_TALK}Přesunutý]]" in report_page
    assert "v&nbsp;kategorii odhlášených" in report_page and "&#123;&#123;nobots&#125;&#125;" in report_page
    help_text = nl.help_of(humans["cs"].page_text(draft_title("cs")))
    assert f"Rozesláno" in help_text and f"doručeno {len(targets)} z {len(targets)}" in help_text, help_text


def conduit_comments(conduit, task_id):
    return [c for c in conduit.comments(task_id) if c["text"] and "newsletter" in c["text"]]


def test_crash_after_edit_before_record_is_not_delivered_twice(world, tmp_path):
    data, humans, ids = world
    targets = cs_subscribers(humans, n=3)
    data["newsletters"]["comment_tasks"] = False
    ctx = context(data, tmp_path)
    newsletter.command(ctx, "draft", EDITION, ["cs"])
    set_ready(humans["cs"], draft_title("cs"))
    # Simulate: the message reached the page but the store lost its record (and the pending mark).
    newsletter.command(ctx, "publish", EDITION, ["cs"])
    key = nl.delivery_key(EDITION, "cs", targets[0])
    from bot.store.sql import posts_table
    with ctx.store.engine.begin() as conn:
        conn.execute(posts_table.delete().where(posts_table.c.idempotency_key == key))
    assert not ctx.store.has_post(key)
    report = newsletter.command(ctx, "publish", EDITION, ["cs"])
    assert report.saved == [] and ctx.store.has_post(key)
    assert copies(humans["cs"].page_text(targets[0]), key) == 1


def test_protected_target_fails_alone_and_is_retried_later(world, wikis, tmp_path):
    data, humans, ids = world
    targets = cs_subscribers(humans, n=3)
    data["newsletters"]["comment_tasks"] = False
    admin = wikis.api("cs", wikis.wikis["cs"].admin)
    admin.protect(targets[1])
    ctx = context(data, tmp_path)
    newsletter.command(ctx, "draft", EDITION, ["cs"])
    set_ready(humans["cs"], draft_title("cs"))
    report = newsletter.command(ctx, "publish", EDITION, ["cs"])
    assert len(report.problems) == 1 and targets[1] in report.problems[0]
    assert {t for _, t, _ in report.saved if t.startswith(CS_TALK)} == {targets[0], targets[2], targets[3]}
    admin._write(action="protect", title=targets[1], protections="edit=all")
    report = newsletter.command(ctx, "publish", EDITION, ["cs"])
    assert [t for _, t, _ in report.saved if t.startswith(CS_TALK)] == [targets[1]] and report.problems == []


def test_ko_json_list_cli_approve_and_dry_run(world, tmp_path):
    data, humans, ids = world
    h = humans["ko"]
    for name in ("가", "나"):
        h.edit(f"{KO_TALK}{name}", "토론", "x")
    h.edit(PAGES["ko"]["subscribers"], json.dumps({"description": "구독자", "targets": [
        {"title": f"{KO_TALK}가"}, {"title": f"{KO_TALK}나"}, {"title": f"{KO_TALK}가"}]}), "목록",
        contentmodel="json")
    ctx = context(data, tmp_path)
    newsletter.command(ctx, "draft", EDITION, ["ko"])
    report = newsletter.command(ctx, "approve", EDITION, ["ko"])           # nobody edited it: refused
    assert len(report.problems) == 1 and "nobody edited the text the bot generated" in report.problems[0]
    assert "아무도 봇이 만든 내용을 고치지 않았습니다." in h.page_text(draft_title("ko"))
    assert nl.draft_status(h.page_text(draft_title("ko"))) == "draft"
    h.edit(draft_title("ko"), h.page_text(draft_title("ko")) + "\n번역했습니다.", "번역")
    report = newsletter.command(ctx, "approve", EDITION, ["ko"])
    assert report.problems == [] and nl.draft_status(h.page_text(draft_title("ko"))) == "ready"
    dry = context(data, tmp_path, dry_run=True)
    report = newsletter.command(dry, "publish", EDITION, ["ko"])
    out = dry.out.getvalue()
    assert f"would post to ko:{KO_TALK}가" in out and f"would post to ko:{KO_TALK}나" in out
    assert h.page_text(page_title("ko")) is None and "소식지" not in h.page_text(f"{KO_TALK}가")
    report = newsletter.command(ctx, "publish", EDITION, ["ko"])
    assert report.problems == []
    for name in ("가", "나"):
        text = h.page_text(f"{KO_TALK}{name}")
        assert copies(text, nl.delivery_key(EDITION, "ko", f"{KO_TALK}{name}")) == 1
        assert "2026년 12월" in text and "[[사용자:TestBot|" in text


def bot_revisions(human, title):
    return [r for r in human.revisions(title, 50) if r["user"] == "TestBot"]


def test_sigkill_during_delivery_to_50_pages_leaves_exactly_one_copy(world, tmp_path):
    """SIGKILLed five times mid-delivery, then run to the end: one copy on every page, and the report page and
    `newsletter status` list every entry with the outcome the talk pages show (revision links included)."""
    data, humans, ids = world
    h = humans["cs"]
    targets = [f"{CS_TALK}Odběratel{i}" for i in range(50)]
    for title in targets:
        h.edit(title, "Ahoj.", "x")
    # Besides the 50: one reached through a redirect, one opted out, one excluding the bot, one with no account.
    h.edit(f"{CS_TALK}Přesunutý", f"#REDIRECT [[{CS_TALK}Cíl]]", "přesměrování")
    h.edit(f"{CS_TALK}Cíl", "Sem patří zprávy.", "x")
    h.edit(f"{CS_TALK}Odhlášený", "Nechci. [[Kategorie:Bez zpravodaje]]", "x")
    h.edit(f"{CS_TALK}Bezbotů", "{{nobots}} Klid.", "x")
    skipped = {f"{CS_TALK}Odhlášený": "optout", f"{CS_TALK}Bezbotů": "nobots", f"{CS_TALK}Neexistuje": "nouser"}
    listed = targets + [f"{CS_TALK}Přesunutý", *skipped]
    h.edit(PAGES["cs"]["subscribers"], "\n".join(f"{{{{target|page={t}}}}}" for t in listed), "seznam")
    delivered = targets + [f"{CS_TALK}Cíl"]
    data["newsletters"]["wikis"] = {"cs": PAGES["cs"]}
    data["newsletters"]["comment_tasks"] = False
    ctx = context(data, tmp_path)
    newsletter.command(ctx, "draft", EDITION, ["cs"])
    set_ready(h, draft_title("cs"))
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    command = [sys.executable, "-m", "bot", "--config", str(config), "newsletter", "publish", "--edition", EDITION,
               "--wiki", "cs"]
    env = dict(os.environ)
    rng = random.Random(1234)
    kills = 0
    for _ in range(5):
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=rng.uniform(1.5, 3.5))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
    final = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr[-2000:]
    assert kills >= 2, "the delivery finished before the kills: make the test slower"
    texts = {}
    for start in range(0, len(delivered), 25):
        batch = delivered[start:start + 25]
        pages = h.get(action="query", prop="revisions", titles="|".join(batch), rvprop="content",
                      rvslots="main")["query"]["pages"]
        for p in pages:
            texts[p["title"]] = p["revisions"][0]["slots"]["main"]["content"]
    counts = {t: copies(text, nl.delivery_key(EDITION, "cs", t)) for t, text in texts.items()}
    assert sorted(counts) == sorted(delivered)
    assert set(counts.values()) == {1}, {t: n for t, n in counts.items() if n != 1}

    # The report, rebuilt from the store after the kills, says what the talk pages show.
    revision_of = {}
    for title in delivered:
        ours = bot_revisions(h, title)
        assert len(ours) == 1, (title, ours)               # one bot edit: the message
        revision_of[title] = ours[0]["revid"]
    for title in skipped:
        assert bot_revisions(h, title) == [] and "Zpravodaj" not in (h.page_text(title) or ""), title
    assert h.page_text(f"{CS_TALK}Neexistuje") is None                 # no account: not created
    report_page = h.page_text(page_title("cs") + "/Doručení")
    assert "Doručování skončilo" in report_page, report_page[:500]
    assert (f"Doručeno {len(delivered)}, nově založeno 0, přesměrováno 1, vynecháno {len(skipped)}, "
            f"nepodařilo se 0, čeká 0.") in report_page, report_page[:500]
    rows = [line for line in report_page.splitlines() if line.startswith("| [[")]
    assert len(rows) == len(delivered) + len(skipped), rows     # every entry once, nothing else
    for title, revid in revision_of.items():
        assert f"| [[{title}]] || doručeno ([[Special:Diff/{revid}|{revid}]])" in report_page, title
    assert f"| [[{CS_TALK}Cíl]] || doručeno ([[Special:Diff/{revision_of[CS_TALK + 'Cíl']}|" \
           f"{revision_of[CS_TALK + 'Cíl']}]]), přesměrováno z&nbsp;[[{CS_TALK}Přesunutý]]" in report_page
    assert f"| [[{CS_TALK}Odhlášený]] || vynecháno: v&nbsp;kategorii odhlášených" in report_page
    assert f"| [[{CS_TALK}Bezbotů]] || vynecháno: stránka robota vylučuje" in report_page
    assert f"| [[{CS_TALK}Neexistuje]] || vynecháno: takový uživatel neexistuje" in report_page
    assert "přerušeno" not in report_page and "čeká na doručení" not in report_page

    ctx.out = io.StringIO()
    newsletter.command(ctx, "status", EDITION, ["cs"])
    status = ctx.out.getvalue()
    assert f"cs {EDITION}: published:" in status, status
    assert (f"{len(delivered)} delivered (0 talk pages created, 1 through a redirect), {len(skipped)} skipped, "
            f"0 failed (retried on the next run), 0 interrupted, 0 pending") in status, status
    lines = [line.strip() for line in status.splitlines() if line.startswith("  ")]
    assert len(lines) == len(delivered) + len(skipped), lines
    for title, revid in revision_of.items():
        extra = f", redirected from {CS_TALK}Přesunutý" if title.endswith("Cíl") else ""
        assert f"delivered: {title} (revision {revid}){extra}" in lines, title
    for title, why in skipped.items():
        assert any(line.startswith(f"skipped: {title}: {why}") for line in lines), (title, lines)


def test_moved_talk_page_is_not_delivered_twice(world, wikis, tmp_path):
    """A subscriber renamed after delivery: the list's old title now redirects to the new page."""
    data, humans, ids = world
    h = humans["cs"]
    old, new = f"{CS_TALK}Přejmenovaný", f"{CS_TALK}Nové jméno"
    h.edit(old, "Ahoj.", "x")
    h.edit(PAGES["cs"]["subscribers"], f"{{{{target|page={old}}}}}", "seznam")
    data["newsletters"]["wikis"] = {"cs": PAGES["cs"]}
    data["newsletters"]["comment_tasks"] = False
    ctx = context(data, tmp_path)
    newsletter.command(ctx, "draft", EDITION, ["cs"])
    set_ready(h, draft_title("cs"))
    newsletter.command(ctx, "publish", EDITION, ["cs"])
    admin = wikis.api("cs", wikis.wikis["cs"].admin)
    admin.post(action="move", **{"from": old, "to": new, "reason": "přejmenování", "token": admin.csrf()})
    report = newsletter.command(ctx, "publish", EDITION, ["cs"])
    assert [t for _, t, _ in report.saved if t.startswith(CS_TALK)] == []
    assert h.page_text(new).count("<!-- ambassador-bot:key=nl:") == 1


def test_only_a_listed_approver_can_approve(world, wikis, tmp_path):
    data, humans, ids = world
    targets = cs_subscribers(humans, n=2)
    data["newsletters"]["comment_tasks"] = False
    data["newsletters"]["wikis"]["cs"] = {**PAGES["cs"], "approvers": ["Admin"]}
    ctx = context(data, tmp_path)
    newsletter.command(ctx, "draft", EDITION, ["cs"])
    set_ready(humans["cs"], draft_title("cs"))                 # OtherUser is not on the list
    report = newsletter.command(ctx, "publish", EDITION, ["cs"])
    assert any("OtherUser, who is not among the approvers" in h for h in report.held), report.held
    assert nl.draft_status(humans["cs"].page_text(draft_title("cs"))) == "draft"
    assert humans["cs"].page_text(page_title("cs")) is None
    assert all("Zpravodaj" not in humans["cs"].page_text(t) for t in targets)

    admin = wikis.api("cs", wikis.wikis["cs"].admin)
    set_ready(admin, draft_title("cs"))
    report = newsletter.command(ctx, "publish", EDITION, ["cs"])
    assert report.problems == [] and humans["cs"].page_text(page_title("cs")) is not None
    for title in targets:
        assert copies(humans["cs"].page_text(title), nl.delivery_key(EDITION, "cs", title)) == 1


def test_cli_approval_counts_when_approvers_are_listed(world, tmp_path):
    data, humans, ids = world
    cs_subscribers(humans, n=1)
    data["newsletters"]["comment_tasks"] = False
    data["newsletters"]["wikis"]["cs"] = {**PAGES["cs"], "approvers": ["Admin"]}
    ctx = context(data, tmp_path)
    newsletter.command(ctx, "draft", EDITION, ["cs"])
    set_ready(humans["cs"], draft_title("cs"))                 # a stranger's "ready" ...
    report = newsletter.command(ctx, "approve", EDITION, ["cs"])   # ... is replaced by the operator's
    assert report.problems == [] and nl.draft_status(humans["cs"].page_text(draft_title("cs"))) == "ready"
    report = newsletter.command(ctx, "publish", EDITION, ["cs"])
    assert report.problems == [] and not any("approv" in h for h in report.held)
    assert humans["cs"].page_text(page_title("cs")) is not None


def test_cli_approve_does_not_approve_an_edit_made_meanwhile(world, tmp_path):
    data, humans, ids = world
    data["newsletters"]["wikis"]["cs"] = {**PAGES["cs"], "approvers": ["Admin"]}
    ctx = context(data, tmp_path)
    newsletter.command(ctx, "draft", EDITION, ["cs"])
    set_ready(humans["cs"], draft_title("cs"))                 # a stranger's "ready": approve resets, then sets
    wiki = ctx.wikis["cs"]
    original_save = wiki.save

    def stranger_edits_first(page, text, summary, **kw):
        if not getattr(stranger_edits_first, "done", False):
            stranger_edits_first.done = True
            current = humans["cs"].page_text(draft_title("cs"))
            humans["cs"].edit(draft_title("cs"), current + "\nPodvrh od cizince.", "x")
        return original_save(page, text, summary, **kw)
    wiki.save = stranger_edits_first
    report = newsletter.command(ctx, "approve", EDITION, ["cs"])
    assert any("since revision" in p and "run it again" in p for p in report.problems), report.problems
    text = humans["cs"].page_text(draft_title("cs"))
    # MediaWiki merged the bot's reset into the stranger's edit; the bot noticed and did not go on to "ready"
    assert "Podvrh od cizince." in text and nl.draft_status(text) == "draft"
    assert not nl.approval([nl.Revision(r["revid"], r["user"], r["timestamp"], r["text"])
                            for r in wiki.page_history(draft_title("cs"), limit=50, content=True)[0]],
                           approvers=("Admin", "TestBot")).approved


def person_appends_before_the_next_save(wiki, person, line):
    """Between the bot's read of the draft and its save, a person adds a paragraph at the end."""
    original_save = wiki.save

    def person_edits_first(page, text, summary, **kw):
        wiki.save = original_save
        current = person.page_text(draft_title("cs"))
        person.edit(draft_title("cs"), current.rstrip("\n") + "\n\n" + line, "x")
        return original_save(page, text, summary, **kw)
    wiki.save = person_edits_first


def test_redraft_merged_with_a_persons_edit_is_left_to_them(world, conduit, tmp_path):
    data, humans, ids = world
    ctx = context(data, tmp_path)
    newsletter.command(ctx, "draft", EDITION, ["cs"])
    conduit.update_task(ids["doing"], title="Přejmenovaný úkol v řešení")
    person_appends_before_the_next_save(ctx.wikis["cs"], humans["cs"], "Poznámka velvyslankyně.")
    report = newsletter.command(ctx, "draft", EDITION, ["cs"])
    assert any("edited while the bot was drafting" in h for h in report.held), (report.held, report.saved)
    conduit.update_task(ids["doing"], title="Ještě jednou přejmenovaný")
    report = newsletter.command(ctx, "draft", EDITION, ["cs"])
    assert report.saved == [] and any("people edited the draft" in h for h in report.held)
    assert "Poznámka velvyslankyně." in humans["cs"].page_text(draft_title("cs"))


def test_cli_ready_merged_into_a_strangers_edit_is_taken_back(world, tmp_path):
    data, humans, ids = world
    cs_subscribers(humans, n=1)
    data["newsletters"]["wikis"]["cs"] = {**PAGES["cs"], "approvers": ["Admin"]}
    ctx = context(data, tmp_path)
    newsletter.command(ctx, "draft", EDITION, ["cs"])                 # status=draft: approve goes straight to ready
    humans["cs"].edit(draft_title("cs"), humans["cs"].page_text(draft_title("cs")) + "\nÚprava.", "x")
    person_appends_before_the_next_save(ctx.wikis["cs"], humans["cs"], "Podvrh od cizince.")
    report = newsletter.command(ctx, "approve", EDITION, ["cs"])
    assert any("run it again" in p for p in report.problems), report.problems
    text = humans["cs"].page_text(draft_title("cs"))
    assert "Podvrh od cizince." in text and nl.draft_status(text) == "draft"
    report = newsletter.command(ctx, "publish", EDITION, ["cs"])
    assert humans["cs"].page_text(page_title("cs")) is None and any("not approved" in h for h in report.held)
