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

One module per responsibility; everything public is importable from here too:

* `text`: a comment's plain text from wikitext (markup, images, templates, separators)
* `signatures`: signatures on a line (user links with a timestamp, `{{Unsigned}}` templates)
* `comment`: the `Comment` value and its DiscussionTools-style id
* `parser`: a revision's sections, signed comments and unsigned chunks (`parse_comments`)
* `history`: what changed between revisions (`changes_between`, `changes_in_history`)
* `discussiontools`: comments from DiscussionTools' thread items and their HTML
* `threads`: comments in the order of their threads (`thread_order`)
"""
from __future__ import annotations

from bot.domain.comments.comment import Comment, author_from_id, comment_id
from bot.domain.comments.discussiontools import comments_from_threaditems, text_from_html
from bot.domain.comments.history import (SIMILAR_END_WORDS, SIMILAR_MAX_CHARS, UNSIGNED_EDIT_RATIO, CommentChange,
                                         Revision, changes_between, changes_in_history, similar)
from bot.domain.comments.parser import HEADING_RE, lines_with_headings, parse_comments
from bot.domain.comments.signatures import (RAW_SIGNATURE_WINDOW, SIGNATURE_WINDOW, Signature, find_signatures,
                                            signature_tail, template_signatures, user_from_link, valid_user_name)
from bot.domain.comments.text import normalize, plain_heading, plain_text, template_name, text_hash, without_separator
from bot.domain.comments.threads import thread_order

__all__ = [
    "HEADING_RE", "RAW_SIGNATURE_WINDOW", "SIGNATURE_WINDOW", "SIMILAR_END_WORDS", "SIMILAR_MAX_CHARS",
    "UNSIGNED_EDIT_RATIO", "Comment", "CommentChange", "Revision", "Signature", "author_from_id",
    "changes_between", "changes_in_history", "comment_id", "comments_from_threaditems", "find_signatures",
    "lines_with_headings", "normalize", "parse_comments", "plain_heading", "plain_text", "signature_tail",
    "similar", "template_name", "template_signatures", "text_from_html", "text_hash", "thread_order",
    "user_from_link", "valid_user_name", "without_separator",
]
