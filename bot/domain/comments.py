"""Talk-page comments: split wikitext (or DiscussionTools' thread items) into comments.

A comment is what one person signed: author, signature time (UTC), the section it
sits in, its text, its indentation and the comment it replies to. Its id follows
DiscussionTools (`c-<author>-<YYYYMMDDHHMMSS>-<heading or parent>`, `-1`, `-2`… for
repeats) so that ids from the wikitext parser and from `discussiontoolspageinfo`
are the same and survive later edits to the page.

Signatures are recognised the way MediaWiki writes them with `~~~~`:

* cs: `[[Wikipedista:X|X]] ([[Diskuse s wikipedistou:X|diskuse]]) 24. 11. 2026, 07:15 (CET)`
* ko: `[[사용자:X|X]] ([[사용자토론:X|토론]]) 2026년 11월 24일 (화) 15:15 (KST)`
* en: `[[User:X|X]] ([[User talk:X|talk]]) 06:15, 24 November 2026 (UTC)`

All three are understood on every wiki (a signature is unambiguous); the time zone
comes from the abbreviation, falling back to the wiki's own zone.

Comments between two revisions are compared by id (`changes_between`): a new id is
new feedback, a known id with other text is an edit, an id whose author, time and
text were already there under another heading is a moved or renamed section.
Text nobody signed becomes an *unsigned* comment, attributed to the revision that
added it. Standard library and mwparserfromhell only.
"""
from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import mwparserfromhell

# -- signatures -----------------------------------------------------------------------------

_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")
_TIMESTAMPS = (
    re.compile(r"(?P<d>\d{1,2})\.\s(?P<m>\d{1,2})\.\s(?P<y>\d{4}),\s(?P<H>\d{1,2}):(?P<M>\d{2})\s"
               r"\((?P<tz>CET|CEST|SEČ|SELČ|UTC)\)"),
    re.compile(r"(?P<y>\d{4})년\s(?P<m>\d{1,2})월\s(?P<d>\d{1,2})일\s\(\w\)\s(?P<H>\d{1,2}):(?P<M>\d{2})\s"
               r"\((?P<tz>KST|UTC)\)"),
    re.compile(r"(?P<H>\d{1,2}):(?P<M>\d{2}),\s(?P<d>\d{1,2})\s(?P<mon>" + "|".join(_MONTHS_EN) +
               r")\s(?P<y>\d{4})\s\((?P<tz>UTC|CET|CEST|KST)\)"),
)
_ZONES = {"UTC": "UTC", "CET": "Europe/Prague", "CEST": "Europe/Prague", "SEČ": "Europe/Prague",
          "SELČ": "Europe/Prague", "KST": "Asia/Seoul"}
_SUMMER = {"CEST", "SELČ"}

# User pages, user talk pages and contributions, in the canonical and the cs/ko names.
USER_NAMESPACES = {"user", "user talk", "u", "ut", "wikipedista", "wikipedistka", "uživatel", "uživatelka",
                   "diskuse s wikipedistou", "diskuse s wikipedistkou", "diskuse s uživatelem",
                   "diskuse s uživatelkou", "사용자", "사용자토론", "사용자 토론"}
CONTRIBUTIONS = {"special:contributions", "speciální:příspěvky", "특수:기여", "특수:사용자기여"}
_LINK_RE = re.compile(r"\[\[\s*:?\s*([^\[\]|#]+?)\s*(?:[|#][^\[\]]*)?\]\]")
# How far before its timestamp a signature's user link may start (DiscussionTools uses ~100).
SIGNATURE_WINDOW = 120
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


def _utc(m: re.Match, fallback_tz: str) -> str | None:
    g = m.groupdict()
    month = _MONTHS_EN.index(g["mon"]) + 1 if g.get("mon") else int(g["m"])
    try:
        local = datetime(int(g["y"]), month, int(g["d"]), int(g["H"]), int(g["M"]))
    except ValueError:
        return None
    abbr = g["tz"]
    zone = ZoneInfo(_ZONES.get(abbr, fallback_tz))
    # In the repeated autumn hour the abbreviation says which of the two is meant.
    candidates = [local.replace(tzinfo=zone, fold=f) for f in (0, 1)]
    if abbr in ("CET", "CEST", "SEČ", "SELČ"):
        summer = abbr in _SUMMER
        candidates.sort(key=lambda d: bool(d.dst()) != summer)
    return candidates[0].astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def user_from_link(target: str) -> str | None:
    """The user a link points at (user page, user talk page or contributions), else None."""
    target = target.replace("_", " ").strip()
    ns, sep, rest = target.partition(":")
    if not sep:
        return None
    ns_l = " ".join(ns.split()).lower()
    if ns_l in USER_NAMESPACES and "/" not in rest:
        name = rest.strip()
    elif "/" in rest and f"{ns_l}:{rest.split('/')[0].strip().lower()}" in CONTRIBUTIONS:
        name = rest.split("/", 1)[1].strip()
    else:
        return None
    return (name[:1].upper() + name[1:]) if name else None


