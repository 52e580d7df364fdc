"""Forward on-wiki feedback to Phabricator, each comment exactly once.

A cycle, per wiki:

1. *What changed*: one `list=recentchanges` request since the stored cursor
   (a quiet cycle costs exactly this, and nothing on Phabricator). A cursor older
   than `RC_MAX_AGE` (Wikimedia keeps 30 days of recent changes) is not trusted:
   the bot catches up from each watched page's history instead.
2. *Which comments*: the changed pages' new revisions (plus the last revision
   already handled) are fetched by id, 50 a request, and compared revision by
   revision (`bot.domain.comments.changes_in_history`). Signed comments come from
   DiscussionTools where the wiki has it and the page is a discussion page, else
   from the wikitext; unsigned text always from the wikitext diff (and the
   `{{Unsigned}}`-signed comments DiscussionTools does not see, from the wikitext).
3. *Queue*: each new or edited comment gets a stable key (wiki, comment id, text
   hash) and is put in the store's queue and "seen" index *before* the page's
   baseline and the cursor move on, so a crash loses nothing and a re-run finds
   nothing new. An edited unsigned comment gets back the id, author and time it was
   forwarded with from the store (`NS_UNSIGNED`, by page, section and text).
4. *Deliver*: one Phabricator comment per target task, with a marker line listing
   the comment keys' hashes; before posting, the task's transactions by the bot are
   searched for those hashes, so a crash between posting and recording never posts
   twice. Then the on-wiki digest page gets the same comments, each behind a hidden
   `<!-- ambassador-bot:key=… -->` marker, checked in the page text before appending.
5. *Reply* (pages with `reply: true`): once a comment's digest is recorded on its
   task, a short localized "Forwarded to T123" goes under the comment on the wiki --
   through DiscussionTools where it knows the comment, else as a wikitext edit --
   one per comment and task, behind its own marker; never for a private task.
"""
from __future__ import annotations

import logging
import re
import urllib.parse
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from bot.adapters.wiki_facts import wiki_facts
from bot.domain.comments import (Comment, CommentChange, Revision, changes_in_history,
                                 comments_from_threaditems, normalize,
                                 parse_comments, text_hash, author_from_id, thread_order)
from bot.domain.replies import (insert_thread_reply, marker_hash, normal_title, reply_hashes, reply_key,
                                reply_marker, reply_post_key)
from bot.domain.tasks import Transaction
from bot.domain.wiki_facts import WikiFacts
from bot.errors import (Blocked, BotError, EditConflict, NotFound, PartialData, ServerError, TargetError,
                        TransientError, UncertainWriteError)
from bot.jobs.base import JobContext, JobReport, reachable_tasks
from bot.jobs.writer import NOBOTS, WOULD_SAVE, Writer
from bot.render import messages
from bot.render.environment import Markup
from bot.render.escape import remarkup_sparing_inline, remarkup_sparing_quote, wikitext_inline
from bot.render.feedback_words import local_time, wiki_name

log = logging.getLogger(__name__)

JOB = "feedback"
RC_MAX_AGE = timedelta(days=25)     # Wikimedia keeps 30 days; leave a margin for a slow cycle
# A comment signed this long before the bot started watching its page was moved there, not written there.
MOVED_SLACK = timedelta(days=1)
CONFLICT_ATTEMPTS = 3

NS_CURSOR = "fb-rc"          # per wiki: {timestamp, rcid}
NS_PAGE = "fb-page"          # per wiki:title: {revid, since}
NS_SEEN = "fb-seen"          # per wiki:title:comment id: [text hashes already queued]
NS_KNOWN = "fb-known"        # per wiki:author|time|text hash of signed comments: moves are not new
NS_QUEUE = "fb-queue"        # per comment key: what to deliver, until every target has it
NS_PARKED = "fb-parked"      # per task T<id> the bot cannot reach: when first met (reported once)
# per wiki:title:section:text hash of a forwarded unsigned comment: {id, author, timestamp}, so that
# an edit of it (known to the diff only by its previous text) is forwarded under its identity.
NS_UNSIGNED = "fb-unsigned"
MARKER_PREFIX = "ambassador-bot feedback:"


