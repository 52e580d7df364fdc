"""Talk-page comments: split wikitext (or DiscussionTools' thread items) into comments.

A comment is what one person signed: author, signature time (UTC), the section it
sits in, its text, its indentation and the comment it replies to. Its id follows
DiscussionTools (`c-<author>-<YYYYMMDDHHMMSS>-<heading or parent>`, `-1`, `-2`… for
repeats) so that ids from the wikitext parser and from `discussiontoolspageinfo`
are the same and survive later edits to the page.

Signatures are recognised the way MediaWiki writes them with `~~~~` on the wiki the page is
on, from that wiki's facts (`bot.domain.wiki_facts.WikiFacts`: its user namespaces and their
aliases, its signature timestamp format, month names, digits and time zone), e.g.

* cs: `[[Wikipedista:X|X]] ([[Diskuse s wikipedistou:X|diskuse]]) 24. 11. 2026, 07:15 (CET)`
* ar: `[[مستخدم:X|X]] ([[نقاش المستخدم:X|نقاش]]) ١١:٠٧، ٦ ديسمبر ٢٠٢٦ (+03)`

The time is local to the wiki's zone; in the repeated autumn hour the written abbreviation
says which of the two is meant. A `{{Unsigned|User|time}}` template (the wiki's names for
it come from its config, `WikiFacts.unsigned_templates`) added after someone's unsigned
text is a signature too: author from the template, time from its time parameter when
that reads as a signature time. Without a readable time the text is an unsigned chunk
whose author is known (its time is the revision's).

Comments between two revisions are compared by id (`changes_between`): a new id is
new feedback, a known id with other text is an edit, an id whose author, time and
text were already there under another heading is a moved or renamed section.
Text nobody signed becomes an *unsigned* comment, attributed to the revision that
added it; an unsigned chunk replaced, at the same place in its section, by a similar
one is an edit that carries the previous text (the caller knows whose comment that
text was). Standard library and mwparserfromhell only.
"""
from __future__ import annotations

import difflib
import hashlib
import html
import ipaddress
import re
from dataclasses import dataclass, replace
from html.parser import HTMLParser

import mwparserfromhell
from mwparserfromhell.nodes import Tag, Template

from bot.domain.wiki_facts import NS_FILE, NS_TEMPLATE, WikiFacts

# -- signatures -----------------------------------------------------------------------------

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
HEADING_RE = re.compile(r"^(={1,6})(.+?)\1\s*$")


def lines_with_headings(text: str):
    """Each line with its heading match (or None); headings inside <!-- --> are not headings."""
    in_comment = False
    for line in text.split("\n"):
        if "<!--" in line and "-->" not in line.split("<!--", 1)[1]:
            in_comment = True
        match = None if in_comment else HEADING_RE.match(line)
        if in_comment and "-->" in line:
            in_comment = False
        yield line, match


_TASK_RE = re.compile(r"(?<![\w/])T(\d{1,9})(?!\w)")
_INDENT_RE = re.compile(r"^[:*#]+")


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


def template_name(raw: str, facts: WikiFacts) -> str:
    """A template's canonical name: spaces for underscores, first letter upper case, no namespace."""
    name = " ".join(raw.replace("_", " ").split())
    ns, sep, rest = name.partition(":")
    if sep and ns.strip().lower() in facts.names(NS_TEMPLATE):
        name = rest.strip()
    return name[:1].upper() + name[1:]


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
                or _TRAILING_SEPARATOR.sub("", str(inside).replace(str(node), "", 1)):
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


def _is_file_link(raw: str, facts: WikiFacts) -> bool:
    target = raw[2:].lstrip(" :")
    ns, sep, _ = target.partition(":")
    return bool(sep) and " ".join(ns.replace("_", " ").split()).lower() in facts.names(NS_FILE)


def _signature_lead(line: str, floor: int, start: int, facts: WikiFacts) -> int:
    """`start` moved back over the decoration right before a signature's user link (never past `floor`)."""
    while start > floor:
        m = _SIG_LEAD.search(line[floor:start])
        if not m or not m.group():
            break
        piece = m.group()
        if piece.startswith("[[") and not _is_file_link(piece, facts):
            break   # a link that is no image is the comment's own
        if piece.isspace() and start - len(piece) > floor and not _SIG_LEAD.search(line[floor:start - len(piece)]):
            break   # plain space before the words: the space stays with the words (stripped anyway)
        start -= len(piece)
    return start


