"""Reading and rewriting the bot's regions in wikitext, and the bot-exclusion check."""
from __future__ import annotations

import re
from dataclasses import dataclass

import mwparserfromhell

MARKER = "<!-- ambassador-bot:{kind} {name} {edge} -->"
_MARKER_RE = r"<!--\s*ambassador-bot:{kind}\s+{name}\s+{edge}\s*-->"
_TASK_LINK_RE = re.compile(r"\[\[\s*phab:T(\d+)")


class RegionError(ValueError):
    """The page has no usable pair of markers for this region."""


@dataclass(frozen=True)
class Region:
    start: int  # index just after the begin marker
    end: int    # index of the end marker
    body: str


def find_region(text: str, kind: str, name: str) -> Region:
    begin = list(re.finditer(_MARKER_RE.format(kind=kind, name=re.escape(name), edge="begin"), text))
    end = list(re.finditer(_MARKER_RE.format(kind=kind, name=re.escape(name), edge="end"), text))
    label = f"{kind} {name}"
    if not begin and not end:
        raise RegionError(f"no '{label}' markers on the page")
    if len(begin) != 1 or len(end) != 1:
        raise RegionError(f"expected one begin and one end marker for '{label}', found {len(begin)} and {len(end)}")
    if end[0].start() < begin[0].end():
        raise RegionError(f"the end marker of '{label}' comes before its begin marker")
    return Region(begin[0].end(), end[0].start(), text[begin[0].end():end[0].start()])


def replace_region(text: str, kind: str, name: str, body: str) -> str:
    """Return `text` with the region's body replaced; nothing outside the markers changes."""
    region = find_region(text, kind, name)
    return text[:region.start] + "\n" + body.strip("\n") + "\n" + text[region.end:]


def region_task_ids(body: str) -> set[int]:
    """Tasks a rendered table shows, counted by their `[[phab:T…` links."""
    return {int(m.group(1)) for m in _TASK_LINK_RE.finditer(body)}


def bot_may_edit(text: str, username: str, *, module: str = "ambassador-bot") -> bool:
    """The bot-exclusion protocol ({{bots}}/{{nobots}}), as pywikibot's `botMayEdit` reads it."""
    if "bots" not in text.lower():
        return True
    for template in mwparserfromhell.parse(text).filter_templates(recursive=True):
        title = str(template.name).strip().replace("_", " ")
        title = title[:1].upper() + title[1:]
        if title not in ("Bots", "Nobots"):
            continue
        if template.params:
            key, sep, value = str(template.params[0]).partition("=")
            if not sep:
                key, value = value, key
            key = key.strip()
            names = {n.strip() for n in value.split(",")}
        else:
            key, value, names = "", "", set()
        if title == "Nobots":
            if not template.params or key or names & {"all", module, username}:
                return False
        elif key == "allow":
            if not names & {"all", username}:
                return False
        elif key == "deny":
            if names & {"all", username}:
                return False
        elif key == "allowscript":
            if not names & {"all", module}:
                return False
        elif key == "denyscript":
            if names & {"all", module}:
                return False
    return True