def run(ctx: JobContext) -> JobReport:
    report = JobReport(JOB)
    conf = ctx.settings.feedback
    if conf is None:
        return report
    for code in sorted({p.wiki for p in conf.pages}):
        try:
            _collect_wiki(ctx, conf, code, report)
        except Blocked as exc:
            report.problems.append(str(exc))
        except (TransientError, TargetError, ServerError, PartialData) as exc:
            report.problems.append(f"wiki {code}: {exc}; will retry next cycle")
    _deliver(ctx, conf, report)
    log.info("%s", report.summary(), extra={"job": JOB})
    return report


# -- 1. what changed ------------------------------------------------------------------------

def _parse_ts(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


@dataclass
class WatchResult:
    changes: list[Any]           # RecentChange-like: title, revid, old_revid, user, timestamp
    first_run: bool
    caught_up: bool
    pending_cursor: dict


def changes_since_cursor(ctx: JobContext, ns: str, code: str, titles: list[str],
                         namespaces: tuple[int, ...] = ()) -> WatchResult:
    """Edits to watched pages since the stored cursor: one request on a quiet cycle.

    The cursor is only *proposed* (`pending_cursor`); the caller stores it after
    it has recorded what it found, so a crash re-reads rather than skips.
    """
    wiki = ctx.wikis[code]
    cursor = ctx.store.get(ns, code)
    watched = {normal_title(t) for t in titles}
    if cursor is None:
        return WatchResult([], True, False, wiki.rc_position())
    since = _parse_ts(cursor["timestamp"])
    if datetime.fromtimestamp(ctx.clock(), timezone.utc) - since > RC_MAX_AGE:
        # Recent changes may no longer reach back to the cursor: read page histories.
        log.warning("wiki %s: %s cursor %s is older than %s; catching up from page histories", code, ns,
                    cursor["timestamp"], RC_MAX_AGE.days, extra={"job": JOB})
        now = wiki.rc_position()   # taken before the histories are read, so nothing falls between
        found = []
        for title in sorted(watched):
            for rev in wiki.revisions_since(title, cursor["timestamp"], content=False):
                found.append(_Change(normal_title(rev["title"]), rev["revid"], rev["parentid"], rev["user"],
                                     rev["timestamp"]))
        if namespaces:
            for rc in wiki.revisions_in_namespaces(cursor["timestamp"], namespaces):
                if normal_title(rc.title) not in watched:
                    found.append(_Change(normal_title(rc.title), rc.revid, rc.old_revid, rc.user, rc.timestamp,
                                         rc.namespace))
        found.sort(key=lambda c: (c.timestamp, c.revid))
        return WatchResult(found, False, True, now)
    changes = wiki.recent_changes(cursor["timestamp"], namespaces=())
    newest = dict(cursor)
    found = []
    for rc in changes:
        if rc.rcid <= cursor["rcid"]:
            continue
        newest = {"timestamp": rc.timestamp, "rcid": rc.rcid}
        title = normal_title(rc.title)
        if title in watched or rc.namespace in namespaces:
            found.append(_Change(title, rc.revid, rc.old_revid, rc.user, rc.timestamp, rc.namespace))
    return WatchResult(found, False, False, newest)


@dataclass(frozen=True)
class _Change:
    title: str
    revid: int
    old_revid: int
    user: str
    timestamp: str
    namespace: int = -1


# -- 2 and 3. comments, queued -------------------------------------------------------------------

def _collect_wiki(ctx: JobContext, conf, code: str, report: JobReport) -> None:
    wiki = ctx.wikis[code]
    pages = {normal_title(p.title): p for p in conf.pages_on(code)}
    watch = changes_since_cursor(ctx, NS_CURSOR, code, list(pages))
    if watch.first_run:
        # First cycle starts from now: the current revisions are the baseline.
        states = wiki.read_pages(list(pages))
        for title, state in states.items():
            ctx.store.put(NS_PAGE, f"{code}:{normal_title(title)}",
                          {"revid": state.revid, "since": watch.pending_cursor["timestamp"]})
        ctx.store.put(NS_CURSOR, code, watch.pending_cursor)
        report.unchanged += len(pages)
        return
    by_page: dict[str, list[_Change]] = defaultdict(list)
    for ch in watch.changes:
        by_page[ch.title].append(ch)
    baselines = {}
    for title in pages:
        base = ctx.store.get(NS_PAGE, f"{code}:{title}")
        if base is None:
            # A page added to the config later also starts from now.
            base = {"revid": 0, "since": watch.pending_cursor["timestamp"], "new": True}
        baselines[title] = base
    wanted: set[int] = set()
    for title, chs in by_page.items():
        base = baselines[title]
        wanted |= {c.revid for c in chs if c.revid > base["revid"]}
        if base["revid"]:
            wanted.add(base["revid"])
    revs = wiki.revisions_by_id(wanted) if wanted else {}
    report.unchanged += len(pages) - len(by_page)
    for title, chs in sorted(by_page.items()):
        page = pages[title]
        base = baselines[title]
        newer = sorted((revs[c.revid] for c in chs if c.revid > base["revid"] and c.revid in revs),
                       key=lambda r: r["revid"])
        if not newer:
            continue
        if base.get("new"):
            ctx.store.put(NS_PAGE, f"{code}:{title}", {"revid": newer[-1]["revid"], "since": base["since"]})
            continue
        try:
            changes = _page_changes(ctx, conf, wiki, title, revs.get(base["revid"]), newer)
        except (TransientError, TargetError, ServerError, PartialData) as exc:
            report.problems.append(f"wiki {code} page {title!r}: {exc}; will retry next cycle")
            return  # the cursor must not pass a page whose comments were not queued
        queued = _queue(ctx, code, page, base, changes)
        log.info("wiki %s page %r: %d revision(s), %d comment change(s), %d queued", code, title, len(newer),
                 len(changes), queued, extra={"job": JOB})
        ctx.store.put(NS_PAGE, f"{code}:{title}", {"revid": newer[-1]["revid"], "since": base["since"]})
    ctx.store.put(NS_CURSOR, code, watch.pending_cursor)


def _revision(r: dict | None) -> Revision | None:
    if r is None:
        return None
    return Revision(r["revid"], r["user"], r["timestamp"], r["text"], r.get("parentid", 0), r.get("comment", ""))


def use_discussiontools(conf, wiki) -> bool:
    if conf.parser == "wikitext":
        return False
    if conf.parser == "discussiontools":
        return True
    return wiki.has_extension("DiscussionTools")


def _page_changes(ctx, conf, wiki, title: str, baseline: dict | None, newer: list[dict]) -> list[CommentChange]:
    facts = wiki_facts(wiki, ctx.memo, ctx.store)
    base_rev = _revision(baseline)
    revisions = [_revision(r) for r in newer]
    parser = None
    if use_discussiontools(conf, wiki):
        parser = _discussiontools_parser(wiki, title, revisions[-1], facts)
    return changes_in_history(base_rev, revisions, bot_user=wiki.settings.username, facts=facts, parser=parser)


def _discussiontools_parser(wiki, title: str, newest: Revision, facts: WikiFacts):
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
        # Where DiscussionTools renders the template it has the comment, maybe under an id of its own
        # making: as many comments of the same author, time and section as the wikitext has are all of them.
        ids = {c.id for c in dt}
        dt_count = Counter(map(_who_when_where, dt))
        wikitext_count = Counter(map(_who_when_where, signed))
        room = {k: n - dt_count[k] for k, n in wikitext_count.items()}
        missing = []
        for c in signed:
            key = _who_when_where(c)
            if c.by_template and c.id not in ids and room[key] > 0:
                missing.append(c)
                room[key] -= 1      # never more than DiscussionTools lacks
        return dt + missing, unsigned
    return parse


def _who_when_where(c: Comment) -> tuple[str, str, str]:
    return c.author, c.timestamp, c.section


def comment_key(code: str, title: str, comment: Comment) -> str:
    # Ids repeat across pages (same author, minute and heading), so the page is part of the key.
    return f"{code}:{normal_title(title)}:{comment.id}:{text_hash(comment.text)[:10]}"


def unsigned_key(code: str, title: str, section: str, text: str) -> str:
    return f"{code}:{normal_title(title)}:{section}:{text_hash(text)}"


def _unsigned_identity(ctx: JobContext, code: str, title: str, ch: CommentChange) -> Comment | None:
    """The forwarded comment an unsigned edit changed, under the id, author and time it was forwarded
    with; None when the bot never forwarded its previous text or someone else changed it."""
    c = ch.comment
    known = ctx.store.get(NS_UNSIGNED, unsigned_key(code, title, c.section, ch.previous_text or ""))
    if not known:
        return None
    # Unsigned text belongs to whoever saved it: another user's words added to the chunk are theirs.
    if not c.by_template and known["author"] != ch.rev_user:
        return None
    return replace(c, id=known["id"], author=known["author"], timestamp=known["timestamp"])


def _queue(ctx: JobContext, code: str, page, base: dict, changes: list[CommentChange]) -> int:
    since = _parse_ts(base["since"]) - MOVED_SLACK
    queued = 0
    for ch in changes:
        c, kind = ch.comment, ch.kind
        if kind == "edit" and not c.signed:
            original = _unsigned_identity(ctx, code, page.title, ch)
            if original is not None:
                c = original
            elif normalize(c.text) in normalize(ch.previous_text or ""):
                continue   # text taken out of a comment never forwarded: nothing new was written
            else:
                kind = "new"   # as before this store: the changed text as a new unsigned comment
        seen_key = f"{code}:{normal_title(page.title)}:{c.id}"
        seen = ctx.store.get(NS_SEEN, seen_key, [])
        h = text_hash(c.text)
        # The same author, time and text already seen anywhere on this wiki: a section moved or archived.
        known_key = f"{code}:{c.author}|{c.timestamp}|{h}"
        if h in seen or (kind == "new" and (seen or (c.signed and ctx.store.get(NS_KNOWN, known_key)))):
            continue
        if kind == "new" and c.signed and _parse_ts(c.timestamp) < since:
            continue  # signed long before we watched: moved or archived here, not new feedback
        key = comment_key(code, page.title, c)
        ctx.store.put(NS_QUEUE, key, {
            "wiki": code, "title": page.title, "kind": kind, "comment": c.to_json(), "revid": ch.revid,
            "rev_user": ch.rev_user, "rev_timestamp": ch.rev_timestamp,
            "task": c.section_task or page.task,
            "digest": [page.digest_page.wiki, page.digest_page.title] if page.digest_page else None,
        })
        # "Seen" is written last: a crash before it repeats this comment's records (the same values),
        # a crash after it would skip them for good, and an unsigned comment's later edit would go out
        # as new without the identity record.
        if c.signed:
            ctx.store.put(NS_KNOWN, known_key, True)
        else:
            # Every forwarded text of an unsigned comment (the first and each edit) leads back to it.
            ctx.store.put(NS_UNSIGNED, unsigned_key(code, page.title, c.section, c.text),
                          {"id": c.id, "author": c.author, "timestamp": c.timestamp})
        ctx.store.put(NS_SEEN, seen_key, seen + [h])
        queued += 1
    return queued


# -- 4. deliver -------------------------------------------------------------------------------------

def _deliver(ctx: JobContext, conf, report: JobReport) -> None:
    queue = ctx.store.items(NS_QUEUE)
    if not queue:
        return
    by_task: dict[int, list[tuple[str, dict]]] = defaultdict(list)
    by_digest: dict[tuple[str, str], list[tuple[str, dict]]] = defaultdict(list)
    for key, item in sorted(queue.items(), key=lambda kv: (kv[1]["comment"]["timestamp"], kv[0])):
        if not ctx.store.has_post("fb-phab:" + key):
            by_task[int(item["task"])].append((key, item))
        if item.get("digest") and not ctx.store.has_post("fb-wiki:" + key):
            by_digest[tuple(item["digest"])].append((key, item))
    would_post: set[str] = set()     # dry run: digests it would post count as posted for the replies
    if by_task:
        try:
            bot_phid = ctx.phab.whoami().phid
        except BotError as exc:
            report.problems.append(f"Phabricator: {exc}; digests wait for the next cycle")
            by_task = {}
        reachable = reachable_tasks(ctx, NS_PARKED, set(by_task), report, "feedback") if by_task else set()
        by_task = {t: items for t, items in by_task.items() if t in (reachable or ())}
        for task_id, items in sorted(by_task.items()):
            try:
                would_post |= _post_digest(ctx, conf, task_id, items, bot_phid, report)
            except BotError as exc:
                report.problems.append(f"T{task_id}: {exc}; the digest waits for the next cycle")
    if by_digest:
        public = _public_tasks(ctx, {int(i["task"]) for items in by_digest.values() for _, i in items}, report)
        for (code, title), items in sorted(by_digest.items()):
            try:
                _append_digest_page(ctx, conf, code, title, items, public, report)
            except Blocked as exc:
                report.problems.append(str(exc))
            except (TargetError, TransientError) as exc:
                report.problems.append(f"{exc}; the digest page waits for the next cycle")
    _replies(ctx, conf, queue, would_post, report)
    if not ctx.dry_run:
        for key, item in queue.items():
            if ctx.store.has_post("fb-phab:" + key) and (not item.get("digest")
                                                         or ctx.store.has_post("fb-wiki:" + key)) \
                    and (not _wants_reply(conf, item) or ctx.store.has_post(reply_post_key(item))):
                ctx.store.delete(NS_QUEUE, key)


def _entry(ctx, conf, key: str, item: dict, reader: str) -> dict:
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


def _threads(entries: list[dict]) -> list[dict]:
    """Entries grouped by wiki, page and thread (section), each reply after its parent.

    Returns [{wiki, wiki_name, title, section, comments: [entry with depth]}] in reading order:
    wikis by code, pages and threads by their first comment.
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


def render_digest(ctx, conf, entries: list[dict]) -> str:
    """The Phabricator digest (English, the team's language): threads in reading order, every name and
    label escaped sparingly (no invisible character where nothing needs one), quotes inert."""
    for e in entries:
        e["quote"] = Markup(remarkup_sparing_quote(e["text"], max_chars=conf.max_quote_chars))
        for field in ("author", "wiki_name", "title", "section", "in_reply_to", "time"):
            e[field + "_rm"] = Markup(remarkup_sparing_inline(e[field])) if e[field] else ""
    groups = _threads(entries)
    for e in entries:
        e["arrow"] = Markup("↳ " * e["depth"])
    for g in groups:
        g["heading"] = Markup(" / ".join(x for x in (g["comments"][0]["wiki_name_rm"], g["comments"][0]["title_rm"],
                                                     g["comments"][0]["section_rm"]) if x))
    marker = MARKER_PREFIX + " " + " ".join(e["marker"] for e in entries)
    return ctx.renderer.render("digest", ctx.settings.phabricator.language, "remarkup", comments=entries,
                               threads=groups, marker=Markup(marker),
                               count=Markup(str(len(entries))))


def posted_markers(transactions: list[Transaction]) -> set[str]:
    """Marker hashes found in the bot's own comments on a task."""
    found: set[str] = set()
    for x in transactions:
        for raw in x.texts:
            for line in raw.splitlines():
                if line.startswith(MARKER_PREFIX):
                    found.update(line[len(MARKER_PREFIX):].split())
    return found


def _post_digest(ctx, conf, task_id: int, items, bot_phid: str, report: JobReport) -> set[str]:
    """Post one digest comment; returns the keys a dry run would have posted (recorded ones are in the store)."""
    # The target itself is the truth: a digest posted before a crash shows its markers there.
    already = posted_markers(ctx.phab.transactions(f"T{task_id}", author_phids=[bot_phid]))
    writer = Writer(ctx, report)
    todo = []
    for key, item in items:
        if marker_hash(key) in already:
            writer.found("fb-phab:" + key, "task-comment", f"T{task_id}")
            continue
        todo.append(_entry(ctx, conf, key, item, ctx.settings.phabricator.language))
    if not todo:
        return set()
    text = render_digest(ctx, conf, todo)
    try:
        outcome = writer.task_comment(task_id, text, key=["fb-phab:" + e["key"] for e in todo])
    except UncertainWriteError as exc:
        # Next cycle looks at the task's transactions before posting again.
        raise TransientError(f"T{task_id}: {exc}") from None
    if outcome.status == WOULD_SAVE:
        return {e["key"] for e in todo}
    report.saved.append(("phabricator", f"T{task_id}", 0))
    return set()


def _public_tasks(ctx, task_ids: set[int], report: JobReport) -> set[int]:
    """Tasks whose number may appear on a wiki: only public ones (never a private task's title)."""
    try:
        return {t.id for t in ctx.phab.search_tasks(task_ids=sorted(task_ids)) if t.is_public}
    except BotError as exc:
        report.problems.append(f"Phabricator: {exc}; task links left out of the digest page")
        return set()


def _append_digest_page(ctx, conf, code: str, title: str, items, public: set[int], report: JobReport) -> None:
    wiki = ctx.wikis[code]
    lang = wiki.settings.language
    label = f"wiki {code} page {title!r}"
    writer = Writer(ctx, report)
    for attempt in range(CONFLICT_ATTEMPTS):
        states = wiki.read_pages([title] + writer.run_page_titles(code))
        page = states[title]
        stop = writer.note_run_page(code, states)
        if stop:
            raise TargetError(f"{stop}; digest page {title!r} not written")
        if writer.refusal(code, page) == NOBOTS:
            raise TargetError(f"{label}: the page excludes the bot ({{{{nobots}}}}); digest not written")
        todo = []
        for key, item in items:
            if f"ambassador-bot:key={marker_hash(key)}" in page.text:
                writer.found("fb-wiki:" + key, "edit", f"{code}:{title}", page.revid)
                continue
            e = _entry(ctx, conf, key, item, reader=lang)
            e["text_wiki"] = Markup(wikitext_inline(e["text"], max_chars=conf.max_quote_chars))
            e["task_link"] = Markup(f"[[phab:T{e['task']}|T{e['task']}]]") if e["task"] in public else None
            todo.append(e)
        if not todo:
            return
        new_text = digest_page_text(ctx, lang, page.text, todo)
        summary = messages.msg(lang, "feedback-summary-digest", len(todo))
        try:
            outcome = writer.edit(code, page, new_text, summary, key=["fb-wiki:" + e["key"] for e in todo])
        except EditConflict:
            continue
        except NotFound:
            continue
        except UncertainWriteError as exc:
            raise TransientError(f"{label}: {exc}") from None
        if outcome.saved:
            report.saved.append((code, title, outcome.revid))
        return
    raise TargetError(f"{label}: still in edit conflict after {CONFLICT_ATTEMPTS} attempts")


DIGEST_WIKI_MARKER = "<!-- ambassador-bot:digest-wiki={code} -->"
_TOP_HEADING = re.compile(r"^=(?:=)?[^=].*?=(?:=)?\s*$")


def digest_page_text(ctx, lang: str, text: str, entries: list[dict]) -> str:
    """`text` with `entries` added, in the reader's language (`lang`, the digest page's wiki), each source
    wiki's comments under that wiki's own heading (`== Korean Wikipedia ==`, created once, found again by
    its hidden marker), threads in reading order."""
    by_wiki: dict[str, list[dict]] = defaultdict(list)
    for e in entries:
        by_wiki[e["wiki"]].append(e)
    for code, wiki_entries in sorted(by_wiki.items()):
        threads = _threads(wiki_entries)
        for e in wiki_entries:
            e["stars"] = Markup("*" * min(e["depth"], 4))
        marker = DIGEST_WIKI_MARKER.format(code=code)
        lines = text.split("\n")
        at = next((i for i, ln in enumerate(lines) if ln.strip() == marker), None)
        block = ctx.renderer.render("digest", lang, "wiki", threads=threads, comments=wiki_entries,
                                    heading=None if at is not None else wiki_name(lang, code),
                                    wiki_code=Markup(code)).strip("\n")
        if at is None:
            text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + block + "\n"
            continue
        end = next((i for i in range(at + 1, len(lines)) if _TOP_HEADING.match(lines[i])), len(lines))
        while end > at + 1 and not lines[end - 1].strip():
            end -= 1
        text = "\n".join(lines[:end] + ["", block, ""] + lines[end:]) if end < len(lines) \
            else "\n".join(lines[:end] + ["", block, ""])
    return text


# -- 5. optional reply on the wiki ("Forwarded to T123") ----------------------------------------------

def page_conf(conf, code: str, title: str):
    t = normal_title(title)
    return next((p for p in conf.pages if p.wiki == code and normal_title(p.title) == t), None)


def _wants_reply(conf, item: dict) -> bool:
    page = page_conf(conf, item["wiki"], item["title"])
    return bool(page and page.reply)


def reply_text(ctx, lang: str, item) -> str:
    """The reply as one line: localized message naming every task, hidden marker, then `~~~~`.

    `item` is one queue item or the list of a thread's items (one reply per thread per cycle). The
    marker lists each item's hash, and the signature are not in the template: an overridden template
    must not be able to drop what makes the reply happen exactly once.
    """
    items = item if isinstance(item, list) else [item]
    tasks = sorted({int(i["task"]) for i in items})
    links = [Markup(f"[[phab:T{t}|T{t}]]") for t in tasks]
    message = ctx.renderer.render("feedback_reply", lang, "wiki", task=tasks[0], task_link=links[0],
                                  task_links=links)
    hashes = ",".join(dict.fromkeys(reply_marker(i).split("=", 1)[1] for i in items))
    return f"{' '.join(message.split())} <!-- ambassador-bot:key={hashes} --> ~~~~"


def _task_policies(ctx, task_ids: set[int]) -> set[int] | None:
    """Public tasks among `task_ids`, or None when Phabricator could not say (then nothing is replied)."""
    try:
        return {t.id for t in ctx.phab.search_tasks(task_ids=sorted(task_ids)) if t.is_public}
    except BotError as exc:
        log.warning("Phabricator: %s; wiki replies wait for the next cycle", exc, extra={"job": JOB})
        return None


def _skip_reply(writer: Writer, item: dict, why: str) -> None:
    # Recorded so the queue can let go of the comment; the reason is the record's revision field.
    writer.found(reply_post_key(item), "reply-skipped", f"{item['wiki']}:{item['title']}", why)


def _replies(ctx, conf, queue: dict, would_post: set[str], report: JobReport) -> None:
    due: dict[str, dict] = {}
    for key, item in sorted(queue.items(), key=lambda kv: (kv[1]["comment"]["timestamp"], kv[0])):
        if not _wants_reply(conf, item) or ctx.store.has_post(reply_post_key(item)):
            continue
        if not (ctx.store.has_post("fb-phab:" + key) or key in would_post):
            continue   # the reply names the task only once the task really has the comment
        due.setdefault(reply_key(item), item)
    if not due:
        return
    public = _task_policies(ctx, {int(i["task"]) for i in due.values()})
    if public is None:
        report.problems.append("Phabricator: task view policies unknown; wiki replies wait for the next cycle")
        return
    writer = Writer(ctx, report)
    by_page: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for item in due.values():
        if int(item["task"]) not in public:
            # A private task's number never reaches a wiki.
            _skip_reply(writer, item, "private task")
            continue
        if not item["comment"].get("signed", True):
            # Unsigned text has no stable place (DiscussionTools gives it no id) to reply under.
            _skip_reply(writer, item, "unsigned")
            continue
        by_page[(item["wiki"], normal_title(item["title"]))].append(item)
    for (code, title), items in sorted(by_page.items()):
        try:
            _reply_on_page(ctx, writer, conf, code, title, items, report)
        except Blocked as exc:
            report.problems.append(str(exc))
        except (TargetError, TransientError, ServerError, PartialData) as exc:
            report.problems.append(f"{exc}; replies wait for the next cycle")


def _by_thread(items: list[dict]) -> list[list[dict]]:
    """A page's due items by thread (section), in page order of their first comment."""
    threads: dict[str, list[dict]] = defaultdict(list)
    for item in items:
        threads[item["comment"].get("section", "")].append(item)
    return [sorted(t, key=lambda i: (i["comment"]["timestamp"], i["comment"]["id"], int(i["task"])))
            for _, t in sorted(threads.items(), key=lambda kv: min(i["comment"]["timestamp"] for i in kv[1]))]


def _reply_on_page(ctx, writer: Writer, conf, code: str, title: str, items: list[dict], report: JobReport) -> None:
    """One reply per thread: after the thread's last comment, naming every task its new comments went to."""
    wiki = ctx.wikis[code]
    label = f"wiki {code} page {title!r}"
    for attempt in range(CONFLICT_ATTEMPTS):
        states = wiki.read_pages([title] + writer.run_page_titles(code))
        stop = writer.note_run_page(code, states)
        if stop:
            raise TargetError(f"{stop}; no reply on {title!r}")
        page = states[title]
        if not page.exists:
            raise NotFound(f"{label}: the page does not exist")
        if writer.refusal(code, page) == NOBOTS:
            raise TargetError(f"{label}: the page excludes the bot ({{{{nobots}}}}); no reply written")
        done = reply_hashes(page.text)
        todo = []
        for item in items:
            # The page itself is the truth: a reply saved before a crash carries its marker.
            if reply_marker(item).split("=", 1)[1] in done:
                writer.found(reply_post_key(item), "reply", f"{code}:{title}", page.revid)
                continue
            todo.append(item)
        if not todo:
            return
        threads = _by_thread(todo)
        dt_items: list[Comment] = []
        if use_discussiontools(conf, wiki):
            # DiscussionTools only reads discussion pages: a thread it knows is replied to through it.
            dt_items = comments_from_threaditems(wiki.discussion_items(title), wiki_facts(wiki, ctx.memo, ctx.store))
        via_text = []
        for thread in threads:
            ids = {i["comment"]["id"] for i in thread}
            section = thread[0]["comment"].get("section", "")
            in_thread = [c for c in dt_items if c.section == section]
            if in_thread and ids & {c.id for c in in_thread}:
                # The thread's last comment in page order (also one written after an {{od}} outdent).
                _reply_discussiontools(ctx, writer, wiki, page, thread, in_thread[-1].id, report)
            else:
                via_text.append(thread)
        if not via_text or _reply_wikitext(ctx, writer, wiki, page, via_text, report):
            return
    raise TargetError(f"{label}: still in edit conflict after {CONFLICT_ATTEMPTS} attempts; no reply written")


def _reply_discussiontools(ctx, writer: Writer, wiki, page, thread: list[dict], last_id: str,
                           report: JobReport) -> None:
    code, lang, title = wiki.code, wiki.settings.language, page.title
    text = reply_text(ctx, lang, thread)
    tasks = ", ".join(dict.fromkeys(f"T{int(i['task'])}" for i in thread))
    try:
        outcome = writer.reply(
            code, page, last_id, text, _reply_summary(lang, tasks),
            key=[reply_post_key(item) for item in thread],
            preview=f"--- would reply on {code}:{title} under {last_id} (DiscussionTools) ---\n{text}\n")
    except UncertainWriteError as exc:
        # The next cycle looks for the marker on the page before replying again.
        raise TransientError(f"wiki {code} page {title!r}: {exc}") from None
    except ServerError as exc:
        if exc.code == "discussiontools-commentid-notfound":
            report.problems.append(f"wiki {code} page {title!r}: comment {last_id} is no longer on the page; "
                                   f"the reply waits for the next cycle")
            return
        raise
    if outcome.saved:
        report.saved.append((code, title, outcome.revid))


def _reply_wikitext(ctx, writer: Writer, wiki, page, threads: list[list[dict]], report: JobReport) -> bool:
    """All threads' replies for one page in one edit; False on an edit conflict (the caller reads again)."""
    code, lang, title = wiki.code, wiki.settings.language, page.title
    new_text, placed = page.text, []
    for thread in threads:
        comments = [Comment.from_json(i["comment"]) for i in thread]
        text = insert_thread_reply(new_text, comments, reply_text(ctx, lang, thread), bot_user=wiki.settings.username,
                                   facts=wiki_facts(wiki, ctx.memo, ctx.store))
        if text is None:
            report.problems.append(f"wiki {code} page {title!r}: comments {', '.join(c.id for c in comments)} are "
                                   f"no longer on the page; no reply")
            for item in thread:
                _skip_reply(writer, item, "comment gone")
            continue
        new_text = text
        placed.extend(thread)
    if not placed:
        return True
    tasks = ", ".join(dict.fromkeys(f"T{int(i['task'])}" for i in placed))
    try:
        outcome = writer.edit(code, page, new_text, _reply_summary(lang, tasks),
                              key=[reply_post_key(item) for item in placed], kind="reply")
    except (EditConflict, NotFound):
        return False
    except UncertainWriteError as exc:
        raise TransientError(f"wiki {code} page {title!r}: {exc}") from None
    if outcome.saved:
        report.saved.append((code, title, outcome.revid))
    return True


def _reply_summary(lang: str, tasks: str) -> str:
    # The count picks the case of "task" where the language inflects it (cs "do úkolu T1", "do úkolů T1, T2").
    return messages.msg(lang, "feedback-summary-reply", tasks, tasks.count(",") + 1)
