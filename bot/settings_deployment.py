"""Config section `deployment` (docs/deployment.md); status tables switch their column on per table.

Example::

    deployment:
      newsletters: true     # newsletter drafts: "what is done" lists fixes live on the wiki (or
                            # undecidable); merged fixes not yet live there get a section of their own
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.settings import Reader, Settings


@dataclass(frozen=True)
class DeploymentSettings:
    newsletters: bool = False


def parse(r: Reader, raw: Any, settings: Settings) -> DeploymentSettings:
    raw = r.mapping(raw, "deployment", {"newsletters"})
    return DeploymentSettings(newsletters=r.typed(raw.get("newsletters", False), "deployment.newsletters", bool))
