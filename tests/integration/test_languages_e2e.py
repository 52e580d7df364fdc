"""A language is data (issue 15): status-sync on local Arabic and Vietnamese wikis, and on a fifth
wiki (Polish) that the bot knows only from its config and a message file written in a temporary folder.

These wikis are opt-in profiles of sandbox/mediawiki.py: the fixture `language_wikis` (tests/conftest.py)
starts them once for the three test_languages_* modules, beside the suite's cs/ko/en farm. Every expected date here is
the one MediaWiki itself writes in a `~~~~` signature on that wiki, not one the bot computed.
"""
from __future__ import annotations

import io
import json
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.jobs import status_sync
from bot.jobs.registry import build_context
from bot.settings import parse_settings
from tests.integration.helpers import TIMEZONES, config_data, set_secrets

pytestmark = pytest.mark.integration

CODES = ("ar", "vi", "pl")
PAGES = {"ar": "ويكيبيديا:النمو/الحالة", "vi": "Wikipedia:Tăng trưởng/Trạng thái", "pl": "Wikipedia:Rozwój/Stan"}
BEGIN = "<!-- ambassador-bot:status growth-current begin -->"
END = "<!-- ambassador-bot:status growth-current end -->"

# What a Polish community would add: a message file, nothing else (no template, no code).
POLISH = {
    "@metadata": {"authors": ["test"]},
    "tasks": "{{PLURAL:$1|$1 zadanie|$1 zadania|$1 zadań|$1 zadania}}",
    "status-summary": "Bot: aktualizacja tabeli stanu zadań z Phabricatora ($1; $2)",
    "table-task": "Zadanie", "table-title": "Tytuł", "table-status": "Stan", "table-priority": "Priorytet",
    "table-assignee": "Wykonawca", "table-last-change": "Ostatnia zmiana",
    "status-open": "otwarte", "status-resolved": "rozwiązane", "status-progress": "w toku",
    "priority-80": "wysoki", "priority-50": "średni",
    "date-format": "d MMMM y",
}


@pytest.fixture
def farm(language_wikis):
    return language_wikis


def _context(farm, conduit, tmp_path, pywikibot_dir, monkeypatch, codes, **sections):
    set_secrets(monkeypatch, farm, conduit, codes)
    tables = [{"id": "growth-current",
               "query": {"projects": ["growth-team"], "statuses": ["open", "progress", "resolved"]},
               "pages": {c: PAGES[c] for c in codes}}]
    data = {**config_data(farm, conduit, tmp_path, pywikibot_dir, codes=codes, tables=tables), **sections}
    ctx = build_context(parse_settings(data, tmp_path / "config" / "test.yaml"), dry_run=False)
    ctx.out = io.StringIO()
    return ctx


def _signed_date(farm, code: str) -> str:
    """The date part of a `~~~~` signature MediaWiki writes on this wiki right now."""
    human = farm.api(code, farm.wikis[code].human)
    human.login(farm.wikis[code].human)
    human.edit("Sandbox signature", "~~~~", "signature")
    return human.page_text("Sandbox signature")


def _world(farm, conduit, codes):
    project = conduit.create_project("Growth-Team", "growth-team")
    ids = {"open": conduit.create_task("Help for newcomers", projects=[project], priority="high", owner="alice"),
           "done": conduit.create_task("Welcome message", projects=[project], status="resolved", owner="bob")}
    humans = {}
    for code in codes:
        human = farm.api(code, farm.wikis[code].human)
        human.login(farm.wikis[code].human)
        human.edit(PAGES[code], f"intro\n{BEGIN}\n{END}\noutro\n", "table place")
        humans[code] = human
    return ids, humans


def _region(text: str) -> str:
    return text.split(BEGIN)[1].split(END)[0]


