"""Config section `deployment` (docs/deployment.md); status tables switch their column on per table.

Example::

    deployment:
      newsletters: true     # newsletter drafts: "what is done" lists fixes live on the wiki (or
                            # undecidable); merged fixes not yet live there get a section of their own
      review_bots: [gerritbot]   # only these Phabricator accounts' merge notices count (default: anyone's)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.settings.reader import Reader, non_empty


@dataclass(frozen=True)
class DeploymentSettings:
    newsletters: bool = False
    review_bots: tuple[str, ...] = ()


def parse(r: Reader, raw: Any) -> DeploymentSettings:
    raw = r.mapping(raw, "deployment", {"newsletters", "review_bots"})
    return DeploymentSettings(
        newsletters=r.typed(raw.get("newsletters", False), "deployment.newsletters", bool),
        review_bots=tuple(r.string_list(raw.get("review_bots", []), "deployment.review_bots", non_empty)),
    )
