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


# -- run report (bot/jobs/status_report.py) ------------------------------------------------
RUN_REPORT = {
    "cs": {"job": "Úloha", "time": "Poslední běh", "result": "Výsledek", "counts": "Počty", "problems": "Problémy",
           "ok": "v pořádku", "problem": "s problémy", "failed": "selhala", "saved": "uloženo {n}",
           "would_save": "k uložení (zkušební běh) {n}", "unchanged": "beze změny {n}", "held": "odloženo {n}",
           "more": "a {n} dalších",
           "intro": "Tuto stránku udržuje robot: poslední běh každé úlohy na této wiki.",
           "summary": "Robot: stav posledních běhů úloh"},
    "ko": {"job": "작업", "time": "마지막 실행", "result": "결과", "counts": "건수", "problems": "문제",
           "ok": "정상", "problem": "문제 있음", "failed": "실패", "saved": "저장 {n}",
           "would_save": "저장 예정(시험 실행) {n}", "unchanged": "변경 없음 {n}", "held": "보류 {n}",
           "more": "외 {n}건",
           "intro": "이 문서는 봇이 관리합니다: 이 위키에서 각 작업의 마지막 실행 결과입니다.",
           "summary": "봇: 작업 실행 현황 갱신"},
    "en": {"job": "Job", "time": "Last run", "result": "Result", "counts": "Counts", "problems": "Problems",
           "ok": "OK", "problem": "with problems", "failed": "failed", "saved": "{n} saved",
           "would_save": "{n} would be saved (dry run)", "unchanged": "{n} unchanged", "held": "{n} held",
           "more": "and {n} more",
           "intro": "This page is kept by a bot: the last run of each job on this wiki.",
           "summary": "Bot: update the status of the last job runs"},
}


# -- newsletters (bot/jobs/newsletter.py) ------------------------------------------------------
NEWSLETTER_NAME = {"cs": "Zpravodaj Growth", "ko": "성장 팀 소식지", "en": "Growth newsletter"}
# The heading of the talk-page section: "{name} – {month}", the month from Babel ("prosinec 2026", "2026년 12월").
NEWSLETTER_HEADING = {"cs": "{name} – {month}", "ko": "{name} – {month}", "en": "{name} – {month}"}
NEWSLETTER_SUMMARY = {
    "draft": {"cs": "Robot: návrh zpravodaje ({edition}) z Phabricatoru",
              "ko": "봇: 페이브리케이터 활동으로 소식지 초안 작성 ({edition})",
              "en": "Bot: newsletter draft ({edition}) from Phabricator"},
    "approve": {"cs": "Robot: zpravodaj {edition} schválen správcem robota",
                "ko": "봇: 운영자가 소식지 {edition} 승인",
                "en": "Bot: newsletter {edition} approved by the bot operator"},
    "reset": {"cs": "Robot: text zpravodaje {edition} se po schválení změnil, je potřeba ho schválit znovu",
              "ko": "봇: 승인 후 소식지 {edition} 내용이 바뀌어 다시 승인이 필요합니다",
              "en": "Bot: newsletter {edition} changed after approval; it needs approving again"},
    "publish": {"cs": "Robot: zveřejnění zpravodaje {edition}",
                "ko": "봇: 소식지 {edition} 게시",
                "en": "Bot: publish newsletter {edition}"},
    "archive": {"cs": "Robot: odkaz na zpravodaj {edition}",
                "ko": "봇: 소식지 {edition} 링크 추가",
                "en": "Bot: link newsletter {edition}"},
    "message": {"cs": "Robot: {name} – {month}",
                "ko": "봇: {name} – {month}",
                "en": "Bot: {name} – {month}"},
}
NL_RESOLVED = {
    "cs": {"one": "Vyřešili jsme {n} úkol.", "few": "Vyřešili jsme {n} úkoly.", "many": "Vyřešili jsme {n} úkolu.",
           "other": "Vyřešili jsme {n} úkolů."},
    "ko": {"other": "작업 {n}개를 해결했습니다."},
    "en": {"one": "We resolved {n} task.", "other": "We resolved {n} tasks."},
}
NL_PROGRESS = {
    "cs": {"one": "Rozpracovaný je {n} úkol.", "few": "Rozpracované jsou {n} úkoly.",
           "many": "Rozpracovaného je {n} úkolu.", "other": "Rozpracovaných je {n} úkolů."},
    "ko": {"other": "작업 {n}개를 진행하고 있습니다."},
    "en": {"one": "{n} task is in progress.", "other": "{n} tasks are in progress."},
}
NL_OPENED = {
    "cs": {"one": "Nově byl založen {n} úkol.", "few": "Nově byly založeny {n} úkoly.",
           "many": "Nově bylo založeno {n} úkolu.", "other": "Nově bylo založeno {n} úkolů."},
    "ko": {"other": "새 작업 {n}개가 등록되었습니다."},
    "en": {"one": "{n} new task was opened.", "other": "{n} new tasks were opened."},
}
NL_MORE = {
    "cs": {"one": "… a ještě {n} další.", "few": "… a ještě {n} další.", "many": "… a ještě {n} dalšího.",
           "other": "… a ještě {n} dalších."},
    "ko": {"other": "… 외 {n}개가 더 있습니다."},
    "en": {"one": "… and {n} more.", "other": "… and {n} more."},
}

# -- weekly check-in reports (bot/jobs/weekly_report.py) ---------------------------------------
WR_EDITS = {
    "cs": {"one": "{n} editace", "few": "{n} editace", "many": "{n} editace", "other": "{n} editací"},
    "ko": {"other": "편집 {n}회"},
    "en": {"one": "{n} edit", "other": "{n} edits"},
}
WR_PAGES = {
    "cs": {"one": "{n} stránka", "few": "{n} stránky", "many": "{n} stránky", "other": "{n} stránek"},
    "ko": {"other": "문서 {n}개"},
    "en": {"one": "{n} page", "other": "{n} pages"},
}
WR_COMMENTS = {
    "cs": {"one": "{n} komentář", "few": "{n} komentáře", "many": "{n} komentáře", "other": "{n} komentářů"},
    "ko": {"other": "댓글 {n}개"},
    "en": {"one": "{n} comment", "other": "{n} comments"},
}
WR_MESSAGES = {
    "cs": {"one": "{n} zpráva", "few": "{n} zprávy", "many": "{n} zprávy", "other": "{n} zpráv"},
    "ko": {"other": "메시지 {n}개"},
    "en": {"one": "{n} message", "other": "{n} messages"},
}
WR_HEADING = {
    "cs": "Týdenní přehled {week}: {name}",
    "ko": "{week} 주간 보고: {name}",
    "en": "Weekly report {week}: {name}",
}
WR_SUMMARY = {
    "cs": "Robot: týdenní přehled {week} ({name})",
    "ko": "봇: {week} 주간 보고 ({name})",
    "en": "Bot: weekly report {week} ({name})",
}
