"""A language is data (issue 15), for the newsletter and the weekly report: an edition drafted, approved
and delivered on local Arabic (right-to-left, six plural forms, Eastern Arabic digits) and Vietnamese wikis
with the words of bot/i18n/ar.json and vi.json through the message-keyed templates of bot/i18n/templates,
and the Phabricator comment naming where it was announced.

The ar and vi wikis are opt-in profiles of sandbox/mediawiki.py: this module starts its own small farm
(about 20 s). Every expected date is the one MediaWiki itself writes in a `~~~~` signature on that wiki.
"""
from __future__ import annotations

import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import mwparserfromhell
import pytest

from bot.domain import newsletter as nl
from bot.jobs import newsletter
from bot.jobs.registry import build_context
from bot.settings import parse_settings
from tests.integration.helpers import config_data, set_secrets

pytestmark = pytest.mark.integration

CODES = ("ar", "vi")
EDITION = "2026-12"
DEC_10 = 1796860800          # 2026-12-10 00:00 UTC
PAGES = {
    "ar": {"draft_page": "ويكيبيديا:النمو/النشرة/{edition}", "page": "ويكيبيديا:النمو/النشرة/عدد/{edition}",
           "report_page": "ويكيبيديا:النمو/النشرة/عدد/{edition}/التوصيل",
           "archive_page": "ويكيبيديا:النمو/النشرة/الأرشيف", "subscribers": "ويكيبيديا:النمو/النشرة/المشتركون"},
    "vi": {"draft_page": "Wikipedia:Tăng trưởng/Bản tin/{edition}", "page": "Wikipedia:Tăng trưởng/Bản tin/Số/{edition}",
           "report_page": "Wikipedia:Tăng trưởng/Bản tin/Số/{edition}/Báo cáo gửi",
           "archive_page": "Wikipedia:Tăng trưởng/Bản tin/Lưu trữ",
           "subscribers": "Wikipedia:Tăng trưởng/Bản tin/Người đăng ký"},
}
WESTERN_DIGIT = re.compile(r"[0-9]")


@pytest.fixture
def farm(language_wikis):
    return language_wikis


def title(code: str, key: str) -> str:
    return PAGES[code][key].replace("{edition}", EDITION)


def config(farm, conduit, tmp_path, pywikibot_dir, monkeypatch, **newsletters):
    set_secrets(monkeypatch, farm, conduit, CODES)
    return {**config_data(farm, conduit, tmp_path, pywikibot_dir, codes=CODES, tables=[]),
            "newsletters": {"projects": ["growth-team"], "wikis": PAGES, **newsletters}}


def context(data, tmp_path):
    ctx = build_context(parse_settings(data, tmp_path / "test.yaml"), dry_run=False)
    ctx.out = io.StringIO()
    return ctx


def namespace(human, number: int) -> str:
    """The wiki's own name of a namespace, with its colon (3: نقاش المستخدم, Thảo luận Thành viên)."""
    spaces = human.get(action="query", meta="siteinfo", siprop="namespaces")["query"]["namespaces"]
    return (spaces[str(number)].get("name") or spaces[str(number)]["*"]) + ":"


def user_talk(human) -> str:
    return namespace(human, 3)


def signed_date(human) -> str:
    """What MediaWiki writes for a `~~~~` signature on this wiki right now."""
    human.edit("Sandbox signature", "~~~~", "signature")
    return human.page_text("Sandbox signature")


@pytest.fixture
def world(farm, conduit, tmp_path, pywikibot_dir, monkeypatch):
    conduit.clock = lambda: DEC_10
    project = conduit.create_project("Growth-Team", "growth-team")
    ids = {"done": conduit.create_task("Welcome survey", projects=[project], date_modified=DEC_10 - 40 * 86400),
           "done2": conduit.create_task("Help panel", projects=[project], date_modified=DEC_10 - 40 * 86400),
           "doing": conduit.create_task("Mentor dashboard", projects=[project], status="progress")}
    conduit.update_task(ids["done"], status="resolved")
    conduit.update_task(ids["done2"], status="resolved")
    humans, readers = {}, {}
    for code in CODES:
        human = farm.api(code, farm.wikis[code].human)
        human.login(farm.wikis[code].human)
        talk = user_talk(human)
        readers[code] = [f"{talk}Reader{i}" for i in range(2)]
        for page in readers[code]:
            human.edit(page, "Hello.", "x")
        human.edit(PAGES[code]["subscribers"], "\n".join(f"{{{{target|page={p}}}}}" for p in readers[code]), "x")
        humans[code] = human
    data = config(farm, conduit, tmp_path, pywikibot_dir, monkeypatch)
    return data, humans, readers, ids