def signature_tail(rest: str) -> int:
    """How much of the text right after a signature still belongs to it (closing tags, `}}`)."""
    m = _SIG_TAIL.match(rest)
    return m.end() if m else 0


# -- comments ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Comment:
    id: str
    author: str
    timestamp: str            # UTC ISO
    section: str              # heading text ("" before the first heading)
    text: str                 # plain text, signature removed, whitespace collapsed
    level: int = 1            # 1 = top level in its section, 2 = reply, …
    parent: str | None = None  # id of the comment it replies to
    signed: bool = True
    section_task: int | None = None   # T-number in the heading (or an enclosing heading)
    by_template: bool = False  # author (and time) from an {{Unsigned}}-style template, not a signature

    @property
    def key(self) -> tuple[str, str, str]:
        return self.author, self.timestamp, text_hash(self.text)

    def to_json(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict) -> "Comment":
        return cls(**data)


def text_hash(text: str) -> str:
    return hashlib.sha256(normalize(text).encode()).hexdigest()[:16]


def normalize(text: str) -> str:
    return " ".join(text.split())


# What people put between their words and a signature: "text -- sig", "text — sig", "text – sig".
_TRAILING_SEPARATOR = re.compile(r"[\s\-\u2012-\u2015]+$")


def without_separator(text: str) -> str:
    """Normalized text without a trailing dash before a signature."""
    return _TRAILING_SEPARATOR.sub("", normalize(text))


def _stamp_id(stamp: str) -> str:
    return re.sub(r"\D", "", stamp)[:14]


def _name_id(text: str) -> str:
    return "_".join(text.split())


def comment_id(author: str, stamp: str, parent_name: str) -> str:
    """DiscussionTools' id scheme (before the `-1`, `-2` suffix for repeats)."""
    return f"c-{_name_id(author)}-{_stamp_id(stamp)}-{parent_name}"


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
        if _is_file_link(str(link), facts):
            code.remove(link)
    for tpl in code.filter_templates(recursive=False):
        if template_name(str(tpl.name), facts).lower() in facts.text_templates and tpl.has("1"):
            code.replace(tpl, str(tpl.get("1").value))
    code = mwparserfromhell.parse(str(code))
    # Entities are decoded last, so that an escaped "&lt;small&gt;" is text, not a stray tag.
    return normalize(html.unescape(_STRAY_TAG.sub(" ", code.strip_code(normalize=False, collapse=True))))


@dataclass
class _Section:
    heading: str
    level: int
    task: int | None
    lines: list[str]


def _sections(text: str) -> list[_Section]:
    sections = [_Section("", 0, None, [])]
    stack: list[tuple[int, int | None]] = []     # (heading level, task) of enclosing headings
    for line, m in lines_with_headings(text):
        if m:
            level = len(m.group(1))
            heading = plain_heading(m.group(2))
            task_m = _TASK_RE.search(heading)
            while stack and stack[-1][0] >= level:
                stack.pop()
            task = int(task_m.group(1)) if task_m else next((t for _, t in reversed(stack) if t), None)
            stack.append((level, task))
            sections.append(_Section(heading, level, task, []))
        else:
            sections[-1].lines.append(line)
    return sections


def _indent(line: str) -> int:
    m = _INDENT_RE.match(line)
    return len(m.group()) if m else 0