def test_status_sync_on_arabic_and_vietnamese_wikis(farm, conduit, tmp_path, pywikibot_dir, monkeypatch):
    ids, humans = _world(farm, conduit, ("ar", "vi"))
    signatures = {code: _signed_date(farm, code) for code in ("ar", "vi")}
    ctx = _context(farm, conduit, tmp_path, pywikibot_dir, monkeypatch, ("ar", "vi"))
    report = status_sync.run(ctx)
    assert report.problems == [] and len(report.saved) == 2, report

    ar = _region(humans["ar"].page_text(PAGES["ar"]))
    assert "! المهمة !! العنوان !! الحالة !! الأولوية !! المسؤول !! آخر تغيير" in ar
    assert f"| [[phab:T{ids['open']}|T{ids['open']}]] || Help for newcomers || مفتوحة || عالية || alice ||" in ar
    assert "|| محلولة ||" in ar
    # The date as MediaWiki ar writes it in a signature: `١١:٠٧، ٦ ديسمبر ٢٠٢٦ (+03)`.
    ar_date = re.search(r"، (\S+ \S+ \S+) \(", signatures["ar"]).group(1)
    assert re.fullmatch(r"[٠-٩]{1,2} \S+ [٠-٩]{4}", ar_date), signatures["ar"]
    assert ar.count(ar_date) == 2, (ar_date, ar)
    assert not re.search(r"\|\| [0-9]", ar), "Western digits in an Arabic date"

    vi = _region(humans["vi"].page_text(PAGES["vi"]))
    assert "! Tác vụ !! Tiêu đề !! Trạng thái !! Độ ưu tiên" in vi
    assert "|| mở || cao || alice ||" in vi and "|| đã giải quyết ||" in vi
    # `15:08, ngày 6 tháng 12 năm 2026 (+07)`
    vi_date = re.search(r"ngày (\d+ tháng \d+ năm \d{4})", signatures["vi"]).group(1)
    assert vi.count(vi_date) == 2, (vi_date, vi)

    # Edit summaries, plurals by CLDR: ar has a dual ("مهمتان", two tasks), vi one form.
    ar_rev = humans["ar"].revisions(PAGES["ar"], limit=1)[0]
    vi_rev = humans["vi"].revisions(PAGES["vi"], limit=1)[0]
    assert ar_rev["user"] == "TestBot" and ar_rev["comment"] == "بوت: تحديث جدول حالة مهام Phabricator (growth-current؛ مهمتان)"
    assert vi_rev["comment"] == "Bot: cập nhật bảng trạng thái tác vụ Phabricator (growth-current; 2 tác vụ)"

    # Nothing changed: nothing edited.
    again = status_sync.run(ctx)
    assert again.saved == [] and again.problems == []