def newsletter_comments(conduit, task_id):
    return [c for c in conduit.comments(task_id) if c["text"] and "newsletter" in c["text"]]


def test_edition_drafted_approved_and_delivered_in_arabic_and_vietnamese(world, conduit, tmp_path):
    data, humans, readers, ids = world
    ar, vi = humans["ar"], humans["vi"]
    ctx = context(data, tmp_path)

    report = newsletter.command(ctx, "draft", EDITION, list(CODES))
    assert report.problems == [] and len(report.saved) == 2, report
    draft = ar.page_text(title("ar", "draft_page"))
    # Arabic words from ar.json; the counts by Arabic plural rules (two resolved tasks: the dual).
    assert "=== ما أُنجز ===\nحللنا مهمتين." in draft, draft
    assert "=== قيد العمل ===\nمهمة واحدة قيد التنفيذ." in draft, draft
    assert "نرحب بالأسئلة والأفكار في " in draft and "صفحة نقاش النشرة" in draft
    assert "Done" not in draft and "Questions and ideas" not in draft
    assert "أعدّ البوت هذه المسودة من Phabricator." in nl.help_of(draft)
    # Task links stay links (no bidi marks inside them), nothing injected.
    links = sorted(str(link.title) for link in mwparserfromhell.parse(draft).filter_wikilinks()
                   if str(link.title).startswith("phab:"))
    assert links == sorted(f"phab:T{ids[k]}" for k in ("done", "done2", "doing"))
    assert "\u200f" not in draft and "\u200e" not in draft

    vdraft = vi.page_text(title("vi", "draft_page"))
    assert "=== Đã xong ===\nChúng tôi đã giải quyết 2 tác vụ." in vdraft, vdraft
    assert "=== Đang thực hiện ===\n1 tác vụ đang được thực hiện." in vdraft
    assert "Mời bạn gửi câu hỏi và ý kiến" in vdraft
    assert "Bot đã soạn bản nháp này từ Phabricator." in nl.help_of(vdraft)

    # A person edits and approves on each wiki; the bot publishes and delivers.
    for code, note in (("ar", "\nملاحظة السفير."), ("vi", "\nGhi chú của đại sứ.")):
        human = humans[code]
        text = human.page_text(title(code, "draft_page")) + note
        human.edit(title(code, "draft_page"), nl.set_status(text, nl.READY), "ok")
    report = newsletter.command(ctx, "publish", EDITION, list(CODES))
    assert report.problems == [], report.problems

    signature = {code: signed_date(humans[code]) for code in CODES}
    # `١٠:٠٧، ٦ ديسمبر ٢٠٢٦ (+03)`: MediaWiki ar writes its dates in Eastern Arabic digits.
    ar_date = re.search(r"، ([٠-٩]{1,2} \S+ [٠-٩]{4}) \(", signature["ar"]).group(1)
    for page in readers["ar"]:
        text = ar.page_text(page)
        assert text.count(nl.key_marker(nl.delivery_key(EDITION, "ar", page))) == 1, page
        assert "ملاحظة السفير." in text and "حللنا مهمتين." in text
        assert "هذا العدد متاح أيضًا في" in text and "This edition" not in text
        # The bot's own signature, dated by MediaWiki in Eastern Arabic digits, as a person's is.
        signed = text.rsplit("~~~~", 1)[-1] if "~~~~" in text else text.split("</small>")[-1]
        assert ar_date.split(" ", 1)[1] in signed, (ar_date, signed)
        assert re.search(r"[٠-٩]{1,2}:[٠-٩]{2}، [٠-٩]{1,2} \S+ [٠-٩]{4}", signed), signed
        assert not WESTERN_DIGIT.search(signed.split("]]")[-1].split(" (")[0]), signed   # but "(+03)" is MediaWiki's
    vi_date = re.search(r"ngày (\d+ tháng \d+ năm \d{4})", signature["vi"]).group(1)
    for page in readers["vi"]:
        text = vi.page_text(page)
        assert text.count(nl.key_marker(nl.delivery_key(EDITION, "vi", page))) == 1, page
        assert "Ghi chú của đại sứ." in text and "Số này cũng có tại" in text
        assert vi_date in text.split("</small>")[-1], (vi_date, text)

    # The delivery report and the draft's help line in the wiki's language, numbers in its digits.
    ar_report = ar.page_text(title("ar", "report_page"))
    assert "انتهى التوصيل" in ar_report and "سُلّمت: ٢،" in ar_report, ar_report
    assert "! المستلم !! النتيجة" in ar_report
    for page in readers["ar"]:
        revid = ar.revisions(page, 1)[0]["revid"]
        assert f"| [[{page}]] || سُلّمت (" in ar_report and str(revid) in ar_report
    assert "سُلّمت ٢ من ٢" in nl.help_of(ar.page_text(title("ar", "draft_page")))
    vi_report = vi.page_text(title("vi", "report_page"))
    assert "Đã gửi xong" in vi_report and "Đã gửi 2," in vi_report and "! Người nhận !! Kết quả" in vi_report
    assert "đã chuyển 2 trên 2" in nl.help_of(vi.page_text(title("vi", "draft_page")))

    # Phabricator: one comment per public task, naming where it was announced on each wiki.
    for key in ("done", "done2", "doing"):
        comments = newsletter_comments(conduit, ids[key])
        assert len(comments) == 2, (key, comments)
        text = "\n".join(c["text"] for c in comments)
        assert "Arabic Wikipedia community" in text and "Vietnamese Wikipedia community" in text, text
        assert nl.page_url(data["wikis"]["ar"]["api_url"], title("ar", "page")) in text
        assert nl.page_url(data["wikis"]["vi"]["api_url"], title("vi", "page")) in text

    # Running again writes nothing.
    report = newsletter.command(ctx, "publish", EDITION, list(CODES))
    assert report.saved == [] and report.problems == []