def find_signatures(line: str, fallback_tz: str = "UTC") -> list[Signature]:
    """Signatures on one line of wikitext: a user link followed by a signature timestamp."""
    found: list[Signature] = []
    floor = 0
    for pattern_match in sorted((m for p in _TIMESTAMPS for m in p.finditer(line)), key=lambda m: m.start()):
        if pattern_match.start() < floor:
            continue
        stamp = _utc(pattern_match, fallback_tz)
        if stamp is None:
            continue
        window_start = max(floor, pattern_match.start() - SIGNATURE_WINDOW)
        links = [(lm, user_from_link(lm.group(1))) for lm in _LINK_RE.finditer(line, window_start, pattern_match.start())]
        links = [(lm, u) for lm, u in links if u]
        if not links:
            continue
        author = links[-1][1]
        # The signature starts at the first link to the same user in the window: `[[User:X|X]] ([[User talk:X|…]])`.
        start = next(lm.start() for lm, u in links if u == author)
        found.append(Signature(author, stamp, start, pattern_match.end()))
        floor = pattern_match.end()
    return found


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


def _stamp_id(stamp: str) -> str:
    return re.sub(r"\D", "", stamp)[:14]


def _name_id(text: str) -> str:
    return "_".join(text.split())


def comment_id(author: str, stamp: str, parent_name: str) -> str:
    """DiscussionTools' id scheme (before the `-1`, `-2` suffix for repeats)."""
    return f"c-{_name_id(author)}-{_stamp_id(stamp)}-{parent_name}"


def plain_heading(raw: str) -> str:
    return normalize(mwparserfromhell.parse(raw).strip_code(normalize=True, collapse=True))


def plain_text(wikitext: str) -> str:
    """Readable text of a comment's wikitext: links show their label, markup goes."""
    code = mwparserfromhell.parse(wikitext)
    return normalize(html.unescape(code.strip_code(normalize=True, collapse=True)))


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


