"""English counts for the newsletter's CLI lines (the operator's language); the wiki's words are messages.

Refusals, "when" phrases, weekday names, edit summaries and the report subpage are in
bot/i18n/<lang>.json (`newsletter-…` keys) and are read through bot.render.messages.
"""
from __future__ import annotations


def plural_en(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