def at(text_time: str, tz: str) -> float:
    return datetime.strptime(text_time, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(tz)).timestamp()


def test_worker_refuses_an_untouched_arabic_draft_in_arabic_then_sends_it(world, tmp_path):
    """The worker's path on the ar wiki: the refusal reason and the help line are Arabic, and an empty
    period's Arabic "nothing changed" sentence is recognised like the Czech one."""
    data, humans, readers, ids = world
    ar = humans["ar"]
    data["newsletters"]["comment_tasks"] = False
    data["newsletters"]["wikis"] = {"ar": PAGES["ar"]}
    ctx = context(data, tmp_path)
    ctx.clock = lambda: at("2027-01-04 08:00", "Asia/Riyadh")
    newsletter.run(ctx)
    draft = ar.page_text(title("ar", "draft_page"))
    assert nl.draft_status(draft) == "draft" and "حللنا مهمتين." in draft

    ar.edit(title("ar", "draft_page"), nl.set_status(draft, nl.READY), "جاهز")      # nobody touched the text
    report = newsletter.run(ctx)
    draft = ar.page_text(title("ar", "draft_page"))
    assert nl.draft_status(draft) == "draft", report.held
    assert "ambassador-bot:help لن يرسل البوت هذه النشرة:" in nl.help_of(draft), nl.help_of(draft)
    assert ar.page_text(title("ar", "page")) is None

    # Replaced by the empty period's sentence: still refused ("says nothing changed"), without force.
    nothing = "لم يتغير شيء في المشروع خلال هذه الفترة."
    marker_line = draft.split("\n", 1)[0]
    ar.edit(title("ar", "draft_page"), nl.set_status(draft.replace("حللنا مهمتين.", nothing), nl.READY), "x")
    report = newsletter.run(ctx)
    assert any("says nothing changed" in h for h in report.held), report.held
    assert ar.page_text(title("ar", "page")) is None

    draft = ar.page_text(title("ar", "draft_page"))
    ar.edit(title("ar", "draft_page"), draft.replace(nothing, "حللنا مهمتين، وهذه ملاحظتي.").replace(
        "status=draft", "status=ready"), "اعتماد")
    report = newsletter.run(ctx)
    assert report.problems == [], report.problems
    assert "وهذه ملاحظتي" in ar.page_text(title("ar", "page"))
    for page in readers["ar"]:
        assert ar.page_text(page).count(nl.key_marker(nl.delivery_key(EDITION, "ar", page))) == 1
    assert "سُلّمت ٢ من ٢" in nl.help_of(ar.page_text(title("ar", "draft_page")))
    assert marker_line.startswith("<!--")


