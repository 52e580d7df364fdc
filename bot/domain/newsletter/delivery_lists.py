"""Who gets an edition: the targets of a MassMessage delivery list (JSON or wikitext)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Iterable

import mwparserfromhell


@dataclass(frozen=True)
class DeliveryList:
    targets: tuple[str, ...]        # page titles as written, in order, duplicates kept
    problems: tuple[str, ...]       # one line per unusable entry


_INVALID_TITLE = re.compile(r"[\[\]{}<>|#\x00-\x1f\x7f]")


def parse_delivery_list(text: str, *, local_sites: Iterable[str] = ()) -> DeliveryList:
    """Targets of a MassMessage delivery list: JSON list content or wikitext.

    Wikitext forms: `{{target|page=Title}}`, `{{target|user=Name}}` (their talk
    page) and MassMessage's `{{#target:Title|site}}`. A `site` other than one of
    `local_sites` (e.g. `cs.wikipedia.org`) is reported and skipped: this bot
    delivers on its own wiki only.
    """
    local = {s.lower() for s in local_sites}
    stripped = text.lstrip()
    if stripped.startswith("{") and not stripped.startswith("{{"):
        return _parse_json_list(stripped, local)
    targets: list[str] = []
    problems: list[str] = []
    for template in mwparserfromhell.parse(text).filter_templates(recursive=True):
        name = str(template.name).strip()
        line = str(template).replace("\n", " ")[:120]
        if name.lower().startswith("#target:"):
            page = name.split(":", 1)[1].strip()
            site = str(template.params[0].value).strip() if template.params else ""
        elif name[:1].lower() + name[1:] == "target" or name.replace("_", " ").lower() == "target":
            page = _param(template, "page")
            user = _param(template, "user")
            site = _param(template, "site")
            if not page and user:
                page = f"User talk:{user}"
        else:
            continue
        _add_target(page, site, line, local, targets, problems)
    return DeliveryList(tuple(targets), tuple(problems))


def _param(template, name: str) -> str:
    return str(template.get(name).value).strip() if template.has(name) else ""


def _parse_json_list(text: str, local: set[str]) -> DeliveryList:
    try:
        data = json.loads(text)
    except ValueError as exc:
        return DeliveryList((), (f"the list is neither wikitext nor valid JSON ({exc.msg} at line {exc.lineno})",))
    raw = data.get("targets") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        return DeliveryList((), ("the JSON list has no 'targets' array",))
    targets: list[str] = []
    problems: list[str] = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or not isinstance(entry.get("title"), str):
            problems.append(f"targets[{i}]: not an object with a 'title'")
            continue
        site = entry.get("site") if isinstance(entry.get("site"), str) else ""
        _add_target(entry["title"], site, f"targets[{i}]", local, targets, problems)
    return DeliveryList(tuple(targets), tuple(problems))


def _add_target(page: str, site: str, where: str, local: set[str], targets: list[str], problems: list[str]) -> None:
    page = page.replace("_", " ").strip()
    if site and local and site.lower() not in local:
        problems.append(f"{where}: on another site ({site}); skipped")
    elif not page:
        problems.append(f"{where}: no page named")
    elif _INVALID_TITLE.search(page) or len(page.encode()) > 255:
        problems.append(f"{where}: invalid page title {page!r}")
    else:
        targets.append(page)
