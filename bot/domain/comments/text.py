"""A comment's text as a reader sees it: wikitext without markup, whitespace collapsed.

Images and templates go (the templates that only make the writer's words smaller or bigger
keep the words), links show their label, and the dash people put before a signature is
not part of the text. Standard library and mwparserfromhell only.
"""
from __future__ import annotations

import hashlib
import html
import re

import mwparserfromhell

from bot.domain.wiki_facts import NS_FILE, NS_TEMPLATE, WikiFacts


def text_hash(text: str) -> str:
    return hashlib.sha256(normalize(text).encode()).hexdigest()[:16]


def normalize(text: str) -> str:
    return " ".join(text.split())


# What people put between their words and a signature: "text -- sig", "text — sig", "text – sig".
TRAILING_SEPARATOR = re.compile(r"[\s\-\u2012-\u2015]+$")


def without_separator(text: str) -> str:
    """Normalized text without a trailing dash before a signature."""
    return TRAILING_SEPARATOR.sub("", normalize(text))


def template_name(raw: str, facts: WikiFacts) -> str:
    """A template's canonical name: spaces for underscores, first letter upper case, no namespace."""
    name = " ".join(raw.replace("_", " ").split())
    ns, sep, rest = name.partition(":")
    if sep and ns.strip().lower() in facts.names(NS_TEMPLATE):
        name = rest.strip()
    return name[:1].upper() + name[1:]


def is_file_link(raw: str, facts: WikiFacts) -> bool:
    """Whether a `[[…]]` link shows an image (or another file): none of its text is the writer's words."""
    target = raw[2:].lstrip(" :")
    ns, sep, _ = target.partition(":")
    return bool(sep) and " ".join(ns.replace("_", " ").split()).lower() in facts.names(NS_FILE)


def plain_heading(raw: str) -> str:
    return normalize(mwparserfromhell.parse(raw).strip_code(normalize=True, collapse=True))


# HTML tags MediaWiki allows in wikitext. One left unpaired (the other half went with a signature,
# "<small>text {{Unsigned|X}}</small>") is markup, not text; MediaWiki does not show it either.
_HTML_TAGS = ("abbr|b|bdi|bdo|big|blockquote|br|caption|center|cite|code|data|dd|del|dfn|div|dl|dt|em|font|"
              "h[1-6]|hr|i|ins|kbd|li|mark|ol|p|pre|q|rb|rp|rt|rtc|ruby|s|samp|small|span|strike|strong|sub|"
              "sup|table|td|th|time|tr|tt|u|ul|var|wbr")
_STRAY_TAG = re.compile(rf"</?(?:{_HTML_TAGS})(?:\s[^<>]*)?/?>", re.IGNORECASE)


def plain_text(wikitext: str, facts: WikiFacts) -> str:
    """Readable text of a comment's wikitext: links show their label, markup goes.

    Images (`[[Soubor:…|15px]]`) and templates (`{{od|::}}`, `{{Unsigned|…}}`) go entirely; the
    templates that only make the writer's own words smaller or bigger (`{{small|…}}`) keep the words.
    """
    code = mwparserfromhell.parse(wikitext)
    for link in code.filter_wikilinks(recursive=False):
        if is_file_link(str(link), facts):
            code.remove(link)
    for tpl in code.filter_templates(recursive=False):
        if template_name(str(tpl.name), facts).lower() in facts.text_templates and tpl.has("1"):
            code.replace(tpl, str(tpl.get("1").value))
    code = mwparserfromhell.parse(str(code))
    # Entities are decoded last, so that an escaped "&lt;small&gt;" is text, not a stray tag.
    return normalize(html.unescape(_STRAY_TAG.sub(" ", code.strip_code(normalize=False, collapse=True))))
