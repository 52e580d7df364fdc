"""Short localized strings the templates and edit summaries share (cs, ko, en).

Longer prose lives in the templates; these are the words that recur: status and
priority names as Phabricator shows them, and edit summaries with plural forms.
Czech has three plural forms for integers (one / few / other), chosen by CLDR's
rules through Babel rather than by hand.
"""
from __future__ import annotations

from babel import Locale

STATUS = {
    "cs": {"open": "otevřený", "stalled": "pozastavený", "progress": "v řešení", "resolved": "vyřešený",
           "declined": "zamítnutý", "invalid": "neplatný", "duplicate": "duplikát", "wontfix": "nebude opraveno",
           "spite": "ze vzdoru"},
    "ko": {"open": "열림", "stalled": "보류", "progress": "진행 중", "resolved": "해결됨", "declined": "거부됨",
           "invalid": "유효하지 않음", "duplicate": "중복", "wontfix": "수정 안 함", "spite": "거부됨"},
    "en": {"open": "Open", "stalled": "Stalled", "progress": "In progress", "resolved": "Resolved",
           "declined": "Declined", "invalid": "Invalid", "duplicate": "Duplicate", "wontfix": "Wontfix", "spite": "Spite"},
}

PRIORITY = {  # by Conduit's numeric value
    "cs": {100: "okamžitě", 90: "k posouzení", 80: "vysoká", 50: "střední", 25: "nízká", 10: "nejnižší"},
    "ko": {100: "긴급", 90: "분류 필요", 80: "높음", 50: "보통", 25: "낮음", 10: "가장 낮음"},
    "en": {100: "Unbreak Now!", 90: "Needs Triage", 80: "High", 50: "Medium", 25: "Low", 10: "Lowest"},
}

NOBODY = {"cs": "nikdo", "ko": "없음", "en": "nobody"}

# Plural forms keyed by CLDR category; "other" is the fallback.
TASKS = {
    "cs": {"one": "{n} úkol", "few": "{n} úkoly", "many": "{n} úkolu", "other": "{n} úkolů"},
    "ko": {"other": "작업 {n}개"},
    "en": {"one": "{n} task", "other": "{n} tasks"},
}

STATUS_SUMMARY = {
    "cs": "Robot: aktualizace tabulky stavu úkolů z Phabricatoru ({tables}; {tasks})",
    "ko": "봇: 페이브리케이터 작업 현황표 갱신 ({tables}; {tasks})",
    "en": "Bot: update Phabricator task status table ({tables}; {tasks})",
}


def plural(table: dict[str, dict[str, str]], lang: str, n: int) -> str:
    forms = table[lang]
    category = Locale.parse(lang).plural_form(n)
    return forms.get(category, forms["other"]).format(n=n)


def status_label(lang: str, status: str) -> str:
    return STATUS[lang].get(status, status)


def priority_label(lang: str, value: int) -> str:
    names = PRIORITY[lang]
    # Unknown custom priorities fall back to the nearest lower known one.
    known = [v for v in sorted(names, reverse=True) if v <= value]
    return names[known[0]] if known else names[10]


def status_summary(lang: str, table_ids: list[str], task_count: int) -> str:
    return STATUS_SUMMARY[lang].format(tables=", ".join(table_ids), tasks=plural(TASKS, lang, task_count))