def parse_comments(text: str, *, timezone_name: str = "UTC") -> tuple[list[Comment], list[Comment]]:
    """All signed comments of a page revision, and its unsigned chunks (author/time left empty).

    A comment runs back from its signature to the previous signature, the heading,
    or a line indented differently from the signature line (so an unsigned reply
    squeezed between two signed comments stays apart). Unsigned chunks get their
    author and time from the revision that added them (see `changes_between`).
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
            if plain_text(body):
                level = min(i for i, t in pending if t.strip()) + 1
                unsigned.append(Comment("", "", "", section.heading, plain_text(body), level, None, False,
                                        section.task))
            pending.clear()

        for line in section.lines:
            indent = _indent(line)
            content = line[indent:]
            sigs = find_signatures(content, timezone_name)
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
                body = " ".join(own + [content[pos:sig.start]])
                level = indent + 1
                parent = next((c for c in reversed(thread) if c.level < level), None)
                base = comment_id(sig.author, sig.timestamp,
                                  f"{_name_id(parent.author)}-{_stamp_id(parent.timestamp)}" if parent else parent_name)
                n = used.get(base, 0)
                used[base] = n + 1
                comment = Comment(base if n == 0 else f"{base}-{n}", sig.author, sig.timestamp, section.heading,
                                  plain_text(body), level, parent.id if parent else None, True, section.task)
                signed.append(comment)
                thread.append(comment)
                pos = sig.end
            rest = content[pos:]
            if plain_text(rest):
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


def changes_between(old: tuple[list[Comment], list[Comment]], new: tuple[list[Comment], list[Comment]],
                    rev: Revision) -> list[CommentChange]:
    """New and edited comments from one revision to the next.

    * a signed comment with a new id is new — unless its author, time and text were
      already on the page (a section renamed or moved: not new feedback);
    * a known id whose text changed is an edit;
    * an unsigned chunk whose text was nowhere on the page is new, by the revision's
      author at the revision's time; one that was signed in this revision is not.
    """
    old_signed, old_unsigned = old
    new_signed, new_unsigned = new
    by_id = {c.id: c for c in old_signed}
    old_keys = {c.key for c in old_signed}
    old_unsigned_texts = {normalize(c.text) for c in old_unsigned}
    old_all_text = " ".join(normalize(c.text) for c in (*old_signed, *old_unsigned))
    changes: list[CommentChange] = []
    for c in new_signed:
        before = by_id.get(c.id)
        if before is None:
            if c.key in old_keys or normalize(c.text) in old_unsigned_texts and c.text:
                continue
            changes.append(CommentChange("new", c, rev.revid, rev.user, rev.timestamp))
        elif normalize(before.text) != normalize(c.text) and c.text:
            changes.append(CommentChange("edit", c, rev.revid, rev.user, rev.timestamp))
    new_signed_texts = {normalize(c.text) for c in new_signed}
    used: dict[str, int] = {}
    for c in new_unsigned:
        t = normalize(c.text)
        if not c.section:
            continue  # the page's intro, above every heading, is the page's own text, not a comment
        if t in old_unsigned_texts or t in new_signed_texts or (t and t in old_all_text):
            continue
        base = comment_id(rev.user, rev.timestamp, _name_id(c.section))
        n = used.get(base, 0)
        used[base] = n + 1
        changes.append(CommentChange("new", replace(c, id=base + "-unsigned" + (f"-{n}" if n else ""),
                                                    author=rev.user, timestamp=rev.timestamp), rev.revid, rev.user,
                                     rev.timestamp))
    return changes


def changes_in_history(baseline: Revision | None, revisions: list[Revision], *, bot_user: str,
                       timezone_name: str = "UTC", parser=None) -> list[CommentChange]:
    """Comment changes over consecutive revisions (oldest first) after `baseline`.

    The bot's own revisions move the baseline but contribute nothing. A comment
    added and then edited within the same stretch is reported once, as new, with
    its last text. `parser(revision) -> (signed, unsigned)` replaces the wikitext
    parser (the DiscussionTools path).
    """
    def parse(rev: Revision | None):
        if rev is None:
            return [], []
        if parser is not None:
            return parser(rev)
        return parse_comments(rev.text, timezone_name=timezone_name)

    prev = parse(baseline)
    out: dict[str, CommentChange] = {}
    for rev in revisions:
        cur = parse(rev)
        if rev.user != bot_user:
            for ch in changes_between(prev, cur, rev):
                if ch.comment.author == bot_user:
                    continue
                earlier = out.get(ch.comment.id)
                if earlier and earlier.kind == "new":
                    ch = replace(earlier, comment=ch.comment)
                out[ch.comment.id] = ch
        prev = cur
    return list(out.values())


# -- DiscussionTools ------------------------------------------------------------------------------

class _TextAndLinks(HTMLParser):
    """Plain text of a comment's HTML, remembering where each user link starts."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.user_links: list[tuple[int, str]] = []
        self._skip = 0

    @property
    def length(self) -> int:
        return sum(len(p) for p in self.parts)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("style", "script"):
            self._skip += 1
        if tag == "a" and attrs.get("title"):
            user = user_from_link(attrs["title"])
            if user:
                self.user_links.append((self.length, user))
        if tag in ("p", "dd", "li", "br", "div", "dl", "ul", "ol"):
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if tag in ("style", "script") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def text_from_html(fragment: str, author: str) -> str:
    """A comment's text from DiscussionTools' HTML, without the signature."""
    parser = _TextAndLinks()
    parser.feed(fragment)
    parser.close()
    text = "".join(parser.parts)
    starts = [pos for pos, user in parser.user_links if user == author and len(text) - pos <= SIGNATURE_WINDOW + 60]
    if starts:
        text = text[:starts[0]]
    return normalize(text)


def comments_from_threaditems(items: list[dict]) -> list[Comment]:
    """Signed comments from `discussiontoolspageinfo&prop=threaditemshtml`, in page order."""
    out: list[Comment] = []

    def walk(nodes, heading, task, parent):
        for node in nodes:
            if node.get("type") == "heading":
                h = normalize(text_from_html(node.get("html", ""), "\0"))
                t = _TASK_RE.search(h)
                walk(node.get("replies", []), h, int(t.group(1)) if t else None, None)
                continue
            if node.get("type") != "comment":
                continue
            author = node.get("author", "")
            c = Comment(node["id"], author, node.get("timestamp", ""), heading,
                        text_from_html(node.get("html", ""), author), int(node.get("level", 1)),
                        parent, True, task)
            out.append(c)
            walk(node.get("replies", []), heading, task, c.id)

    walk(items, "", None, None)
    return out