def parse_comments(text: str, facts: WikiFacts) -> tuple[list[Comment], list[Comment]]:
    """All signed comments of a page revision, and its unsigned chunks (author/time left empty).

    A comment runs back from its signature to the previous signature, the heading,
    or a line indented differently from the signature line (so an unsigned reply
    squeezed between two signed comments stays apart). Unsigned chunks get their
    author and time from the revision that added them (see `changes_between`); a
    chunk closed by an `{{Unsigned|User}}` template without a readable time keeps
    the template's user as its author. `facts` are the wiki's (signatures, templates).
    """
    signed: list[Comment] = []
    unsigned: list[Comment] = []
    used: dict[str, int] = {}
    for section in _sections(text):
        parent_name = _name_id(section.heading)
        thread: list[Comment] = []          # comments so far in this section, for parents
        pending: list[tuple[int, str]] = []   # (indent, text) not yet claimed by a signature

        def flush_unsigned():
            body = " ".join(t for _, t in pending if t.strip())
            if plain_text(body, facts):
                level = min(i for i, t in pending if t.strip()) + 1
                unsigned.append(Comment("", "", "", section.heading, plain_text(body, facts), level, None, False,
                                        section.task))
            pending.clear()

        for line in section.lines:
            indent = _indent(line)
            content = line[indent:]
            sigs = find_signatures(content, facts)
            if not sigs:
                if pending and content.strip() and indent != pending[-1][0]:
                    flush_unsigned()
                pending.append((indent, content))
                continue
            pos = 0
            for sig in sigs:
                own = [t for i, t in pending if i == indent]
                if len(own) != len(pending):
                    # Lines at another indentation were not part of this comment.
                    flush_unsigned()
                    own = []
                pending.clear()
                text = plain_text(" ".join(own + [content[pos:sig.start]]), facts)
                if sig.template:
                    # "text -- {{Unsigned|X}}": the dash goes with the template, as it would with `--~~~~`
                    # in the writer's own hand; the text is what was there before it was marked.
                    text = without_separator(text)
                level = indent + 1
                if not sig.timestamp:
                    # A template naming the user but no time: unsigned text whose author is known.
                    if text:
                        unsigned.append(Comment("", sig.author, "", section.heading, text, level, None,
                                                False, section.task, True))
                    pos = sig.end
                    continue
                parent = next((c for c in reversed(thread) if c.level < level), None)
                base = comment_id(sig.author, sig.timestamp,
                                  f"{_name_id(parent.author)}-{_stamp_id(parent.timestamp)}" if parent else parent_name)
                n = used.get(base, 0)
                used[base] = n + 1
                comment = Comment(base if n == 0 else f"{base}-{n}", sig.author, sig.timestamp, section.heading,
                                  text, level, parent.id if parent else None, True, section.task,
                                  sig.template)
                signed.append(comment)
                thread.append(comment)
                pos = sig.end + signature_tail(content[sig.end:])
            rest = content[pos:]
            if plain_text(rest, facts):
                pending.append((indent, rest))
        if pending:
            flush_unsigned()
    return signed, unsigned


# -- what changed between two revisions ----------------------------------------------------------

@dataclass(frozen=True)
class Revision:
    revid: int
    user: str
    timestamp: str
    text: str = ""
    parentid: int = 0
    comment: str = ""


@dataclass(frozen=True)
class CommentChange:
    kind: str           # "new" or "edit"
    comment: Comment
    revid: int          # the revision that made the change (its permalink: Special:Diff/<revid>)
    rev_user: str
    rev_timestamp: str
    # The text before an edit. An unsigned edit's comment carries the editing revision's author,
    # time and id; whose comment it was is known from this text to whoever forwarded it.
    previous_text: str | None = None


# An unsigned chunk replaced by one at least this similar (difflib ratio) is the same comment, edited.
UNSIGNED_EDIT_RATIO = 0.5


# difflib's ratio is quadratic in the length compared. Texts up to this many characters are compared
# character by character (a typo fix is a small change); longer ones word by word, and of a long
# text only its first and last words (an edit of a long text keeps most of both ends).
SIMILAR_MAX_CHARS = 1000
SIMILAR_END_WORDS = 300


def similar(a: str, b: str) -> bool:
    a, b = normalize(a), normalize(b)
    if not a or not b:
        return False
    if a in b or b in a:
        return True
    if len(a) > SIMILAR_MAX_CHARS or len(b) > SIMILAR_MAX_CHARS:
        a_words, b_words = a.split(), b.split()
        if 2 * min(len(a_words), len(b_words)) < UNSIGNED_EDIT_RATIO * (len(a_words) + len(b_words)):
            return False    # the upper bound of the ratio, from the lengths alone
        matcher = difflib.SequenceMatcher(None, _ends(a_words), _ends(b_words), autojunk=False)
    else:
        matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    # Cheap upper bounds first: most chunks that are not edits of each other stop here.
    return (matcher.real_quick_ratio() >= UNSIGNED_EDIT_RATIO and matcher.quick_ratio() >= UNSIGNED_EDIT_RATIO
            and matcher.ratio() >= UNSIGNED_EDIT_RATIO)


