"""The feedback job's pure decisions: the keys that make each comment go out exactly once, which queued
comments go into which digest, the threads a digest shows and a reply answers, and the problem line
for a page whose comments wait.

The job (`bot/jobs/feedback/`) reads the wikis, the store and Phabricator and hands over what it
read; nothing here does I/O. Queue items are the store's JSON (`{"wiki", "title", "kind",
"comment": Comment.to_json(), "task", "digest", ...}`); digest entries are the job's dicts with
the `Comment` under `"comment"`.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Callable, Iterable

from bot.domain.comments import Comment, text_hash, thread_order
from bot.domain.problems import PAGE, WIKI, Problem
from bot.domain.replies import normal_title, reply_key, reply_post_key

# Idempotency-key prefixes of the three deliveries (the state store's posts).
PHAB_POST = "fb-phab:"
WIKI_POST = "fb-wiki:"


# -- keys -------------------------------------------------------------------------------------------

def comment_key(code: str, title: str, comment: Comment) -> str:
    # Ids repeat across pages (same author, minute and heading), so the page is part of the key.
    return f"{code}:{normal_title(title)}:{comment.id}:{text_hash(comment.text)[:10]}"


def unsigned_key(code: str, title: str, section: str, text: str) -> str:
    return f"{code}:{normal_title(title)}:{section}:{text_hash(text)}"


def seen_key(code: str, title: str, comment_id: str) -> str:
    return f"{code}:{normal_title(title)}:{comment_id}"


def known_key(code: str, comment: Comment) -> str:
    """The same author, time and text anywhere on this wiki: a section moved or archived, not new."""
    return f"{code}:{comment.author}|{comment.timestamp}|{text_hash(comment.text)}"


# -- the queue: order, batches, done ----------------------------------------------------------------

def in_delivery_order(queue: dict[str, dict]) -> list[tuple[str, dict]]:
    """Queue items oldest comment first (the key breaks ties), the order digests and replies list them."""
    return sorted(queue.items(), key=lambda kv: (kv[1]["comment"]["timestamp"], kv[0]))


def digest_batches(queue: dict[str, dict], has_post: Callable[[str], bool]):
    """What each digest still lacks: ({task id: [(key, item)]}, {(wiki, digest page): [(key, item)]}).

    `has_post` tells whether an idempotency key is recorded; a comment already on its task or page
    is left out of that digest, each list in delivery order."""
    by_task: dict[int, list[tuple[str, dict]]] = defaultdict(list)
    by_digest: dict[tuple[str, str], list[tuple[str, dict]]] = defaultdict(list)
    for key, item in in_delivery_order(queue):
        if not has_post(PHAB_POST + key):
            by_task[int(item["task"])].append((key, item))
        if item.get("digest") and not has_post(WIKI_POST + key):
            by_digest[tuple(item["digest"])].append((key, item))
    return by_task, by_digest


def delivered(key: str, item: dict, has_post: Callable[[str], bool], wants_reply: bool) -> bool:
    """True once the comment is on its task, on its digest page (if any) and replied to (if wanted)."""
    return (has_post(PHAB_POST + key)
            and (not item.get("digest") or has_post(WIKI_POST + key))
            and (not wants_reply or has_post(reply_post_key(item))))


def due_replies(queue: dict[str, dict], wants_reply: Callable[[dict], bool], has_post: Callable[[str], bool],
                would_post: set[str]) -> dict[str, dict]:
    """Comments to reply under now, one per reply key (comment and task), oldest first.

    A reply names the task only once the task really has the comment (or a dry run would have
    posted it: `would_post`)."""
    due: dict[str, dict] = {}
    for key, item in in_delivery_order(queue):
        if not wants_reply(item) or has_post(reply_post_key(item)):
            continue
        if not (has_post(PHAB_POST + key) or key in would_post):
            continue
        due.setdefault(reply_key(item), item)
    return due


# -- threads ----------------------------------------------------------------------------------------

def digest_threads(entries: list[dict]) -> list[dict]:
    """Entries grouped by wiki, page and thread (section), each reply after its parent.

    Returns [{wiki, wiki_name, title, section, comments: [entry with depth]}] in reading order:
    wikis by code, pages and threads by their first comment. Sets each entry's `depth`.
    """
    by_page: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for e in entries:
        by_page[(e["wiki"], normal_title(e["title"]))].append(e)
    groups = []
    for (code, _), page_entries in sorted(by_page.items(), key=lambda kv: (
            kv[0][0], min((e["comment"].timestamp, e["comment"].id) for e in kv[1]))):
        ordered = thread_order(page_entries, key=lambda e: e["comment"])
        for e, depth in ordered:
            e["depth"] = depth
            if groups and (groups[-1]["wiki"], groups[-1]["title"], groups[-1]["section"]) == \
                    (code, e["title"], e["section"]):
                groups[-1]["comments"].append(e)
            else:
                groups.append({"wiki": code, "wiki_name": e["wiki_name"], "title": e["title"],
                               "section": e["section"], "comments": [e]})
    return groups


def reply_threads(items: list[dict]) -> list[list[dict]]:
    """A page's due queue items by thread (section), in page order of their first comment."""
    threads: dict[str, list[dict]] = defaultdict(list)
    for item in items:
        threads[item["comment"].get("section", "")].append(item)
    return [sorted(t, key=lambda i: (i["comment"]["timestamp"], i["comment"]["id"], int(i["task"])))
            for _, t in sorted(threads.items(), key=lambda kv: min(i["comment"]["timestamp"] for i in kv[1]))]


def template_comments_missing(found: list[Comment], signed: Iterable[Comment]) -> list[Comment]:
    """The `{{Unsigned}}`-signed comments of the wikitext (`signed`) that DiscussionTools (`found`) lacks.

    Where DiscussionTools renders the template it has the comment, maybe under an id of its own
    making: as many comments of the same author, time and section as the wikitext has are all of
    them, so never more are added than DiscussionTools lacks."""
    ids = {c.id for c in found}
    found_count = Counter(map(_who_when_where, found))
    signed = list(signed)
    room = {k: n - found_count[k] for k, n in Counter(map(_who_when_where, signed)).items()}
    missing = []
    for c in signed:
        key = _who_when_where(c)
        if c.by_template and c.id not in ids and room[key] > 0:
            missing.append(c)
            room[key] -= 1
    return missing


def _who_when_where(c: Comment) -> tuple[str, str, str]:
    return c.author, c.timestamp, c.section


# -- problems ---------------------------------------------------------------------------------------

def _without_wiki(code: str, reason: str) -> str:
    # An error that already names the wiki (the wiki facts' "wiki cs: ...") is not told it twice.
    prefix = f"wiki {code}: "
    return reason[len(prefix):] if reason.startswith(prefix) else reason


def page_problem(code: str, title: str, reason: str, then: str) -> Problem:
    """`wiki cs page 'P': <reason>; <then>`, the wiki named once, with its wiki, page and kind."""
    return Problem(f"wiki {code} page {title!r}: {_without_wiki(code, reason)}; {then}",
                   wiki=code, target=title, kind=PAGE)


def wiki_problem(code: str, reason: str, then: str) -> Problem:
    """`wiki cs: <reason>; <then>`, the wiki named once."""
    return Problem(f"wiki {code}: {_without_wiki(code, reason)}; {then}", wiki=code, target=None, kind=WIKI)
