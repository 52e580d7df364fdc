"""Delivery to cs and ko runs concurrently: the two wikis' own revision timestamps show the deliveries
overlapping in time. Real MediaWiki (cs, ko), a non-zero throttle on each wiki; no wall-clock bound."""
from __future__ import annotations

from datetime import datetime

import pytest

from bot.domain import newsletter as nl
from bot.jobs import newsletter
from tests.integration.test_newsletter_e2e import (CS_TALK, EDITION, KO_TALK, PAGES, context, copies, draft_title,
                                                   set_ready, world)  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration
PER_WIKI = 10
THROTTLE = 0.5       # seconds per edit on each wiki: each wiki's delivery spans several seconds


def seconds(timestamp: str) -> int:
    return int(datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").timestamp())


def delivery_interval(human, titles) -> tuple[int, int]:
    """First and last second (the wiki's own revision timestamps) of the bot's messages on `titles`."""
    stamps = []
    for title in titles:
        ours = [r for r in human.revisions(title, 10) if r["user"] == "TestBot"]
        assert len(ours) == 1, (title, ours)
        stamps.append(seconds(ours[0]["timestamp"]))
    return min(stamps), max(stamps)


def test_two_wikis_are_delivered_at_the_same_time(world, tmp_path):
    data, humans, ids = world
    targets = {"cs": [f"{CS_TALK}Souběžný{i}" for i in range(PER_WIKI)],
               "ko": [f"{KO_TALK}동시{i}" for i in range(PER_WIKI)]}
    for code, titles in targets.items():
        for title in titles:
            humans[code].edit(title, "Ahoj.", "x")
        humans[code].edit(PAGES[code]["subscribers"], "\n".join(f"{{{{target|page={t}}}}}" for t in titles), "x")
    data["newsletters"]["comment_tasks"] = False
    for code in ("cs", "ko"):
        data["wikis"][code]["throttle_seconds"] = THROTTLE
    ctx = context(data, tmp_path)
    newsletter.command(ctx, "draft", EDITION, ["cs", "ko"])
    for code in ("cs", "ko"):
        set_ready(humans[code], draft_title(code))

    report = newsletter.command(ctx, "publish", EDITION, ["cs", "ko"])
    assert report.problems == [], report.problems
    for code, titles in targets.items():
        for title in titles:
            assert copies(humans[code].page_text(title), nl.delivery_key(EDITION, code, title)) == 1, title

    cs, ko = delivery_interval(humans["cs"], targets["cs"]), delivery_interval(humans["ko"], targets["ko"])
    # Each wiki's delivery takes at least PER_WIKI × THROTTLE seconds, so each interval spans whole seconds.
    assert cs[1] - cs[0] >= 2 and ko[1] - ko[0] >= 2, (cs, ko)
    # One after the other, the later wiki's first message is no earlier than the other's last (timestamps
    # are whole seconds, so equal seconds do not count as overlap): strictly overlapping intervals mean the
    # two wikis were being written at the same time.
    assert max(cs[0], ko[0]) < min(cs[1], ko[1]), f"cs {cs}, ko {ko}: the deliveries did not overlap"
