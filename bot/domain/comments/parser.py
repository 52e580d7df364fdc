"""The wikitext parser: a page revision's sections, and in each the signed comments and unsigned chunks."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.domain.comments.comment import TASK_RE, Comment, comment_id, name_id, stamp_id
from bot.domain.comments.signatures import Signature, find_signatures, signature_tail
from bot.domain.comments.text import plain_heading, plain_text, without_separator
from bot.domain.wiki_facts import WikiFacts


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


_INDENT_RE = re.compile(r"^[:*#]+")


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
            task_m = TASK_RE.search(heading)
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
    page = _Page(facts)
    for section in _sections(text):
        _SectionReader(page, section).read()
    return page.signed, page.unsigned


@dataclass
class _Page:
    """What parsing one page collects. Ids are unique on the whole page, not per section."""
    facts: WikiFacts
    signed: list[Comment] = field(default_factory=list)
    unsigned: list[Comment] = field(default_factory=list)
    used: dict[str, int] = field(default_factory=dict)     # id -> how often given so far

    def unique_id(self, base: str) -> str:
        n = self.used.get(base, 0)
        self.used[base] = n + 1
        return base if n == 0 else f"{base}-{n}"


class _SectionReader:
    """Reads one section line by line: text waits in `pending` until a signature claims it."""

    def __init__(self, page: _Page, section: _Section):
        self.page = page
        self.facts = page.facts
        self.section = section
        self.thread: list[Comment] = []            # comments so far in this section, for parents
        self.pending: list[tuple[int, str]] = []   # (indent, text) not yet claimed by a signature

    def read(self) -> None:
        for line in self.section.lines:
            self._line(line)
        if self.pending:
            self._flush_unsigned()

    def _line(self, line: str) -> None:
        indent = _indent(line)
        content = line[indent:]
        sigs = find_signatures(content, self.facts)
        if not sigs:
            if self.pending and content.strip() and indent != self.pending[-1][0]:
                self._flush_unsigned()
            self.pending.append((indent, content))
            return
        pos = 0
        for sig in sigs:
            pos = self._signature(sig, indent, content, pos)
        rest = content[pos:]
        if plain_text(rest, self.facts):
            self.pending.append((indent, rest))

    def _signature(self, sig: Signature, indent: int, content: str, pos: int) -> int:
        """The comment `sig` closes (from `pos`, with the pending lines it claims); returns where the
        line's text after the signature starts."""
        text = plain_text(" ".join(self._claim(indent) + [content[pos:sig.start]]), self.facts)
        if sig.template:
            # "text -- {{Unsigned|X}}": the dash goes with the template, as it would with `--~~~~`
            # in the writer's own hand; the text is what was there before it was marked.
            text = without_separator(text)
        level = indent + 1
        if not sig.timestamp:
            # A template naming the user but no time: unsigned text whose author is known.
            if text:
                self.page.unsigned.append(Comment("", sig.author, "", self.section.heading, text, level, None,
                                                  False, self.section.task, True))
            return sig.end
        self._signed(sig, text, level)
        return sig.end + signature_tail(content[sig.end:])

    def _claim(self, indent: int) -> list[str]:
        """The pending text a signature at `indent` closes; pending text at other indentations is
        unsigned (not part of this comment)."""
        own = [t for i, t in self.pending if i == indent]
        if len(own) != len(self.pending):
            self._flush_unsigned()
            own = []
        self.pending.clear()
        return own

    def _signed(self, sig: Signature, text: str, level: int) -> None:
        parent = next((c for c in reversed(self.thread) if c.level < level), None)
        base = comment_id(sig.author, sig.timestamp,
                          f"{name_id(parent.author)}-{stamp_id(parent.timestamp)}" if parent
                          else name_id(self.section.heading))
        comment = Comment(self.page.unique_id(base), sig.author, sig.timestamp, self.section.heading,
                          text, level, parent.id if parent else None, True, self.section.task, sig.template)
        self.page.signed.append(comment)
        self.thread.append(comment)

    def _flush_unsigned(self) -> None:
        body = " ".join(t for _, t in self.pending if t.strip())
        if plain_text(body, self.facts):
            level = min(i for i, t in self.pending if t.strip()) + 1
            self.page.unsigned.append(Comment("", "", "", self.section.heading, plain_text(body, self.facts), level,
                                              None, False, self.section.task))
        self.pending.clear()
