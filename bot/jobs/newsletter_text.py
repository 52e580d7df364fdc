"""Localized words of the newsletter job that are not templates: refusals, summaries, "when" phrases.

Kept here rather than in bot/render/messages.py so the newsletter's wording lives with the newsletter.
The help text on the draft and the delivery report are templates (templates/newsletter_help.*,
templates/newsletter_report.*). No `<`, `>` or `--` in anything that goes into the draft's help comment.
"""
from __future__ import annotations

# Why an approved edition is not published, in the wiki's language (on the draft) and in English (CLI).
REFUSAL = {
    "untouched": {
        "cs": "text nikdo neupravil, je to jen to, co vygeneroval robot.",
        "ko": "아무도 봇이 만든 내용을 고치지 않았습니다.",
        "en": "nobody edited the text the bot generated.",
    },
    "nothing": {
        "cs": "text říká, že se v tomto období nic nezměnilo.",
        "ko": "내용에 이번 기간에 변경 사항이 없다고 적혀 있습니다.",
        "en": "the text says nothing changed in this period.",
    },
    "send-time": {
        "cs": "čas odeslání „{value}“ nelze přečíst; napište ho jako 14. 12. 2026 9:00.",
        "ko": "보내는 시각 '{value}'을(를) 읽을 수 없습니다. 2026년 12월 14일 9:00처럼 적어 주세요.",
        "en": "the send time {value!r} cannot be read; write it like 2026-12-14 09:00.",
    },
}

# When the bot sends an approved edition, for the draft's help text.
WHEN_NEXT_RUN = {
    "cs": "při svém příštím běhu po schválení",
    "ko": "승인 후 다음 실행 때",
    "en": "at its next run after approval",
}
WHEN_DEFAULT = {  # {time}: e.g. "09:00"; {weekday}: localized weekday or the every-day word
    "cs": "v nejbližší {weekday} v {time} po schválení",
    "ko": "승인 후 처음 오는 {weekday} {time}에",
    "en": "on the first {weekday} at {time} after approval",
}
WEEKDAY = {
    "cs": ("pondělí", "úterý", "středu", "čtvrtek", "pátek", "sobotu", "neděli", "den"),
    "ko": ("월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일", "날"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "day"),
}
WHEN_AT = {"cs": "{time}", "ko": "{time}에", "en": "on {time}"}
WHEN_AT_DONE = {"cs": "{time}", "ko": "{time}", "en": "on {time}"}
DATETIME_PATTERN = {"cs": "EEEE d. M. y H:mm", "ko": "y년 M월 d일 EEEE H:mm", "en": "EEEE d MMMM y H:mm"}

SUMMARY = {
    "help": {"cs": "Robot: stav zpravodaje {edition}", "ko": "봇: 소식지 {edition} 상태",
             "en": "Bot: newsletter {edition} status"},
    "refused": {"cs": "Robot: zpravodaj {edition} nerozešlu: {reason}", "ko": "봇: 소식지 {edition}을(를) 보내지 않음: {reason}",
                "en": "Bot: newsletter {edition} not sent: {reason}"},
    "report": {"cs": "Robot: zpráva o doručení zpravodaje {edition}", "ko": "봇: 소식지 {edition} 전달 보고",
               "en": "Bot: newsletter {edition} delivery report"},
}
REPORT_SUBPAGE = {"cs": "Doručení", "ko": "배달 보고", "en": "Delivery report"}


def plural_en(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
