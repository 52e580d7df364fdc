"""What changed between revisions of a talk page: new comments and edited ones.

Comments are compared by id: a new id is new feedback, a known id with other text is an edit,
an id whose author, time and text were already there under another heading is a moved or renamed
section. Text nobody signed is attributed to the revision that added it; an unsigned chunk replaced,
at the same place in its section, by a similar one is an edit that carries the previous text.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, replace

from bot.domain.comments.comment import Comment, comment_id, name_id
from bot.domain.comments.parser import parse_comments
from bot.domain.comments.text import normalize, without_separator
from bot.domain.wiki_facts import WikiFacts


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
        base = comment_id(author, rev.timestamp, name_id(c.section)) + ("" if c.by_template else "-unsigned")
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
