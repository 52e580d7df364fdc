"""Signatures on one line of wikitext, as MediaWiki writes them with `~~~~` on a wiki.

A signature is a link to a user (user page, talk page or contributions) followed, close
enough, by a timestamp in the wiki's own format (`bot.domain.wiki_facts.WikiFacts`), or
one of the wiki's `{{Unsigned|User|time}}` templates. What decorates a signature (an image,
tags, bold quotes, a wrapping template) belongs to it, so it never ends up in the text.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import mwparserfromhell
from mwparserfromhell.nodes import Tag, Template

from bot.domain.comments.text import TRAILING_SEPARATOR, is_file_link, plain_text, template_name
from bot.domain.wiki_facts import WikiFacts


_LINK_RE = re.compile(r"\[\[\s*:?\s*([^\[\]|#]+?)\s*(?:[|#][^\[\]]*)?\]\]")
# How far before its timestamp a signature's user link may start, in visible characters
# (DiscussionTools uses ~100), and in raw wikitext (MediaWiki's $wgMaxSigChars is 255).
SIGNATURE_WINDOW = 120
RAW_SIGNATURE_WINDOW = 400
# What sits right before a signature's user link and belongs to the signature: an image, an opening
# tag, bold/italic quotes, the opening of a wrapping template, spaces.
_SIG_LEAD = re.compile(r"(?:\[\[[^\[\]]*\]\]|<[A-Za-z][^<>]*>|'{2,}|\{\{[^{}|]+\||\s+)$")
# What sits right after a signature and belongs to it: closing tags, quotes, the end of a wrapping template.
_SIG_TAIL = re.compile(r"^(?:\s*(?:</[A-Za-z][^<>]*>|'{2,}|\}\}))+")


@dataclass(frozen=True)
class Signature:
    author: str
    timestamp: str      # UTC, "2026-11-24T06:15:00Z"
    start: int          # where the signature starts in the line (its user link)
    end: int            # just after its timestamp
    template: bool = False   # an {{Unsigned}}-style template; its timestamp is "" when it gives no readable time


def user_from_link(target: str, facts: WikiFacts) -> str | None:
    """The user a link points at (user page, user talk page or contributions), else None."""
    target = target.replace("_", " ").strip()
    ns, sep, rest = target.partition(":")
    if not sep:
        return None
    ns_l = " ".join(ns.split()).lower()
    if ns_l in facts.user_namespaces and "/" not in rest:
        name = rest.strip()
    elif "/" in rest and f"{ns_l}:{' '.join(rest.split('/')[0].split()).lower()}" in facts.contribution_pages:
        name = rest.split("/", 1)[1].strip()
    else:
        return None
    return (name[:1].upper() + name[1:]) if name else None


def _signature_time(value: str, facts: WikiFacts) -> str | None:
    for m in facts.timestamp_re.finditer(value):
        if stamp := facts.to_utc(m):
            return stamp
    return None


# Bidirectional marks MediaWiki strips from titles; what is left must be a name MediaWiki accepts.
_BIDI_MARKS = re.compile(r"[\u200e\u200f\u202a-\u202e]")
# Never in a user name: title-invalid characters, "/" (subpages), "@:>=" (refused for accounts), and the
# control, space-like, zero-width and private-use characters MediaWiki's UserNameUtils refuses.
_NOT_IN_USER_NAMES = re.compile(r"[#<>\[\]|{}/@:=\x00-\x1f\x7f-\xa0\u1680\u180e\u2000-\u200b"
                                r"\u2028-\u202f\u205f\u3000\ue000-\uf8ff\ufeff]")
_MAX_NAME_BYTES = 255   # $wgMaxNameChars


def valid_user_name(name: str) -> bool:
    """Whether MediaWiki could have a user (or an IP editor) of this name."""
    if not name or len(name.encode()) > _MAX_NAME_BYTES:
        return False
    try:
        ipaddress.ip_address(name)
        return True     # an IPv6 editor has ":" in its name
    except ValueError:
        return not _NOT_IN_USER_NAMES.search(name)


def _template_user(value, facts: WikiFacts) -> str:
    """The user a template parameter names, "" when it names none (not a valid user name)."""
    name = next((u for u in (user_from_link(str(link.title), facts) for link in value.filter_wikilinks()) if u), None)
    if name is None:
        name = value.strip_code()
    name = " ".join(_BIDI_MARKS.sub("", name).replace("_", " ").split())
    name = name[:1].upper() + name[1:]
    return name if valid_user_name(name) else ""


def template_signatures(line: str, facts: WikiFacts) -> list[Signature]:
    """`{{Unsigned|User|time}}`-style templates on one line, as signatures (timestamp "" if unreadable)."""
    if "{{" not in line:
        return []
    names = facts.unsigned_templates
    found: list[Signature] = []
    pos = 0
    code = mwparserfromhell.parse(line)
    for tpl in code.filter_templates():
        spec = names.get(template_name(str(tpl.name), facts))
        if spec is None:
            continue
        # The signature is the template with what only wraps it (`<small>…</small>`, `{{small|…}}`):
        # the text before it is the comment, nothing of the wrapper is left to read as text.
        raw = str(_wrapped(code, tpl, names, facts))
        start = line.find(raw, pos)
        if start < 0:
            continue
        values = {i: tpl.get(str(i)).value if tpl.has(str(i)) else mwparserfromhell.parse("") for i in (1, 2)}
        user_value, time_value = values[spec[0]], values[spec[1]]
        if _signature_time(str(user_value), facts) and not _signature_time(str(time_value), facts):
            user_value, time_value = time_value, user_value
        author = _template_user(user_value, facts)
        if not author:
            continue
        stamp = _signature_time(str(time_value), facts) or ""
        found.append(Signature(author, stamp, start, start + len(raw), True))
        pos = start + len(raw)
    return found


def _wrapped(code, node, signature_templates, facts: WikiFacts):
    """`node` with the tags and one-parameter templates around it that hold nothing else (but a dash),
    and with any template or tag attribute it sits in: their text is never part of a comment's
    plain text, and the comment's text must not end inside them."""
    ancestors = code.get_ancestors(node)
    for parent in ancestors:
        if isinstance(parent, Template) or (isinstance(parent, Tag) and str(node) not in str(parent.contents or "")):
            return parent
    for parent in reversed(ancestors):
        if isinstance(parent, Tag):
            inside = parent.contents if not parent.self_closing else None
        elif isinstance(parent, Template) and len(parent.params) == 1 \
                and template_name(str(parent.name), facts) not in signature_templates:
            inside = parent.params[0].value
        else:
            break
        if inside is None or str(node) not in str(inside) \
                or TRAILING_SEPARATOR.sub("", str(inside).replace(str(node), "", 1)):
            break   # the wrapper holds more than the signature (and a dash before it)
        node = parent
    return node


