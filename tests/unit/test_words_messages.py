"""Words that used to be per-language dicts in the jobs, now read from the message files (issue 15)."""
from __future__ import annotations

from bot.render import messages
from bot.render.deployment_words import label, short_date
from bot.render.feedback_words import local_time, wiki_name

NOV_15 = 1794700800          # 2026-11-15 00:00 UTC


def test_wiki_names_in_the_readers_language_and_a_fifth_wiki_by_its_code():
    assert wiki_name("cs", "ko") == "korejská Wikipedie"
    assert wiki_name("ko", "cs") == "체코어 위키백과"
    assert wiki_name("vi", "ar") == "Wikipedia tiếng Ả Rập"
    assert wiki_name("ar", "vi") == "ويكيبيديا الفيتنامية"
    assert wiki_name("cs", "pl") == "pl"


def test_language_names_come_from_cldr():
    assert messages.language_name("en", "cs") == "Czech"
    assert messages.language_name("cs", "ko") == "korejština"
    assert messages.language_name("en", "xx-unknown") == "xx-unknown"


def test_deployment_cells_in_arabic_and_vietnamese():
    assert short_date(NOV_15, "ar", "Asia/Riyadh") == "١٥ نوفمبر"
    assert label("ar", "live", wiki_id="arwiki", since=NOV_15, tz="Asia/Riyadh") == "منشور على arwiki منذ ١٥ نوفمبر"
    assert label("vi", "pending") == "đang chờ triển khai"
    assert label("cs", "live", wiki_id="cswiki", since=NOV_15, tz="Europe/Prague") == "nasazeno na cswiki od 15.&nbsp;11."


def test_comment_times_in_arabic_use_its_digits():
    assert local_time("2026-12-06T05:06:00Z", "Asia/Riyadh", "ar") == "٦ ديسمبر ٢٠٢٦، ٠٨:٠٦ +03"


def test_czech_typography_knows_cldr_month_names_in_both_cases():
    rule = messages.typography("cs")
    assert {"prosinec", "prosince"} <= set(rule.months) and "a" in rule.nbsp_after