def test_a_fifth_wiki_needs_only_config_and_a_message_file(farm, conduit, tmp_path, pywikibot_dir, monkeypatch):
    folder = tmp_path / "messages"
    folder.mkdir()
    (folder / "pl.json").write_text(json.dumps(POLISH, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("AMBASSADOR_MESSAGES", str(folder))
    ids, humans = _world(farm, conduit, ("pl",))
    ctx = _context(farm, conduit, tmp_path, pywikibot_dir, monkeypatch, ("pl",))
    report = status_sync.run(ctx)
    assert report.problems == [] and len(report.saved) == 1, report
    text = _region(humans["pl"].page_text(PAGES["pl"]))
    assert "! Zadanie !! Tytuł !! Stan !! Priorytet !! Wykonawca !! Ostatnia zmiana" in text
    assert "|| otwarte || wysoki || alice ||" in text and "|| rozwiązane ||" in text
    today = datetime.now(timezone.utc).astimezone(ZoneInfo("Europe/Warsaw"))
    months = ("stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia", "września",
              "października", "listopada", "grudnia")
    days = {today, today - timedelta(minutes=5)}
    assert any(f"{d.day} {months[d.month - 1]} {d.year}" in text for d in days), text
    rev = humans["pl"].revisions(PAGES["pl"], limit=1)[0]
    assert rev["comment"] == "Bot: aktualizacja tabeli stanu zadań z Phabricatora (growth-current; 2 zadania)"
    # What the file lacks (here: nothing the table needs) would be English; check-config lists it.
    from bot import i18n
    assert "status-stalled" in i18n.missing("pl") and "table-task" not in i18n.missing("pl")


def _wiki_facts(farm, conduit, tmp_path, pywikibot_dir, monkeypatch, code):
    """The facts the bot reads from the live wiki (siteinfo, allmessages, its ~~~~~ sample)."""
    from bot.adapters.wiki_facts import wiki_facts
    ctx = _context(farm, conduit, tmp_path, pywikibot_dir, monkeypatch, (code,))
    return ctx, wiki_facts(ctx.wikis[code], ctx.memo)


@pytest.mark.parametrize("code", ["ar", "vi"])
def test_feedback_parser_reads_signatures_written_by_the_wiki(farm, conduit, tmp_path, pywikibot_dir, monkeypatch, code):
    from bot.domain.comments import find_signatures
    line = _signed_date(farm, code)
    _, facts = _wiki_facts(farm, conduit, tmp_path, pywikibot_dir, monkeypatch, code)
    found = find_signatures(line, facts)
    assert len(found) == 1 and found[0].author == "OtherUser", (line, facts.signature_format)
    stamp = datetime.strptime(found[0].timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - stamp).total_seconds()) < 600


FEEDBACK_PAGES = {"ar": "ويكيبيديا:النمو/ملاحظات", "vi": "Wikipedia:Tăng trưởng/Phản hồi"}
FEEDBACK_TEXT = {"ar": "أقترح إضافة مرشح للمهام.", "vi": "Tôi đề nghị thêm bộ lọc nhiệm vụ."}


@pytest.mark.parametrize("code", ["ar", "vi"])
def test_feedback_signed_on_the_wiki_reaches_phabricator_once(farm, conduit, tmp_path, pywikibot_dir, monkeypatch,
                                                             code):
    """A comment a person signs with ~~~~ on the ar or vi wiki goes to its task as a digest: author, the
    signature's time, the comment's permalink; a second run posts nothing."""
    import urllib.parse

    from bot.domain.comments import comment_id
    from bot.jobs import feedback
    from bot.render.feedback_words import local_time

    project = conduit.create_project("Growth-Team", "growth-team")
    task = conduit.create_task(f"Feedback {code}", projects=[project])
    title = FEEDBACK_PAGES[code]
    human = farm.api(code, farm.wikis[code].human)
    human.login(farm.wikis[code].human)
    human.edit(title, "== Old ==\nOld. ~~~~\n", "start")
    monkeypatch.setenv("AMBASSADOR_CONDUIT_TOKEN", conduit.bot_token)
    monkeypatch.setenv(f"AMBASSADOR_TEST_{code.upper()}_PASSWORD", farm.wikis[code].bot.password)
    ctx = _context(farm, conduit, tmp_path, pywikibot_dir, monkeypatch, (code,),
                   feedback={"pages": [{"wiki": code, "title": title, "task": task}]})
    assert feedback.run(ctx).problems == []         # the first run takes the page as it is as the baseline
    assert conduit.comments(task) == []

    human.edit(title, human.page_text(title).rstrip("\n") + f"\n\n== New ==\n{FEEDBACK_TEXT[code]} ~~~~\n", "comment")
    rev = human.revisions(title, limit=1)[0]
    report = feedback.run(ctx)
    assert report.problems == [], report
    [posted] = [c["text"].replace("\u2060", "") for c in conduit.comments(task)]
    assert FEEDBACK_TEXT[code] in posted and "OtherUser" in posted and "Old." not in posted
    minute = rev["timestamp"][:16] + ":00Z"
    assert local_time(minute, TIMEZONES[code], "en") in posted, posted
    permalink = "Special:GoToComment/" + comment_id("OtherUser", minute, "New")
    assert urllib.parse.quote(permalink, safe="/:") in posted, posted

    again = feedback.run(ctx)
    assert again.problems == [] and len(conduit.comments(task)) == 1
