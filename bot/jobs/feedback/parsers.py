"""Which comments a page's new revisions hold: DiscussionTools or the wikitext parser."""
from __future__ import annotations

from dataclasses import replace

from bot.adapters.wiki_facts import wiki_facts
from bot.domain.comments import (CommentChange, Revision, changes_in_history, comments_from_threaditems,
                                 parse_comments)
from bot.domain.feedback import template_comments_missing
from bot.domain.wiki_facts import WikiFacts


def revision_from_api(r: dict | None) -> Revision | None:
    if r is None:
        return None
    return Revision(r["revid"], r["user"], r["timestamp"], r["text"], r.get("parentid", 0), r.get("comment", ""))


def use_discussiontools(conf, wiki) -> bool:
    if conf.parser == "wikitext":
        return False
    if conf.parser == "discussiontools":
        return True
    return wiki.has_extension("DiscussionTools")


def page_changes(ctx, conf, wiki, title: str, baseline: dict | None, newer: list[dict]) -> list[CommentChange]:
    facts = wiki_facts(wiki, ctx.memo, ctx.store)
    base_rev = revision_from_api(baseline)
    revisions = [revision_from_api(r) for r in newer]
    parser = None
    if use_discussiontools(conf, wiki):
        parser = discussiontools_parser(wiki, title, revisions[-1], facts)
    return changes_in_history(base_rev, revisions, bot_user=wiki.settings.username, facts=facts, parser=parser)


def discussiontools_parser(wiki, title: str, newest: Revision, facts: WikiFacts):
    """Signed comments from DiscussionTools (one request per revision), unsigned from wikitext.

    DiscussionTools only reads pages it treats as discussions; on a page where it
    finds no comment but the wikitext has signatures, the wikitext parser is used.
    It sees an `{{Unsigned|User|time}}` comment only if the template renders a
    signature (a user link and a time in the wiki's format); those it does not see
    come from the wikitext, under the same id.
    """
    items = wiki.discussion_items(title, newest.revid)
    found = comments_from_threaditems(items, facts)
    if not found and parse_comments(newest.text, facts)[0]:
        return None
    cache = {newest.revid: found}

    def parse(rev: Revision):
        if rev.revid not in cache:
            cache[rev.revid] = comments_from_threaditems(wiki.discussion_items(title, rev.revid), facts)
        signed, unsigned = parse_comments(rev.text, facts)
        # The quoted text is read from the wikitext on both paths, so that signatures, images and
        # templates leave it the same way; DiscussionTools' own (cleaned) text only where the wikitext
        # parser has no comment of that id.
        wikitext_text = {c.id: c.text for c in signed}
        dt = [replace(c, text=wikitext_text[c.id]) if wikitext_text.get(c.id) else c for c in cache[rev.revid]]
        return dt + template_comments_missing(dt, signed), unsigned
    return parse