def _weekly_report_page(farm, conduit, tmp_path, pywikibot_dir, monkeypatch, code, *, article, versions, notes,
                        page, name):
    """Week: `versions` edits of `article` by the wiki's human, `notes` comments on another task;
    the ambassador reports in the wiki's language on `page` of their user space. The page's text."""
    import time

    from bot.jobs import weekly_report

    human = farm.api(code, farm.wikis[code].human)
    human.login(farm.wikis[code].human)
    for i, version in enumerate(versions):
        human.edit(article, version, f"edit {i + 1}")
    user = farm.wikis[code].human.username
    manager = conduit.create_task("Weekly check-ins", author="bob")
    other = conduit.create_task("Mentor dashboard", author="bob")
    for note in notes:
        conduit.update_task(other, actor="alice", comment=note)
    report_title = f"{namespace(human, 2)}{user}/{page}"
    data = config(farm, conduit, tmp_path, pywikibot_dir, monkeypatch)
    del data["newsletters"]
    data["reports"] = {"week": "last_complete", "ambassadors": [{
        "id": "amb", "name": name, "wikis": {code: user}, "phabricator": "alice", "task": f"T{manager}",
        "page": {"wiki": code, "title": report_title}, "language": code}]}
    ctx = context(data, tmp_path)
    ctx.clock = lambda: time.time() + 7 * 86400         # a week from now, "last week" is this week
    report = weekly_report.run(ctx)
    assert report.problems == [], report.problems
    text = human.page_text(report_title)
    assert text is not None, report
    return text, other


ENGLISH_REPORT_WORDS = ("edits on", "Created:", "Commented on", "Pending", "Feedback forwarded")


def test_weekly_report_page_in_arabic(farm, conduit, tmp_path, pywikibot_dir, monkeypatch):
    """The weekly report of an ambassador who reports in Arabic, posted on the ar wiki: Arabic words,
    Arabic plural forms and Eastern Arabic digits for the counts."""
    text, other = _weekly_report_page(
        farm, conduit, tmp_path, pywikibot_dir, monkeypatch, "ar", article="نمو الوافدين",
        versions=("النسخة الأولى.", "النسخة الأولى، موسّعة.", "النسخة الأولى، موسّعة مرة أخرى."),
        notes=("أوافق.", "ملاحظة أخرى.", "وثالثة."), page="التقرير الأسبوعي", name="سفيرة النمو")
    # Three edits (Arabic "few" form: digits and plural), one page, one created.
    assert "التعديلات: ٣ · الصفحات: ١ · الصفحات المنشأة: ١" in text, text
    assert "* المقالات: ٣ تعديلات" in text and "، صفحة جديدة" in text, text
    assert "* المهام المعلّق عليها: ١ (٣ تعليقات)" in text, text
    assert f"[[phab:T{other}|T{other}]] Mentor dashboard: ٣ تعليقات" in text, text
    assert "=== الخطط ===" not in text or "لم تُكتب بعد" in text
    for english in ENGLISH_REPORT_WORDS:
        assert english not in text, english


def test_weekly_report_page_in_vietnamese(farm, conduit, tmp_path, pywikibot_dir, monkeypatch):
    """The same report for an ambassador who reports in Vietnamese, on the vi wiki: Vietnamese words
    around Western digits, no English left."""
    text, _ = _weekly_report_page(
        farm, conduit, tmp_path, pywikibot_dir, monkeypatch, "vi", article="Người mới tăng trưởng",
        versions=("Phiên bản đầu.", "Phiên bản đầu, mở rộng."), notes=("Đồng ý.", "Thêm một ý."),
        page="Báo cáo tuần", name="Đại sứ Tăng trưởng")
    assert "Sửa đổi: 2 · trang: 1 · trang mới tạo: 1" in text, text
    assert "* Bài viết:" in text and ", trang mới" in text, text
    assert "Tác vụ đã bình luận: 1 (2 bình luận)" in text, text
    for english in ENGLISH_REPORT_WORDS:
        assert english not in text, english
