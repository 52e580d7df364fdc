"""Wiki facts from the answers the real local wikis gave (tests/unit/wiki_facts/<code>.json)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.domain.wiki_facts import (WikiFactsError, compile_signature_format, derive_signature_format,
                                   facts_from_answers)
from bot.errors import ConfigError
from bot.settings import parse_settings
from tests.wiki_facts import facts, recorded

# What each wiki wrote for ~~~~~ on 2026-12-06, read as MediaWiki date letters.
DERIVED = {"cs": "j. n. Y, G:i", "ko": 'Y"년 "n"월 "j"일 ("D) G:i', "en": "G:i, j F Y", "ar": "G:i، j F Y",
           "vi": 'G:i", ngày "j" tháng "n" năm "Y', "pl": "G:i, j M Y"}


@pytest.mark.parametrize("code", sorted(DERIVED))
def test_the_format_is_derived_from_what_the_wiki_wrote(code):
    assert facts(code).signature_format == DERIVED[code]


def test_namespaces_aliases_and_contributions_come_from_siteinfo():
    cs, ar, vi = facts("cs"), facts("ar"), facts("vi")
    assert {"wikipedista", "wikipedistka", "uživatel", "diskuse s wikipedistou", "user talk"} <= cs.user_namespaces
    assert {"مستخدم", "نقاش المستخدم"} <= ar.user_namespaces
    assert {"thành viên", "thảo luận thành viên"} <= vi.user_namespaces
    assert "speciální:příspěvky" in cs.contribution_pages and "special:contributions" in cs.contribution_pages
    assert "soubor" in cs.names(6) and "šablona" in cs.names(10)


def test_day_equal_to_month_cannot_be_told_apart_then_the_config_decides():
    cs = facts("cs")
    with pytest.raises(WikiFactsError, match="cannot tell the day from the month"):
        derive_signature_format("12. 12. 2026, 11:02 (CET)", datetime(2026, 12, 12, 10, 2, tzinfo=timezone.utc), cs)
    answers = recorded("cs")
    configured = facts_from_answers(answers["siteinfo"], answers["allmessages"], signature_format="j. n. Y, H:i")
    m = configured.timestamp_re.search("12. 12. 2026, 11:02 (CET)")
    assert configured.to_utc(m) == "2026-12-12T10:02:00Z"


def test_named_months_are_never_ambiguous_and_eastern_arabic_digits_are_read():
    ar = facts("ar")
    written = derive_signature_format("١١:٠٢، ١٢ ديسمبر ٢٠٢٦ (+03)", datetime(2026, 12, 12, 8, 2, tzinfo=timezone.utc), ar)
    assert written == DERIVED["ar"]
    m = ar.timestamp_re.search("[[مستخدم:X|X]] ١١:٠٧، ٦ ديسمبر ٢٠٢٦ (+03)")
    assert ar.to_utc(m) == "2026-12-06T08:07:00Z"


def test_the_repeated_autumn_hour_is_told_by_the_written_abbreviation():
    cs = facts("cs")
    first, second = (cs.timestamp_re.search(f"25. 10. 2026, 02:30 ({z})") for z in ("CEST", "CET"))
    assert (cs.to_utc(first), cs.to_utc(second)) == ("2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z")


def test_a_sample_that_is_not_the_time_it_was_written_is_refused():
    with pytest.raises(WikiFactsError, match="not the time"):
        derive_signature_format("10:02, 6 December 2026 (UTC)", datetime(2026, 12, 6, 11, 0, tzinfo=timezone.utc),
                                facts("en"))


@pytest.mark.parametrize("fmt,problem", [("j. n. Y", "lacks"), ("j. n. Y, H:i q", "letter 'q'"),
                                         ("j j n Y H:i", "twice")])
def test_bad_formats_are_one_line_errors(fmt, problem):
    with pytest.raises(WikiFactsError, match=problem):
        compile_signature_format(fmt, facts("cs"))


def _config(tmp_path, **wiki):
    return {"bot": {"user_agent": "ambassador-bot-tests/0.1 (test@example.org)", "state_url": "memory://"},
            "phabricator": {"url": "https://phabricator.example.org/"},
            "wikis": {"cs": {"api_url": "https://cs.example/w/api.php", "language": "cs",
                             "timezone": "Europe/Prague", "username": "TestBot", **wiki}}}


@pytest.mark.parametrize("wiki,problem", [
    ({"unsigned_templates": {"Unsigned": [1, 1]}}, "unsigned_templates.Unsigned: must be [1, 2]"),
    ({"unsigned_templates": ["Unsigned"]}, "must be a mapping"),
    ({"text_templates": ["sm|all"]}, "text_templates[0]: must be a template name"),
    ({"signature_format": "j. n."}, "signature_format: must be MediaWiki date letters"),
])
def test_config_words_are_parsed_strictly(tmp_path, wiki, problem):
    with pytest.raises(ConfigError) as exc:
        parse_settings(_config(tmp_path, **wiki), tmp_path / "c.yaml")
    assert problem in str(exc.value) and "\n" not in str(exc.value)


def test_config_words_reach_the_facts(tmp_path):
    settings = parse_settings(_config(tmp_path, unsigned_templates={"nepodepsáno": [1, 2], "Unsigned2": [2, 1]},
                                      text_templates=["malé"]), tmp_path / "c.yaml").wikis["cs"]
    assert dict(settings.unsigned_templates) == {"Nepodepsáno": (1, 2), "Unsigned2": (2, 1)}
    assert facts("cs", unsigned_templates=settings.unsigned_templates,
                 text_templates=settings.text_templates).text_templates == {"malé"}


CONFIGURED = {"cs": "j. n. Y, H:i", "ko": "Y년 n월 j일 (D) H:i", "en": "H:i, j F Y", "ar": "H:i، j F Y",
              "vi": 'H:i, "ngày" j "tháng" n "năm" Y'}


# Day and month swapped, or minutes and hours: what the wiki wrote on 6 December reads as another time.
WRONG = {"cs": "n. j. Y, H:i", "ko": "Y년 j월 n일 (D) H:i", "en": "i:H, j F Y", "ar": "i:H، j F Y",
         "vi": 'H:i, "ngày" n "tháng" j "năm" Y'}


@pytest.mark.parametrize("code", sorted(CONFIGURED))
def test_check_config_accepts_the_documented_formats_and_names_a_wrong_one(code):
    """`check-config --online` against what the local wiki wrote (the recorded ~~~~~ sample)."""
    from bot.adapters.wiki_facts import signature_format_problem
    from tests.fakes import FakeWiki, FakeWikiSettings

    wiki = FakeWiki(FakeWikiSettings(code=code, language=code))
    wiki.settings.signature_format = CONFIGURED[code]
    assert signature_format_problem(wiki, facts(code, signature_format=CONFIGURED[code])) is None
    wrong = WRONG[code]
    wiki.settings.signature_format = wrong
    problem = signature_format_problem(wiki, facts(code, signature_format=wrong))
    assert problem.startswith(f"wiki {code}: signature_format {wrong!r} does not read") and "\n" not in problem
