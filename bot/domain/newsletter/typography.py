"""Typography: non-breaking spaces where the language wants them."""
from __future__ import annotations

import re
from dataclasses import dataclass

import mwparserfromhell


@dataclass(frozen=True)
class Typography:
    """Where a language keeps words together (the message `typography-nbsp-after` and CLDR month names).

    Czech: a one-letter preposition or conjunction never ends a line, nor does the day of a date or
    a month before its year. No words (most languages): text is left as it is."""
    nbsp_after: tuple[str, ...] = ()
    months: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.nbsp_after)


def typeset(wikitext: str, rule: Typography) -> str:
    """`&nbsp;` after the rule's short words and inside dates, in running text only.

    Comments, link targets, template names and tags are left alone; link labels
    are treated as running text. Applying it twice changes nothing more.
    """
    if not rule:
        return wikitext
    code = mwparserfromhell.parse(wikitext)
    _typeset(code, _patterns(rule))
    return str(code)


def _patterns(rule: Typography) -> tuple[re.Pattern, ...]:
    words = "|".join(re.escape(w) for w in sorted(set(rule.nbsp_after), key=len, reverse=True))
    after_word = re.compile(r"(?<![\w&#;.-])(" + words + r") +(?=\S|$)", re.IGNORECASE)
    day = re.compile(r"(\d{1,2}\.) +(?=\d{1,2}\. |\d{1,2}\.&nbsp;|[^\W\d_]+ +\d{4})")
    months = "|".join(re.escape(m) for m in sorted(set(rule.months), key=len, reverse=True))
    month_year = re.compile(r"(\b(?:" + (months + "|" if months else "") + r"\d{1,2}\.)) +(\d{4})\b")
    return after_word, day, month_year


def _typeset(code, patterns) -> None:
    for node in code.nodes:
        kind = type(node).__name__
        if kind == "Text":
            node.value = _typeset_line(node.value, patterns)
        elif kind == "Wikilink" and node.text is not None:
            _typeset(node.text, patterns)
        elif kind == "Heading":
            _typeset(node.title, patterns)
        elif kind == "Tag" and node.contents is not None and str(node.tag).lower() in ("b", "i", "small", "span", "li"):
            _typeset(node.contents, patterns)


def _typeset_line(text: str, patterns) -> str:
    after_word, day, month_year = patterns
    text = after_word.sub(r"\1&nbsp;", text)
    text = day.sub(r"\1&nbsp;", text)
    return month_year.sub(r"\1&nbsp;\2", text)
