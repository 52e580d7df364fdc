"""Issue 15 on local Arabic and Vietnamese wikis, the capabilities test_languages_e2e.py does not run:
task mentions (an on-wiki `T123` echoed once to the real Phorge task) and the scheduler's run report
(one page per wiki, in that wiki's words, its dates as MediaWiki writes them in a `~~~~` signature).

Its own small farm (ar, vi; about 20 s), like test_languages_e2e.py; the last test reads the cs wiki
of the suite's session farm. The signature-format tests inject the `~~~~~` sample of a day whose
number is the month's (the wikis' clock cannot be set): they pass on any day.
"""
from __future__ import annotations

import io
import re
from datetime import datetime, timezone

import pytest

from bot.jobs import mentions
from bot.jobs.registry import build_context
from bot.scheduler import Service
from bot.settings import parse_settings
from tests.integration.helpers import config_data, set_secrets

pytestmark = pytest.mark.integration

CODES = ("ar", "vi")
MENTION_PAGES = {"ar": "ويكيبيديا:النمو", "vi": "Wikipedia:Tăng trưởng/Thảo luận"}
REPORT_PAGES = {"ar": "ويكيبيديا:النمو/تشغيل البوت", "vi": "Wikipedia:Tăng trưởng/Lần chạy bot"}


@pytest.fixture
def farm(language_wikis):
    return language_wikis


def _settings(farm, conduit, tmp_path, pywikibot_dir, monkeypatch, **sections):
    set_secrets(monkeypatch, farm, conduit, CODES)
    data = {**config_data(farm, conduit, tmp_path, pywikibot_dir, codes=CODES, tables=[]),
            # The mentions are read on one page of ar and in the project namespace of vi.
            "mentions": {"pages": {"ar": [MENTION_PAGES["ar"]]}, "namespaces": {"vi": [4]}},
            **sections}
    return parse_settings(data, tmp_path / "config" / "test.yaml")


def _humans(farm):
    humans = {}
    for code in CODES:
        human = farm.api(code, farm.wikis[code].human)
        human.login(farm.wikis[code].human)
        humans[code] = human
    return humans


def _signed_date(human) -> str:
    """The date and time MediaWiki writes in a signature on this wiki right now (`~~~~~`), zone left out."""
    human.edit("Sandbox signature", "~~~~~", "signature")
    return re.sub(r"\s*\([^()]*\)\s*$", "", human.page_text("Sandbox signature")).strip()


def test_a_mention_on_the_arabic_and_vietnamese_wikis_reaches_the_task_once(farm, conduit, tmp_path, pywikibot_dir,
                                                                          monkeypatch):
    project = conduit.create_project("Growth-Team", "growth-team")
    tid = conduit.create_task("Help panel", projects=[project])
    humans = _humans(farm)
    for code in CODES:
        humans[code].edit(MENTION_PAGES[code], "صفحة المشروع.\n" if code == "ar" else "Trang dự án.\n", "tạo")
    ctx = build_context(_settings(farm, conduit, tmp_path, pywikibot_dir, monkeypatch))
    ctx.out = io.StringIO()
    assert mentions.run(ctx).problems == []       # the starting point: nothing is mentioned yet

    humans["ar"].edit(MENTION_PAGES["ar"], f"صفحة المشروع.\nانظر [[phab:T{tid}]] للتفاصيل.\n", "إشارة")
    humans["vi"].edit(MENTION_PAGES["vi"], f"Trang dự án.\nXem T{tid} để biết thêm.\n", "nhắc đến")
    report = mentions.run(ctx)
    assert report.problems == [] and len(report.saved) == 2, report
    got = [c["text"].replace("\u2060", "") for c in conduit.comments(tid)]
    assert len(got) == 2, got
    for code in CODES:
        [text] = [t for t in got if MENTION_PAGES[code] in t]
        assert "OtherUser" in text and "Special:Diff/" in text, text

    # The page saved again, reverted and the mention written again: still one comment per wiki.
    humans["ar"].edit(MENTION_PAGES["ar"], "صفحة المشروع.\n", "رجوع")
    humans["ar"].edit(MENTION_PAGES["ar"], f"صفحة المشروع.\nمرة أخرى T{tid}.\n", "إشارة")
    humans["vi"].edit(MENTION_PAGES["vi"], f"Trang dự án.\nXem T{tid} để biết thêm, cảm ơn.\n", "sửa")
    again = mentions.run(ctx)
    assert again.problems == [] and again.saved == []
    assert len(conduit.comments(tid)) == 2


