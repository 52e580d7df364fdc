"""Task mentions in wikitext."""
from __future__ import annotations

import pytest

from bot.domain.mentions import added_mentions, mention_key, task_mentions


@pytest.mark.parametrize("text,expected", [
    ("see T123.", {123}),
    ("[[phab:T45|the task]] [[:phabricator:T46]] [[Phab:t47]]", {45, 46, 47}),
    ("{{Phabricator|T7}} {{phab|8}} {{Šablona:Phabricator|T9|text}}", {7, 8, 9}),
    ("(T10), T11; „T12“", {10, 11, 12}),
    ("AT99 T12x T0 https://phabricator.wikimedia.org/T555 T-1 page/T77", set()),
    ("<nowiki>T66</nowiki> <!-- T77 --> <code>T88</code> <pre>T99</pre>", set()),
    ("<!-- unterminated T5", set()),
])
def test_task_mentions(text, expected):
    assert task_mentions(text) == expected


def test_added_only():
    assert added_mentions("T1 and T2", "T1, T2 and [[phab:T3]]") == {3}
    assert added_mentions("T1", "") == set()


def test_key_is_per_wiki_page_task_and_ignores_title_spelling():
    assert mention_key("cs", "wikipedie:Growth_team", 5) == mention_key("cs", "Wikipedie:Growth team", 5)
    assert mention_key("cs", "A", 5) != mention_key("ko", "A", 5) != mention_key("cs", "A", 6)
