"""Small versions of the `make reliability` campaigns, and proof that their checker sees damage."""
from __future__ import annotations

import pytest

from tests.reliability import campaigns

pytestmark = pytest.mark.integration


def test_fault_campaign_small(wikis, conduit):
    outcome = campaigns.fault_campaign(wikis, conduit, seed=11, rounds=4)
    assert outcome.faults > 0
    assert (outcome.duplicates, outcome.losses) == (0, 0), outcome.notes


def test_checker_counts_lost_human_lines_and_needless_edits(wikis, conduit, tmp_path):
    world = campaigns.World(wikis, conduit, tmp_path, pages_per_wiki=1, tasks=3)
    world.human_edit()
    (code, title), lines = next((k, v) for k, v in world.human_lines.items() if v)
    bot = wikis.api(code, wikis.wikis[code].bot)
    text = world.humans[code].page_text(title)
    bot.edit(title, text.replace(lines[0], ""), "a careless bot drops the human line")
    bot.edit(title, text.replace(lines[0], "") + "\n", "and edits again without changing its region")
    duplicates, losses, notes = world.check()
    assert duplicates >= 1 and losses >= 1 and "lost human line" in notes