def test_the_run_report_is_written_in_arabic_and_vietnamese(farm, conduit, tmp_path, pywikibot_dir, monkeypatch):
    project = conduit.create_project("Growth-Team", "growth-team")
    tid = conduit.create_task("Help panel", projects=[project])
    humans = _humans(farm)
    for code in CODES:
        humans[code].edit(MENTION_PAGES[code], "Trang.\n", "tạo")
    settings = _settings(farm, conduit, tmp_path, pywikibot_dir, monkeypatch,
                         schedule={"jobs": {"mentions": {"wikis": list(CODES)}}, "lease_seconds": 30,
                                   "stop_timeout_seconds": 5},
                         status_page={"pages": REPORT_PAGES})
    ctx = build_context(settings)
    ctx.out = io.StringIO()
    service = Service(settings, ctx=ctx)
    assert service.lease.acquire()
    try:
        before = {code: _signed_date(humans[code]) for code in CODES}
        for code in CODES:
            assert service.run_entry(f"mentions@{code}").result == "ok"
        after = {code: _signed_date(humans[code]) for code in CODES}
        # A run that only changes the counts leaves the page as it is (the row keeps the first run's time).
        humans["vi"].edit(MENTION_PAGES["vi"], f"Trang.\nT{tid}\n", "nhắc đến")
        outcomes = {code: service.run_entry(f"mentions@{code}") for code in CODES}
    finally:
        service.lease.release()
        ctx.store.close()
    assert [o.result for o in outcomes.values()] == ["ok", "ok"], outcomes
    assert len(conduit.comments(tid)) == 1

    ar = humans["ar"].page_text(REPORT_PAGES["ar"])
    assert ar.startswith("يدير بوتٌ هذه الصفحة. تعرض نتيجة آخر تشغيل لكل عملية على هذه الويكي."), ar
    assert "! العملية !! آخر تشغيل !! النتيجة !! الأعداد !! المشكلات" in ar
    assert "| mentions@ar ||" in ar and "|| سليمة ||" in ar and "mentions@vi" not in ar
    # The time of the run as MediaWiki ar writes it in a signature: `١٣:٠٢، ٦ ديسمبر ٢٠٢٦`.
    assert before["ar"] in ar or after["ar"] in ar, (before["ar"], after["ar"], ar)
    assert not re.search(r"\|\| [0-9]", ar), "Western digits in an Arabic date"
    assert humans["ar"].revisions(REPORT_PAGES["ar"], limit=1)[0]["comment"] == "بوت: تحديث حالة آخر تشغيل للعمليات"

    vi = humans["vi"].page_text(REPORT_PAGES["vi"])
    assert vi.startswith("Trang này do bot duy trì: kết quả lần chạy cuối của mỗi công việc trên wiki này."), vi
    assert "! Công việc !! Lần chạy cuối !! Kết quả !! Số lượng !! Vấn đề" in vi
    assert "| mentions@vi ||" in vi and "|| ổn ||" in vi and "mentions@ar" not in vi
    # `17:02, ngày 6 tháng 12 năm 2026`
    assert before["vi"] in vi or after["vi"] in vi, (before["vi"], after["vi"], vi)
    assert humans["vi"].revisions(REPORT_PAGES["vi"], limit=1)[0]["comment"] == \
        "Bot: cập nhật tình trạng các lần chạy gần nhất"
    for code in CODES:
        assert [r["user"] for r in humans[code].revisions(REPORT_PAGES[code])].count("TestBot") == 1