def _ends(words: list[str]) -> list[str]:
    if len(words) <= 2 * SIMILAR_END_WORDS:
        return words
    return words[:SIMILAR_END_WORDS] + words[-SIMILAR_END_WORDS:]


def _unsigned_edits(old_unsigned: list[Comment], new_unsigned: list[Comment],
                    gone: set[str]) -> dict[int, Comment]:
    """Index in `new_unsigned` -> the old chunk it replaced in place (same section, similar text).

    "In place" is a replace block of difflib over the section's unsigned chunks in page
    order, so an edit is told apart from a chunk deleted here and another added there.
    Only old chunks whose text is gone from the page (`gone`) can have been edited.
    """
    edits: dict[int, Comment] = {}
    for section in dict.fromkeys(c.section for c in new_unsigned if c.section):
        olds = [c for c in old_unsigned if c.section == section]
        news = [(i, c) for i, c in enumerate(new_unsigned) if c.section == section]
        matcher = difflib.SequenceMatcher(None, [normalize(c.text) for c in olds],
                                          [normalize(c.text) for _, c in news], autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op != "replace":
                continue
            free = [c for c in olds[i1:i2] if normalize(c.text) in gone]
            for index, c in news[j1:j2]:
                match = next((o for o in free if o.author == c.author and similar(o.text, c.text)), None)
                if match is not None:
                    free.remove(match)
                    edits[index] = match
    return edits


def changes_between(old: tuple[list[Comment], list[Comment]], new: tuple[list[Comment], list[Comment]],
                    rev: Revision) -> list[CommentChange]:
    """New and edited comments from one revision to the next.

    * a signed comment with a new id is new — unless its author, time and text were
      already on the page (a section renamed or moved: not new feedback);
    * a known id whose text changed is an edit;
    * an unsigned chunk whose text was nowhere on the page is new, by the revision's
      author (or the user an `{{Unsigned}}` template names) at the revision's time;
      one that was signed in this revision is not;
    * an unsigned chunk that took the place of a similar one that is gone is an edit of
      it (`previous_text`), with the revision's author, time and id until the caller
      finds out whose comment it was.
    """
    old_signed, old_unsigned = old
    new_signed, new_unsigned = new
    by_id = {c.id: c for c in old_signed}
    old_keys = {c.key for c in old_signed}
    # Unsigned text compared without a trailing dash: "text" signed later as "text -- {{Unsigned|X}}"
    # (or unsigned "text --" marked as "text {{Unsigned|X}}") is the same text.
    old_unsigned_texts = {without_separator(c.text) for c in old_unsigned}
    old_all_text = " ".join(normalize(c.text) for c in (*old_signed, *old_unsigned))
    changes: list[CommentChange] = []
    for c in new_signed:
        before = by_id.get(c.id)
        if before is None:
            if c.key in old_keys or without_separator(c.text) in old_unsigned_texts and c.text:
                continue
            changes.append(CommentChange("new", c, rev.revid, rev.user, rev.timestamp))
        elif normalize(before.text) != normalize(c.text) and c.text:
            changes.append(CommentChange("edit", c, rev.revid, rev.user, rev.timestamp, before.text))
    still_there = {without_separator(c.text) for c in (*new_signed, *new_unsigned)}
    # Old unsigned text no longer anywhere as a chunk (signed since, it is not gone: it was signed).
    gone = {normalize(c.text) for c in old_unsigned if without_separator(c.text) not in still_there}
    edited = _unsigned_edits(old_unsigned, new_unsigned, gone)
    new_signed_texts = {without_separator(c.text) for c in new_signed}
    used: dict[str, int] = {}
    for index, c in enumerate(new_unsigned):
        t = without_separator(c.text)
        if not c.section or not t:
            continue  # the page's intro, above every heading, is the page's own text, not a comment; nor a dash
        if t in old_unsigned_texts or t in new_signed_texts:
            continue
        previous = edited.get(index)
        if previous is None and t and t in old_all_text:
            continue  # text that was already on the page, split off or moved: nothing new was written
        author = c.author or rev.user
        # A template names the user: the id is a signed comment's; plain unsigned text is marked as such.
        base = comment_id(author, rev.timestamp, _name_id(c.section)) + ("" if c.by_template else "-unsigned")
        n = used.get(base, 0)
        used[base] = n + 1
        comment = replace(c, id=base + (f"-{n}" if n else ""), author=author, timestamp=rev.timestamp)
        if previous is None:
            changes.append(CommentChange("new", comment, rev.revid, rev.user, rev.timestamp))
        else:
            changes.append(CommentChange("edit", comment, rev.revid, rev.user, rev.timestamp, previous.text))
    return changes


def changes_in_history(baseline: Revision | None, revisions: list[Revision], *, bot_user: str,
                       facts: WikiFacts, parser=None) -> list[CommentChange]:
    """Comment changes over consecutive revisions (oldest first) after `baseline`.

    The bot's own revisions move the baseline but contribute nothing. A comment
    added and then edited within the same stretch is reported once, as new, with
    its last text; an unsigned comment edited twice is one edit from its first
    text. `parser(revision) -> (signed, unsigned)` replaces the wikitext parser (the
    DiscussionTools path); `facts` are the wiki's (signatures, `{{Unsigned}}` templates).
    """
    def parse(rev: Revision | None):
        if rev is None:
            return [], []
        if parser is not None:
            return parser(rev)
        return parse_comments(rev.text, facts)

    prev = parse(baseline)
    out: dict[str, CommentChange] = {}
    for rev in revisions:
        cur = parse(rev)
        if rev.user != bot_user:
            for ch in changes_between(prev, cur, rev):
                if ch.comment.author == bot_user:
                    continue
                key = ch.comment.id
                if ch.kind == "edit" and not ch.comment.signed:
                    key, ch = _follow_unsigned_edit(out, ch)
                else:
                    earlier = out.get(key)
                    if earlier and earlier.kind == "new":
                        ch = replace(earlier, comment=ch.comment)
                out[key] = ch
        prev = cur
    # An unsigned comment edited back to the text it had is no change.
    return [ch for ch in out.values()
            if not (ch.kind == "edit" and not ch.comment.signed
                    and normalize(ch.comment.text) == normalize(ch.previous_text or ""))]


def _follow_unsigned_edit(out: dict[str, CommentChange], ch: CommentChange) -> tuple[str, CommentChange]:
    """An unsigned edit of a chunk already reported in this stretch continues that report."""
    c = ch.comment
    for key, earlier in out.items():
        e = earlier.comment
        if e.signed or e.section != c.section or normalize(e.text) != normalize(ch.previous_text or ""):
            continue
        if earlier.rev_user != ch.rev_user and not c.by_template:
            break   # someone else wrote into the chunk: their text, not an edit of the comment
        if earlier.kind == "new":
            # Added and edited within the stretch: still new, with its identity and its last text.
            return key, replace(earlier, comment=replace(e, text=c.text, level=c.level))
        # Edited twice: one edit from the first text, which is what identifies the comment.
        return key, replace(ch, comment=replace(c, id=e.id, author=e.author, timestamp=e.timestamp),
                            previous_text=earlier.previous_text)
    return c.id, ch


# -- DiscussionTools ------------------------------------------------------------------------------

class _TextAndLinks(HTMLParser):
    """Plain text of a comment's HTML, remembering where each user link starts."""

    def __init__(self, facts: WikiFacts):
        super().__init__(convert_charrefs=True)
        self.facts = facts
        self.parts: list[str] = []
        self.user_links: list[tuple[int, str]] = []
        self._skip = 0
        self._skip_tag: list | None = None      # [tag, depth] of an element whose text is no text

    @property
    def length(self) -> int:
        return sum(len(p) for p in self.parts)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self._skip_tag:
            if tag == self._skip_tag[0]:
                self._skip_tag[1] += 1
            return
        if _not_text(tag, attrs, self.facts):
            # An image, or a link to a missing file or template (a red link): no words of the writer.
            if tag not in _VOID_TAGS:
                self._skip_tag = [tag, 1]
            return
        if tag in ("style", "script"):
            self._skip += 1
        if tag == "a" and attrs.get("title"):
            user = user_from_link(attrs["title"], self.facts)
            if user:
                self.user_links.append((self.length, user))
        if tag in ("p", "dd", "li", "br", "div", "dl", "ul", "ol"):
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if self._skip_tag:
            if tag == self._skip_tag[0]:
                self._skip_tag[1] -= 1
                if not self._skip_tag[1]:
                    self._skip_tag = None
            return
        if tag in ("style", "script") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and not self._skip_tag:
            self.parts.append(data)


_VOID_TAGS = {"img", "br", "hr", "wbr", "input", "source", "track", "area", "col", "embed", "link", "meta"}


def _not_text(tag: str, attrs: dict, facts: WikiFacts) -> bool:
    if tag == "img" or "mw:File" in (attrs.get("typeof") or "") or tag == "figure":
        return True
    if tag == "a":
        title = attrs.get("title") or ""
        cls = (attrs.get("class") or "").split()
        ns, sep, _ = title.partition(":")
        template_or_file = sep and _namespace_name(ns) in facts.names(NS_TEMPLATE) | facts.names(NS_FILE)
        return bool(template_or_file) and ("new" in cls or "mw-file-description" in cls
                                                         or "image" in cls)
    return False


def _namespace_name(ns: str) -> str:
    return " ".join(ns.replace("_", " ").split()).lower()


def text_from_html(fragment: str, author: str, facts: WikiFacts) -> str:
    """A comment's text from DiscussionTools' HTML, without the signature."""
    parser = _TextAndLinks(facts)
    parser.feed(fragment)
    parser.close()
    text = "".join(parser.parts)
    starts = [pos for pos, user in parser.user_links if user == author and len(text) - pos <= SIGNATURE_WINDOW + 60]
    if starts:
        text = text[:starts[0]]
    return normalize(text)


def comments_from_threaditems(items: list[dict], facts: WikiFacts) -> list[Comment]:
    """Signed comments from `discussiontoolspageinfo&prop=threaditemshtml`, in page order."""
    out: list[Comment] = []

    def walk(nodes, heading, task, parent):
        for node in nodes:
            if node.get("type") == "heading":
                h = normalize(text_from_html(node.get("html", ""), "\0", facts))
                t = _TASK_RE.search(h)
                walk(node.get("replies", []), h, int(t.group(1)) if t else None, None)
                continue
            if node.get("type") != "comment":
                continue
            author = node.get("author", "")
            c = Comment(node["id"], author, node.get("timestamp", ""), heading,
                        text_from_html(node.get("html", ""), author, facts), int(node.get("level", 1)),
                        parent, True, task)
            out.append(c)
            walk(node.get("replies", []), heading, task, c.id)

    walk(items, "", None, None)
    return out


_ID_AUTHOR = re.compile(r"^c-(.+?)-(\d{14})-")


def author_from_id(comment_id: str | None) -> str:
    """The author a DiscussionTools-style comment id names (`c-<author>-<time>-…`), "" if none."""
    m = _ID_AUTHOR.match(comment_id or "")
    return m.group(1).replace("_", " ") if m else ""


def thread_order(comments: list, *, key=lambda c: c) -> list:
    """`comments` (any objects; `key` gives each its Comment) in the order of their threads:
    grouped by section (a thread, as DiscussionTools calls it), threads in the order of their first
    comment, each reply right after its parent and the replies before it, siblings by time."""
    groups: dict[str, list] = {}
    for item in comments:
        groups.setdefault(key(item).section, []).append(item)
    out = []
    for section_items in sorted(groups.values(), key=lambda g: min((key(i).timestamp, key(i).id) for i in g)):
        ids = {key(i).id for i in section_items}
        children: dict[str | None, list] = {}
        for item in section_items:
            parent = key(item).parent if key(item).parent in ids else None
            children.setdefault(parent, []).append(item)
        for kids in children.values():
            kids.sort(key=lambda i: (key(i).timestamp, key(i).id))
        done: set[int] = set()

        def walk(parent_id, depth):
            for item in children.get(parent_id, []):
                if id(item) in done:
                    continue
                done.add(id(item))
                out.append((item, depth))
                walk(key(item).id, depth + 1)
        walk(None, 0)
        out.extend((i, 0) for i in section_items if id(i) not in done)   # a cycle of ids: never lost
    return out