def find_signatures(line: str, facts: WikiFacts) -> list[Signature]:
    """Signatures on one line of wikitext: a user link followed by a signature timestamp as this wiki
    writes it, or one of the wiki's `{{Unsigned}}`-style templates."""
    templates = template_signatures(line, facts)
    found: list[Signature] = list(templates)
    floor = 0
    for pattern_match in facts.timestamp_re.finditer(line):
        if pattern_match.start() < floor:
            continue
        if any(t.start <= pattern_match.start() < t.end for t in templates):
            continue   # the time parameter of a template, read with the template
        stamp = facts.to_utc(pattern_match)
        if stamp is None:
            continue
        # A user link inside an earlier template belongs to that template. The window is measured in
        # *visible* characters, as DiscussionTools does: a custom signature's colours and spans do not
        # push its user link out of reach.
        window_start = max([floor, pattern_match.start() - RAW_SIGNATURE_WINDOW]
                           + [t.end for t in templates if t.end <= pattern_match.start()])
        links = [(lm, user_from_link(lm.group(1), facts)) for lm in _LINK_RE.finditer(line, window_start, pattern_match.start())]
        links = [(lm, u) for lm, u in links if u]
        links = [(lm, u) for lm, u in links
                 if len(_visible(line[lm.start():pattern_match.start()], facts)) <= SIGNATURE_WINDOW]
        if not links:
            continue
        author = links[-1][1]
        # The signature starts at the first link to the same user in the window: `[[User:X|X]] ([[User talk:X|…]])`,
        # and takes the decoration right before it (a flag image, an opening tag, bold quotes, `{{small|`).
        start = next(lm.start() for lm, u in links if u == author)
        start = _signature_lead(line, window_start, start, facts)
        found.append(Signature(author, stamp, start, pattern_match.end()))
        floor = pattern_match.end()
    return sorted(found, key=lambda sig: sig.start)


def _visible(wikitext: str, facts: WikiFacts) -> str:
    """Roughly what a reader sees of a piece of a line (for the signature window)."""
    return plain_text(wikitext, facts)


def _signature_lead(line: str, floor: int, start: int, facts: WikiFacts) -> int:
    """`start` moved back over the decoration right before a signature's user link (never past `floor`)."""
    while start > floor:
        m = _SIG_LEAD.search(line[floor:start])
        if not m or not m.group():
            break
        piece = m.group()
        if piece.startswith("[[") and not is_file_link(piece, facts):
            break   # a link that is no image is the comment's own
        if piece.isspace() and start - len(piece) > floor and not _SIG_LEAD.search(line[floor:start - len(piece)]):
            break   # plain space before the words: the space stays with the words (stripped anyway)
        start -= len(piece)
    return start


def signature_tail(rest: str) -> int:
    """How much of the text right after a signature still belongs to it (closing tags, `}}`)."""
    m = _SIG_TAIL.match(rest)
    return m.end() if m else 0