# What the vi wiki writes for ~~~~~ on a day whose number is the month's, and when (UTC).
AMBIGUOUS_VI = [("17:02, ngày 12 tháng 12 năm 2026 (+07)", "2026-12-12T10:02:00Z"),
                ("17:02, ngày 1 tháng 1 năm 2027 (+07)", "2027-01-01T10:02:00Z")]


@pytest.mark.parametrize("sample", AMBIGUOUS_VI)
def test_on_a_day_whose_number_is_the_months_vi_signatures_are_still_read(farm, conduit, tmp_path, pywikibot_dir,
                                                                         monkeypatch, sample):
    """The live vi wiki's facts with the ~~~~~ sample of an ambiguous day (the wiki's clock cannot be
    set): the same format as today's, and it reads the signature the wiki writes now."""
    import bot.adapters.wiki_facts as adapter
    from bot.domain.comments import find_signatures

    ctx = build_context(_settings(farm, conduit, tmp_path, pywikibot_dir, monkeypatch))
    wiki = ctx.wikis["vi"]
    today = adapter.wiki_facts(wiki)
    monkeypatch.setattr(adapter, "signature_sample", lambda wiki: sample)
    that_day = adapter.wiki_facts(wiki, {}, ctx.store)
    assert that_day.signature_format == today.signature_format
    human = _humans(farm)["vi"]
    human.edit("Sandbox signature", "~~~~", "signature")
    [found] = find_signatures(human.page_text("Sandbox signature"), that_day)
    assert found.author == "OtherUser"
    stamp = datetime.strptime(found.timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - stamp).total_seconds()) < 600


# The cs wiki (the suite's session farm) writes the month as a bare number: nothing in a 12 December
# sample tells day from month. Its facts read live, with the sample of that day injected.
CS_AMBIGUOUS = ("12. 12. 2026, 11:02 (CET)", "2026-12-12T10:02:00Z")
CS_EARLIER = ("6. 12. 2026, 11:02 (CET)", "2026-12-06T10:02:53Z")     # recorded on the local cs wiki


def test_on_12_december_cs_uses_the_format_remembered_from_an_earlier_day(wikis, conduit, tmp_path, pywikibot_dir,
                                                                         monkeypatch):
    import bot.adapters.wiki_facts as adapter
    from bot.domain.comments import find_signatures
    from bot.domain.wiki_facts import LANGUAGE, REMEMBERED, SAMPLE
    from tests.integration.helpers import make_context

    ctx = make_context(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch, codes=("cs",))
    wiki = ctx.wikis["cs"]
    samples = iter([CS_AMBIGUOUS, CS_EARLIER, CS_AMBIGUOUS])
    monkeypatch.setattr(adapter, "signature_sample", lambda wiki: next(samples))
    # Nothing remembered yet: the order of the language's CLDR date pattern.
    guessed = adapter.wiki_facts(wiki, {}, None)
    # An unambiguous day is remembered in the state store ...
    earlier = adapter.wiki_facts(wiki, {}, ctx.store)
    assert earlier.format_source == SAMPLE and ctx.store.get(adapter.NS_FACTS, "cs")["signature_format"]
    # ... and used on the ambiguous day (a new process: a new memo).
    that_day = adapter.wiki_facts(wiki, {}, ctx.store)
    assert (guessed.format_source, that_day.format_source) == (LANGUAGE, REMEMBERED)
    assert guessed.signature_format == earlier.signature_format == that_day.signature_format
    human = wikis.api("cs", wikis.wikis["cs"].human)
    human.login(wikis.wikis["cs"].human)
    human.edit("Pískoviště podpisu", "~~~~", "podpis")
    [found] = find_signatures(human.page_text("Pískoviště podpisu"), that_day)
    assert found.author == "OtherUser"
    stamp = datetime.strptime(found.timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - stamp).total_seconds()) < 600
