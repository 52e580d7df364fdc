"""Languages as data: message files, PLURAL, English fallback, native cs/ko words, dates (issue 15)."""
from __future__ import annotations

import json
import logging

import pytest

from bot import i18n
from bot.render import messages
from bot.render.environment import Renderer
from tests.fakes import task

# 2026-12-06 05:08 UTC: 6:08 in Prague, 14:08 in Seoul, 8:08 in Riyadh, 12:08 in Ho Chi Minh City.
MOMENT = 1796533680


def test_bundled_languages_are_the_message_files():
    assert set(i18n.available_languages()) >= {"ar", "cs", "en", "ko", "vi"}
    assert "qqq" not in i18n.available_languages()
    from bot.settings import LANGUAGES
    assert "vi" in LANGUAGES and "xx" not in LANGUAGES and list(LANGUAGES) == list(i18n.available_languages())


@pytest.mark.parametrize("lang", ["ar", "cs", "ko", "vi"])
def test_bundled_languages_lack_nothing_and_have_sane_plurals(lang):
    assert i18n.missing(lang) == []
    assert i18n.check_file(i18n.MESSAGE_DIR / f"{lang}.json") == []


def test_every_message_is_documented():
    doc = json.loads((i18n.MESSAGE_DIR / "qqq.json").read_text(encoding="utf-8"))
    assert set(i18n.messages_of("en")) <= set(doc)


@pytest.mark.parametrize("lang,status,priority", [
    ("cs", "wontfix", 100), ("ko", "spite", 100), ("ar", "open", 80), ("vi", "resolved", 50)])
