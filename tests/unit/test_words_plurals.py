"""Plural tables of the messages that carry counts in edit summaries (feedback-summary-digest,
feedback-summary-reply), every CLDR category of each language: cs one/few/many/other, ar
zero/one/two/few/many/other, ko and vi a single form."""
from __future__ import annotations

import pytest

from bot import i18n

# One number per CLDR category (cs "many" is for decimals only).
CS = {"one": 1, "few": 3, "many": 1.5, "other": 5}
AR = {"zero": 0, "one": 1, "two": 2, "few": 3, "many": 11, "other": 100}


def test_the_sample_numbers_are_in_the_categories_they_stand_for():
    assert {c: i18n.category("cs", n) for c, n in CS.items()} == {c: c for c in CS}
    assert {c: i18n.category("ar", n) for c, n in AR.items()} == {c: c for c in AR}
    assert i18n.categories("ko") == ("other",)


@pytest.mark.parametrize("category,expected", [
    ("one", "Bot: feedback digest (1 new comment)"), ("other", "Bot: feedback digest (5 new comments)")])
def test_english_digest_summary(category, expected):
    assert i18n.message("en", "feedback-summary-digest", {"one": 1, "other": 5}[category]) == expected


@pytest.mark.parametrize("category", list(CS))
def test_czech_digest_summary_reads_for_any_count(category):
    n = CS[category]
    assert i18n.message("cs", "feedback-summary-digest", n) == f"Robot: přehled zpětné vazby (nových komentářů: {n})"


@pytest.mark.parametrize("category,expected", [
    ("zero", "بوت: ملخص الملاحظات (لا تعليقات جديدة)"),
    ("one", "بوت: ملخص الملاحظات (تعليق جديد واحد)"),
    ("two", "بوت: ملخص الملاحظات (تعليقان جديدان)"),
    ("few", "بوت: ملخص الملاحظات (٣ تعليقات جديدة)"),
    ("many", "بوت: ملخص الملاحظات (١١ تعليقًا جديدًا)"),
    ("other", "بوت: ملخص الملاحظات (١٠٠ تعليق جديد)"),
])
def test_arabic_digest_summary_six_forms(category, expected):
    assert i18n.message("ar", "feedback-summary-digest", AR[category]) == expected


@pytest.mark.parametrize("n", [0, 1, 2, 5, 11, 100])
def test_korean_and_vietnamese_digest_summary_one_form(n):
    assert i18n.message("ko", "feedback-summary-digest", n) == f"봇: 피드백 요약 (새 의견 {n}개)"
    assert i18n.message("vi", "feedback-summary-digest", n) == f"Bot: tóm tắt phản hồi ({n} bình luận mới)"


@pytest.mark.parametrize("category,expected", [
    ("one", "Robot: komentář předán do úkolu T1"), ("few", "Robot: komentář předán do úkolů T1"),
    ("many", "Robot: komentář předán do úkolů T1"), ("other", "Robot: komentář předán do úkolů T1"),
])
def test_czech_reply_summary_case_follows_the_number_of_tasks(category, expected):
    assert i18n.message("cs", "feedback-summary-reply", "T1", CS[category]) == expected


@pytest.mark.parametrize("lang,expected", [
    ("en", "Bot: feedback forwarded to T1, T2"), ("ko", "봇: 의견을 T1, T2에 전달함"),
    ("vi", "Bot: đã chuyển phản hồi đến T1, T2"), ("ar", "بوت: أُحيل التعليق إلى T1, T2")])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 11, 100])
def test_reply_summary_without_inflection(lang, expected, n):
    assert i18n.message(lang, "feedback-summary-reply", "T1, T2", n) == expected


def test_reply_summary_counts_the_tasks_it_names():
    from bot.jobs.feedback import reply_summary
    assert reply_summary("cs", "T1") == "Robot: komentář předán do úkolu T1"
    assert reply_summary("cs", "T1, T2") == "Robot: komentář předán do úkolů T1, T2"


def test_every_new_key_is_documented_and_translated():
    keys = [k for k in i18n.messages_of("en") if k.startswith(("newsletter-refusal", "newsletter-when",
                                                                "newsletter-weekday", "feedback-", "deploy-",
                                                                "weekly-", "typography-"))]
    assert len(keys) >= 29
    doc = i18n.messages_of(i18n.DOC)
    for lang in ("cs", "ko", "ar", "vi"):
        assert [k for k in keys if k not in i18n.messages_of(lang)] == [], lang
    assert [k for k in keys if k not in doc] == []
