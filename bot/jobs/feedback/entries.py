"""One queued comment as a digest shows it (on the task and on the digest page)."""
from __future__ import annotations

import urllib.parse

from bot.domain.comments import Comment, author_from_id
from bot.domain.replies import marker_hash
from bot.render.environment import Markup
from bot.render.feedback_words import local_time, wiki_name


def digest_entry(ctx, conf, key: str, item: dict, reader: str) -> dict:
    """One comment as the digest shows it to a reader of `reader`'s language (values escaped by the caller)."""
    c = Comment.from_json(item["comment"])
    wiki = ctx.wikis[item["wiki"]]
    index = wiki.index_url()
    zone = getattr(getattr(wiki, "settings", None), "timezone", None) or "UTC"
    diff_url = f"{index}?title=Special:Diff/{int(item['revid'])}"
    # A signed comment's own permalink (DiscussionTools' Special:GoToComment finds it also after the
    # thread was moved or archived); unsigned text has no id there, its edit's diff is its permalink.
    permalink = f"{index}?title={urllib.parse.quote('Special:GoToComment/' + c.id, safe='/:')}" if c.signed \
        else diff_url
    full_url = f"{index}?title={urllib.parse.quote(item['title'].replace(' ', '_'), safe='')}" \
               f"#{urllib.parse.quote(c.id, safe='')}"
    return {"key": key, "marker": Markup(marker_hash(key)), "author": c.author, "wiki": item["wiki"],
            "wiki_name": wiki_name(reader, item["wiki"]), "title": item["title"], "section": c.section,
            "time": local_time(c.timestamp, zone, reader), "edited": item["kind"] == "edit",
            "signed": c.signed, "text": c.text, "reply": c.level > 1,
            "in_reply_to": author_from_id(c.parent) if c.level > 1 else "",
            "task": int(item["task"]), "diff_url": Markup(diff_url), "permalink": Markup(permalink),
            "full_url": Markup(full_url), "cut": len(c.text) > conf.max_quote_chars, "depth": 0, "comment": c}