def test_labels_come_from_the_message_files(lang, status, priority):
    data = json.loads((i18n.MESSAGE_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    assert messages.status_label(lang, status) == data[f"status-{status}"]
    assert messages.priority_label(lang, priority) == data[f"priority-{priority}"]


def test_native_czech_words():
    assert messages.priority_label("cs", 100) == "okamžitá"
    assert messages.status_label("cs", "wontfix") == "nebude řešen"
    approve = messages.NEWSLETTER_SUMMARY["approve"]["cs"].format(edition="2026-12", name="x", month="y")
    assert approve == "Robot: zpravodaj 2026-12 schválen provozovatelem robota"


def test_native_korean_words():
    assert messages.status_label("ko", "spite") != messages.status_label("ko", "declined")
    for kind in messages.NEWSLETTER_KINDS:
        assert "페이브리케이터" not in messages.NEWSLETTER_SUMMARY[kind]["ko"]
    assert "Phabricator" in messages.status_summary("ko", ["a"], 1)


@pytest.mark.parametrize("lang,tz,date,moment", [
    ("cs", "Europe/Prague", "6.\u00a012.\u00a02026", "6. 12. 2026, 6:08"),
    ("ko", "Asia/Seoul", "2026년 12월 6일", "2026년 12월 6일 오후 2:08"),
    ("ar", "Asia/Riyadh", "٦ ديسمبر ٢٠٢٦", "٠٨:٠٨، ٦ ديسمبر ٢٠٢٦"),
    ("vi", "Asia/Ho_Chi_Minh", "6 tháng 12 năm 2026", "12:08, ngày 6 tháng 12 năm 2026"),
    ("en", "UTC", "Dec 6, 2026", "12/6/26, 5:08\u202fAM"),
])
def test_dates_as_each_wiki_writes_them(lang, tz, date, moment):
    assert messages.date_text(MOMENT, lang, tz) == date
    assert messages.datetime_text(MOMENT, lang, tz) == moment


def test_legacy_tables_keep_their_shape_and_format_resolves_plurals():
    assert messages.TASKS["cs"] == {"one": "{n} úkol", "few": "{n} úkoly", "many": "{n} úkolu", "other": "{n} úkolů"}
    assert messages.RUN_REPORT["cs"]["saved"].format(n=3) == "uloženo 3"
    assert messages.RUN_REPORT["en"]["more"] == "and {n} more"
    assert messages.NEWSLETTER_HEADING["ko"].format(name="A", month="B") == "A – B"
    assert messages.msg("cs", "nl-resolved", 2) == "Vyřešili jsme 2 úkoly."


def test_plural_explicit_number_and_missing_forms():
    assert i18n.resolve("cs", "{{PLURAL:$1|0=žádný úkol|$1 úkol|$1 úkoly}}", [0]) == "žádný úkol"
    # A missing last form repeats the one before, as in MediaWiki.
    assert i18n.resolve("cs", "{{PLURAL:$1|$1 úkol|$1 úkoly}}", [7]) == "7 úkoly"
    assert "PLURAL has 3 forms" in i18n.check_file_text("ko", '{"x": "{{PLURAL:$1|a|b|c}}"}')[0]


@pytest.fixture
def extra_messages(tmp_path, monkeypatch):
    monkeypatch.setenv(i18n.ENV_VAR, str(tmp_path))
    i18n._warned.clear()
    return tmp_path


def test_a_language_is_a_message_file(extra_messages):
    (extra_messages / "pl.json").write_text(json.dumps({
        "tasks": "{{PLURAL:$1|$1 zadanie|$1 zadania|$1 zadań|$1 zadania}}",
        "status-open": "otwarte", "date-format": "d MMMM y",
    }), encoding="utf-8")
    from bot.settings import LANGUAGES
    assert "pl" in LANGUAGES
    assert [messages.msg("pl", "tasks", n) for n in (1, 2, 5, 22, 25)] == [
        "1 zadanie", "2 zadania", "5 zadań", "22 zadania", "25 zadań"]
    assert messages.status_label("pl", "open") == "otwarte"
    assert messages.date_text(MOMENT, "pl", "Europe/Warsaw") == "6 grudnia 2026"
    assert "status-closed" not in i18n.missing("pl") and "status-resolved" in i18n.missing("pl")


def test_a_missing_message_is_english_with_one_warning(extra_messages, caplog):
    (extra_messages / "de.json").write_text(json.dumps({"status-open": "offen"}), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="bot.i18n"):
        assert messages.msg("de", "nobody") == "nobody"
        assert messages.msg("de", "nobody") == "nobody"
        assert messages.msg("de", "tasks", 1) == "1 task"
        assert messages.status_label("de", "open") == "offen"
    warned = [r.getMessage() for r in caplog.records]
    assert sum("'nobody'" in w for w in warned) == 1 and sum("'tasks'" in w for w in warned) == 1
    assert not any("'status-open'" in w for w in warned)


def test_a_language_without_its_own_template_gets_the_message_keyed_one(extra_messages):
    (extra_messages / "de.json").write_text(json.dumps({
        "table-task": "Aufgabe", "table-status": "Status", "status-open": "offen", "date-format": "d. MMMM y",
        "table-empty": "Keine öffentliche Aufgabe passt gerade."}), encoding="utf-8")
    text = Renderer().render("status_table", "de", "wiki", rows=[task(1, "Hallo", modified=MOMENT)], tz="Europe/Berlin")
    assert text.startswith('{| class="wikitable sortable"\n! Aufgabe !! Title !! Status !!')
    assert "| [[phab:T1|T1]] || Hallo || offen ||" in text and "6. Dezember 2026" in text
    empty = Renderer().render("status_table", "de", "wiki", rows=[], tz="Europe/Berlin")
    assert "Keine öffentliche Aufgabe passt gerade." in empty


def test_arabic_table_from_the_generic_template():
    text = Renderer().render("status_table", "ar", "wiki", rows=[task(7, "Fix", priority=80, modified=MOMENT)],
                             tz="Asia/Riyadh")
    assert "! المهمة !! العنوان !! الحالة" in text
    assert "| [[phab:T7|T7]] || Fix || مفتوحة || عالية || – || ٦ ديسمبر ٢٠٢٦" in text


def test_check_config_lists_missing_messages(extra_messages, tmp_path, capsys, monkeypatch):
    import yaml
    from bot.cli import main
    (extra_messages / "de.json").write_text(json.dumps({"status-open": "offen", "tasks": "{{PLURAL:$1|a|b|c}}"}),
                                            encoding="utf-8")
    base = yaml.safe_load(open("tests/configs/base.yaml", encoding="utf-8"))
    code = next(iter(base["wikis"]))
    base["wikis"][code]["language"] = "de"
    cfg = tmp_path / "config" / "c.yaml"
    cfg.parent.mkdir()
    cfg.write_text(yaml.safe_dump(base, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv(base.get("phabricator", {}).get("token_env", "AMBASSADOR_CONDUIT_TOKEN"), "t")
    for c, w in base["wikis"].items():
        monkeypatch.setenv(w.get("password_env", f"AMBASSADOR_{c.upper().replace('-', '_')}_PASSWORD"), "p")
    assert main(["--config", str(cfg), "check-config"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("messages de:") and " missing, " in x)
    assert f"{len(i18n.missing('de'))} missing" in line and "nobody" in line and "status-open" not in line
    assert "messages de: problem: " in out and "tasks: PLURAL has 3 forms, de has 2" in out


def test_a_document_without_the_languages_template_falls_back_to_english_once(tmp_path, caplog):
    (tmp_path / "note.en.wiki.j2").write_text("Status: {{ 'open'|status(lang) }}, {{ 3|plural('TASKS', lang) }}\n",
                                              encoding="utf-8")
    renderer = Renderer(template_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="bot.render.environment"):
        assert renderer.render("note", "vi", "wiki") == "Status: mở, 3 tác vụ\n"
        assert renderer.render("note", "vi", "wiki") == "Status: mở, 3 tác vụ\n"
    assert sum("no template note.vi.wiki" in r.getMessage() for r in caplog.records) == 1
