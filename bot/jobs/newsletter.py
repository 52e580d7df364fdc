"""Newsletters: draft from Phabricator, human approval on the wiki, publish, deliver, close the loop.

`ambassador newsletter draft|approve|publish|status --edition 2026-12 [--wiki cs]`
calls `command()`; the scheduler calls `run()` to draft last month's edition.

Exactly once. Every write has an idempotency key recorded in the store after it
succeeded; before a write whose key the store lacks, the target itself is
checked: talk pages for the hidden `<!-- ambassador-bot:key=... -->` marker the
message carries (read in the same batched request that resolves redirects), and
for a target that was being written when the process died (a "pending" mark put
in the store just before the write) also the page history for the bot's edit
with this edition's summary. Task comments are checked against the task's own
transactions by the bot. So a crash between a write and its record is repaired
on restart by recording, not by writing again.

Requests per delivered page: one batched read per 50 (500 with apihighlimits)
targets, then one edit each; no per-page reads. Missing user talk pages add one
batched `list=users` look-up per 50 (500) of them: as MassMessage does, the page
is created with the message when the account exists and skipped when it does not.
"""
from __future__ import annotations

import logging
import sys
import time
import urllib.parse
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton

from bot.domain import newsletter as nl
from bot.domain.tasks import publishable
from bot.domain.wikitext import bot_may_edit
from bot.errors import (Blocked, BotError, ConfigError, EditConflict, PartialData, ServerError, TargetError,
                        TransientError, UncertainWriteError)
from bot.jobs.base import JobContext, JobReport, preview_edit
from bot.render import messages
from bot.render.environment import Markup
from bot.render.escape import wikitext_block

log = logging.getLogger(__name__)

JOB = "newsletter"
ACTIONS = ("draft", "approve", "publish", "status")
CONFLICT_ATTEMPTS = 3
LANGUAGE_NAMES = {"cs": "Czech", "ko": "Korean", "en": "English"}

NS_EDITION = "newsletter-edition"    # "code:edition" -> {"draft_revid", "frozen": {...}}
NS_PENDING = "newsletter-pending"    # delivery key -> {"title", "at"}: written or about to be, not yet recorded
NS_FAILED = "newsletter-failed"      # delivery key -> {"title", "error", "at"}: retried on the next publish
RUN_PAGE_EVERY = 25                  # deliveries between two looks at the emergency-stop page
NS_USER_TALK = 3
NS_SCHEDULE = "newsletter-schedule"  # "code:edition" -> when the scheduled draft was made


def command(ctx: JobContext, action: str, edition: str, wikis) -> JobReport:
    """One CLI action on one edition for the given wikis."""
    settings = _settings(ctx)
    if action not in ACTIONS:
        raise ConfigError(f"newsletter: unknown action {action!r} (known: {', '.join(ACTIONS)})")
    try:
        ed = nl.parse_edition(edition)
    except nl.EditionError as exc:
        raise ConfigError(str(exc)) from None
    codes = list(dict.fromkeys(wikis))
    unknown = [c for c in codes if c not in settings.wikis]
    if unknown:
        raise ConfigError(f"{ctx.settings.path}: newsletters.wikis: no newsletter settings for wiki "
                          f"{', '.join(unknown)} (configured: {', '.join(settings.wikis)})")
    report = JobReport(f"newsletter {action} {ed.id}")
    cache: dict = {}
    for code in codes:
        try:
            {"draft": _draft, "approve": _approve, "publish": _publish, "status": _status}[action](
                ctx, settings, ed, code, report, cache)
        except Blocked as exc:
            report.problems.append(f"{exc}; no more edits on {code}")
        except PartialData as exc:
            report.problems.append(f"wiki {code}: {exc}; nothing drafted from partial data")
        except (TransientError, ServerError, TargetError) as exc:
            # One wiki's trouble (or Conduit's, for its task comments) never stops the other wiki.
            report.problems.append(f"wiki {code}: {exc}; run the command again later")
    log.info("%s", report.summary(), extra={"job": JOB})
    return report


def run(ctx: JobContext) -> JobReport:
    """Scheduled: from `draft_day` of a month on, draft the previous month's edition once per wiki."""
    report = JobReport(JOB)
    settings = ctx.settings.section("newsletters")
    if settings is None:
        return report
    cache: dict = {}
    for code in settings.wikis:
        tz = ctx.settings.wikis[code].timezone
        local = datetime.fromtimestamp(ctx.clock(), timezone.utc).astimezone(ZoneInfo(tz))
        if local.day < settings.draft_day:
            continue
        ed = nl.previous_edition(ctx.clock(), tz)
        if ctx.store.get(NS_SCHEDULE, f"{code}:{ed.id}"):
            continue
        before = len(report.problems)
        try:
            _draft(ctx, settings, ed, code, report, cache)
        except (Blocked, PartialData, TransientError) as exc:
            report.problems.append(f"wiki {code}: {exc}")
        if len(report.problems) == before and not ctx.dry_run:
            ctx.store.put(NS_SCHEDULE, f"{code}:{ed.id}", ctx.clock())
    return report


def _settings(ctx: JobContext):
    settings = ctx.settings.section("newsletters")
    if settings is None:
        raise ConfigError(f"{ctx.settings.path}: newsletters: the config has no 'newsletters' section")
    return settings


def _edition_key(code: str, ed: nl.Edition) -> str:
    return f"{code}:{ed.id}"


def _month(ed: nl.Edition, lang: str) -> str:
    return format_skeleton("yMMMM", ed.first_day, locale=lang)


def _name(settings, lang: str) -> str:
    return settings.names.get(lang) or messages.NEWSLETTER_NAME[lang]


def _summary(kind: str, lang: str, ed: nl.Edition, settings) -> str:
    return messages.NEWSLETTER_SUMMARY[kind][lang].format(edition=ed.id, name=_name(settings, lang),
                                                          month=_month(ed, lang))


def _check_run_page(ctx: JobContext, code: str, states: dict) -> str | None:
    ws = ctx.settings.wikis[code]
    if not ws.run_page:
        return None
    page = states[ws.run_page]
    if not page.exists or page.text.strip() != ws.run_value:
        return f"wiki {code}: emergency stop: {ws.run_page} does not say {ws.run_value!r}; no edits on {code}"
    return None


# -- draft -----------------------------------------------------------------------------------

def _draft(ctx, settings, ed, code, report, cache) -> None:
    wiki = ctx.wikis[code]
    ws = ctx.settings.wikis[code]
    nw = settings.wikis[code]
    lang = ws.language
    title = nw.title("draft_page", ed.id)
    label = f"wiki {code} page {title!r}"
    stored = ctx.store.get(NS_EDITION, _edition_key(code, ed), {})
    if stored.get("frozen"):
        report.held.append(f"{label}: edition {ed.id} is already being published; the draft is not regenerated")
        return
    intro_title = nw.title("intro_page", ed.id)
    wanted = [title] + ([intro_title] if intro_title else []) + ([ws.run_page] if ws.run_page else [])
    states = wiki.read_pages(wanted)
    stop = _check_run_page(ctx, code, states)
    if stop:
        report.problems.append(stop)
        return
    period = ed.period(ws.timezone)
    tasks = _period_tasks(ctx, settings, period[0], cache)
    sections = nl.build_sections(tasks, period, settings.sections, resolved_statuses=settings.resolved_statuses,
                                 progress_statuses=settings.progress_statuses,
                                 max_per_section=settings.max_tasks_per_section)
    intro = None
    if intro_title and states[intro_title].exists and states[intro_title].text.strip():
        # The ambassador's text is shown as text: it cannot add templates, links or signatures.
        intro = Markup(wikitext_block(states[intro_title].text.strip()))
    text = ctx.renderer.render("newsletter_draft", lang, "wiki", marker=Markup(nl.STATUS_MARKER.format(status=nl.DRAFT)),
                               intro=intro, sections=sections)
    if lang == "cs":
        text = nl.czech_typography(text)
    page = states[title]
    if page.exists and not bot_may_edit(page.text, ws.username):
        report.held.append(f"{label}: the page excludes the bot ({{{{nobots}}}}/{{{{bots}}}}); left alone")
        return
    if page.exists:
        if page.text == text:
            if not ctx.dry_run and stored.get("draft_revid") != page.revid:
                # Our own save whose record was lost (crash, uncertain write): adopt it.
                ctx.store.put(NS_EDITION, _edition_key(code, ed), {**stored, "draft_revid": page.revid})
            report.unchanged += 1
            return
        status = nl.draft_status(page.text)
        if status == nl.READY:
            report.held.append(f"{label}: the draft is marked ready; not regenerated")
            return
        if page.revid != stored.get("draft_revid"):
            report.held.append(f"{label}: people edited the draft since the bot wrote it; not regenerated "
                               f"(move or delete the page to draft afresh)")
            return
    if ctx.dry_run:
        preview_edit(ctx, report, code, title, page.text, text)
        return
    key = f"nld:{ed.id}:{code}:{nl.body_hash(text)}:{page.revid}"
    try:
        # merge_ok=False: a draft merged with a person's edit is theirs now, never regenerated over
        revid = wiki.save(page, text, _summary("draft", lang, ed, settings), merge_ok=False)
    except EditConflict:
        report.held.append(f"{label}: edited while the bot was drafting; left to the people editing it")
        return
    except UncertainWriteError as exc:
        report.problems.append(f"{label}: {exc}; run draft again to check")
        return
    except TargetError as exc:
        report.problems.append(str(exc))
        return
    ctx.store.record_post(key, "edit", f"{code}:{title}", revid)
    ctx.store.put(NS_EDITION, _edition_key(code, ed), {**stored, "draft_revid": revid})
    report.saved.append((code, title, revid))


def _period_tasks(ctx, settings, since: int, cache: dict):
    """Tasks of the configured projects modified since `since`, plus those in progress now."""
    key = ("tasks", since)
    if key in cache:
        return cache[key]
    phids = ctx.phab.project_phids(settings.projects)
    tasks = {}
    # Conduit's `projects` constraint is an AND; one query per project gives the union.
    for slug in settings.projects:
        for t in ctx.phab.search_tasks(projects=[phids[slug]], modified_start=since):
            tasks[t.id] = t
        for t in ctx.phab.search_tasks(projects=[phids[slug]], statuses=settings.progress_statuses):
            tasks[t.id] = t
    cache[key] = list(tasks.values())
    return cache[key]


# -- approval ----------------------------------------------------------------------------------

def _history(wiki, title: str) -> tuple[list[nl.Revision], bool]:
    revisions, complete = wiki.page_history(title, limit=50, content=True)
    history = [nl.Revision(r["revid"], r["user"], r["timestamp"], r["text"], r["comment"]) for r in revisions]
    return history, complete


def _approvers(ctx, settings, code) -> tuple[str, ...]:
    listed = settings.wikis[code].approvers
    # The bot approves only through `newsletter approve`, which an operator runs.
    return (*listed, ctx.settings.wikis[code].username) if listed else ()


def _approval(wiki, title: str, approvers: tuple[str, ...] = ()) -> nl.Approval:
    history, complete = _history(wiki, title)
    try:
        return nl.approval(history, complete=complete, approvers=approvers)
    except ValueError:
        # Fifty revisions, all "ready": the approving one is further back; read the whole history.
        revisions, complete = wiki.page_history(title, limit=5000, content=True)
        history = [nl.Revision(r["revid"], r["user"], r["timestamp"], r["text"], r["comment"]) for r in revisions]
        try:
            return nl.approval(history, complete=complete, approvers=approvers)
        except ValueError:
            return nl.Approval("too-long", history[0])


def _describe(a: nl.Approval, title: str) -> str:
    if a.state == "missing":
        return f"{title}: no draft yet (run `newsletter draft`)"
    if a.state == "no-marker":
        return (f"{title}: the status marker is missing or repeated; put back exactly one "
                f"{nl.STATUS_MARKER.format(status='draft')}")
    if a.state == "draft":
        return f"{title}: not approved yet (marker says {nl.draft_status(a.current.text)!r}; change it to 'ready')"
    if a.state == "approved":
        return f"{title}: approved in revision {a.approving.revid} by {a.approving.user}"
    if a.state == "too-long":
        return (f"{title}: more than 5000 revisions all say 'ready', so who approved cannot be told; "
                f"set it to 'draft' and back to 'ready'")
    if a.state == "not-approver":
        return (f"{title}: set to 'ready' in revision {a.approving.revid} by {a.approving.user}, who is not "
                f"among the approvers; an approver must set it to 'ready'")
    return (f"{title}: changed after approval (revision {a.approving.revid}) by {', '.join(a.changed_by)}; "
            f"it needs approving again")


def _set_marker(ctx, wiki, title, status, summary_kind, lang, ed, settings, report,
                expect_revid: int | None = None) -> int | None:
    """Set the draft's status marker; the revision id that says it, or None.

    With `expect_revid`, only over that revision: the operator approves the text they
    were shown, not an edit that lands meanwhile (no retry on fresh text then).
    """
    for _ in range(CONFLICT_ATTEMPTS):
        page = wiki.read_pages([title])[title]
        if expect_revid is not None and page.revid != expect_revid:
            report.problems.append(f"wiki {wiki.code} page {title!r}: edited (revision {page.revid}) since "
                                   f"revision {expect_revid} was checked; status not set to {status}, run it again")
            return None
        if page.exists and not bot_may_edit(page.text, ctx.settings.wikis[wiki.code].username):
            report.held.append(f"wiki {wiki.code} page {title!r}: excludes the bot; status not set to {status}")
            return None
        new_text = nl.set_status(page.text, status)
        if new_text == page.text:
            return page.revid
        if ctx.dry_run:
            preview_edit(ctx, report, wiki.code, title, page.text, new_text)
            return page.revid
        try:
            revid = wiki.save(page, new_text, _summary(summary_kind, lang, ed, settings),
                              merge_ok=expect_revid is None)
        except EditConflict as exc:
            if exc.saved_revid and status == nl.READY:
                # Our "ready" was merged into text nobody checked: take it back at once.
                _set_marker(ctx, wiki, title, nl.DRAFT, "reset", lang, ed, settings, report,
                            expect_revid=exc.saved_revid)
            continue    # with expect_revid, the re-read sees the other edit (or the merge) and stops
        ctx.store.record_post(f"nls:{ed.id}:{wiki.code}:{status}:{revid}", "edit", f"{wiki.code}:{title}", revid)
        report.saved.append((wiki.code, title, revid))
        return revid
    report.problems.append(f"wiki {wiki.code} page {title!r}: still in edit conflict; try again")
    return None


def _approve(ctx, settings, ed, code, report, cache) -> None:
    wiki = ctx.wikis[code]
    lang = ctx.settings.wikis[code].language
    title = settings.wikis[code].title("draft_page", ed.id)
    a = _approval(wiki, title, _approvers(ctx, settings, code))
    if a.state in ("missing", "no-marker"):
        report.problems.append(f"wiki {code}: {_describe(a, title)}")
        return
    if a.state == "approved":
        report.unchanged += 1
        ctx.out.write(f"{code}: {_describe(a, title)}\n")
        return
    expect = a.current.revid
    if a.state in ("changed", "not-approver", "too-long"):
        # Approving means a new revision that switches the marker to ready: go via draft.
        expect = _set_marker(ctx, wiki, title, nl.DRAFT, "reset", lang, ed, settings, report, expect_revid=expect)
        if expect is None:
            return
    if _set_marker(ctx, wiki, title, nl.READY, "approve", lang, ed, settings, report, expect_revid=expect) is not None:
        ctx.out.write(f"{code}: approved the current text of {title} (revision {a.current.revid}, "
                      f"last edited by {a.current.user})\n")


# -- publish -----------------------------------------------------------------------------------

def _publish(ctx, settings, ed, code, report, cache) -> None:
    wiki = ctx.wikis[code]
    ws = ctx.settings.wikis[code]
    nw = settings.wikis[code]
    lang = ws.language
    draft_title, page_title = nw.title("draft_page", ed.id), nw.title("page", ed.id)
    archive_title = nw.title("archive_page", ed.id)
    titles = [draft_title, page_title, nw.subscribers] + ([archive_title] if archive_title else []) + \
        ([ws.run_page] if ws.run_page else [])
    states = wiki.read_pages(titles)
    stop = _check_run_page(ctx, code, states)
    if stop:
        report.problems.append(stop)
        return
    stored = ctx.store.get(NS_EDITION, _edition_key(code, ed), {})
    frozen = stored.get("frozen")
    if frozen is None:
        a = _approval(wiki, draft_title, _approvers(ctx, settings, code))
        if a.state in ("changed", "not-approver"):
            # Back to draft, so that one edit to `ready` by an approver approves this text.
            report.held.append(f"wiki {code}: {_describe(a, draft_title)}; marker set back to draft")
            _set_marker(ctx, wiki, draft_title, nl.DRAFT, "reset", lang, ed, settings, report)
            return
        if not a.approved:
            report.held.append(f"wiki {code}: {_describe(a, draft_title)}; nothing published")
            return
        frozen = {"revid": a.approving.revid, "hash": nl.body_hash(a.approving.text),
                  "body": nl.draft_body(a.approving.text), "approved_by": a.approving.user, "at": ctx.clock()}
        if not ctx.dry_run:
            # From here on the edition is this text, whatever happens to the draft later.
            ctx.store.put(NS_EDITION, _edition_key(code, ed), {**stored, "frozen": frozen})
    else:
        draft = states[draft_title]
        if draft.exists and nl.body_hash(draft.text) != frozen["hash"]:
            report.held.append(f"wiki {code}: {draft_title} changed after publication began; deliveries keep "
                               f"the approved revision {frozen['revid']}")
    if not _publish_page(ctx, settings, ed, code, states[page_title], frozen, report):
        return
    if archive_title:
        _link_from_archive(ctx, settings, ed, code, states[archive_title], page_title, report)
    _deliver(ctx, settings, ed, code, states[nw.subscribers], page_title, frozen, report)
    if settings.comment_tasks:
        _comment_tasks(ctx, settings, ed, code, page_title, frozen, report, cache)


def _publish_page(ctx, settings, ed, code, page, frozen, report) -> bool:
    wiki = ctx.wikis[code]
    lang = ctx.settings.wikis[code].language
    key = nl.page_key(ed.id, code)
    label = f"wiki {code} page {page.title!r}"
    if ctx.store.has_post(key):
        return True
    if page.exists:
        if nl.has_key_marker(page.text, key):
            ctx.store.record_post(key, "edit", f"{code}:{page.title}", page.revid)
            return True
        report.problems.append(f"{label}: exists and was not written by the bot; not overwritten, nothing "
                               f"delivered (move it away or change newsletters.wikis.{code}.page)")
        return False
    text = ctx.renderer.render("newsletter_page", lang, "wiki", marker=Markup(nl.key_marker(key)),
                               body=Markup(frozen["body"]))
    if ctx.dry_run:
        ctx.out.write(f"would create {code}:{page.title}:\n{text}\n")
        report.would_save.append((code, page.title))
        return True
    try:
        revid = wiki.save(page, text, _summary("publish", lang, ed, settings))
    except UncertainWriteError as exc:
        report.problems.append(f"{label}: {exc}; run publish again (it checks the page first)")
        return False
    except TargetError as exc:
        # NotFound(articleexists): created meanwhile, possibly by our own lost answer; the next run looks.
        report.problems.append(f"{exc}; nothing delivered")
        return False
    ctx.store.record_post(key, "edit", f"{code}:{page.title}", revid)
    report.saved.append((code, page.title, revid))
    return True


def _link_from_archive(ctx, settings, ed, code, page, page_title, report) -> None:
    wiki = ctx.wikis[code]
    lang = ctx.settings.wikis[code].language
    key = f"nla:{ed.id}:{code}"
    if ctx.store.has_post(key):
        return
    line = ctx.renderer.render("newsletter_archive", lang, "wiki",
                               link=Markup(f"[[{page_title}|{_month(ed, lang)}]]"))
    for _ in range(CONFLICT_ATTEMPTS):
        if page.exists and not bot_may_edit(page.text, ctx.settings.wikis[code].username):
            report.held.append(f"wiki {code} page {page.title!r}: excludes the bot; archive link not added")
            return
        if _links_to(page.text, page_title):
            ctx.store.record_post(key, "edit", f"{code}:{page.title}", page.revid or None)
            return
        new_text = (page.text.rstrip("\n") + "\n" if page.text.strip() else "") + line
        if ctx.dry_run:
            preview_edit(ctx, report, code, page.title, page.text, new_text)
            return
        try:
            revid = wiki.save(page, new_text, _summary("archive", lang, ed, settings))
        except EditConflict:
            page = wiki.read_pages([page.title])[page.title]
            continue
        except (TargetError, UncertainWriteError) as exc:
            # The link is a convenience; its absence never blocks delivery. Next run checks the page again.
            report.problems.append(f"wiki {code} page {page.title!r}: archive link not added: {exc}")
            return
        ctx.store.record_post(key, "edit", f"{code}:{page.title}", revid)
        report.saved.append((code, page.title, revid))
        return
    report.problems.append(f"wiki {code} page {page.title!r}: archive link not added: edit conflicts")


def _links_to(text: str, title: str) -> bool:
    import mwparserfromhell
    want = nl.normal_title(title)
    return any(nl.normal_title(str(link.title)) == want for link in mwparserfromhell.parse(text).filter_wikilinks())


# -- delivery ------------------------------------------------------------------------------------

class Progress:
    """done/total, rate and ETA on a terminal; one summary log line otherwise."""

    def __init__(self, label: str, total: int, stream=None, clock=time.monotonic):
        self.label, self.total, self.done = label, total, 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.clock = clock
        self.started = clock()

    def tick(self, n: int = 1) -> None:
        self.done += n
        if self.tty:
            self.stream.write("\r" + self.line() + " " * 4)
            self.stream.flush()

    @property
    def rate(self) -> float:
        elapsed = self.clock() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        rate = self.rate
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        return f"{self.label}: {self.done}/{self.total} delivered, {rate:.1f}/s, ETA {eta:.0f}s"

    def finish(self, summary: str) -> None:
        if self.tty:
            self.stream.write("\n")
        log.info("%s in %.1fs (%.1f pages/s)", summary, self.clock() - self.started, self.rate, extra={"job": JOB})


@dataclass
class _Target:
    title: str
    key: str
    text: str
    asked: list
    exists: bool = True          # False: a missing talk page, created by the message
    ns: int | None = None


@dataclass
class _Outcome:
    kind: str                    # saved | found (already there) | held (skipped) | failed
    revid: int | None = None
    created: bool = False
    why: str = ""


def _is_talk(ns) -> bool:
    return isinstance(ns, int) and ns > 0 and ns % 2 == 1


def _user_of(title: str) -> str:
    """The account a user talk page belongs to: `Diskuse s wikipedistou:Jana/Archiv` -> `Jana`."""
    return title.split(":", 1)[-1].split("/", 1)[0]


def _deliver(ctx, settings, ed, code, subscribers, page_title, frozen, report) -> None:
    wiki = ctx.wikis[code]
    ws = ctx.settings.wikis[code]
    nw = settings.wikis[code]
    lang = ws.language
    if not subscribers.exists:
        report.problems.append(f"wiki {code}: the subscriber list {nw.subscribers!r} does not exist; nothing delivered")
        return
    host = urllib.parse.urlparse(ws.api_url).netloc
    dl = nl.parse_delivery_list(subscribers.text, local_sites=[host, host.split(":")[0]])
    for problem in dl.problems:
        report.held.append(f"wiki {code} list {nw.subscribers!r}: {problem}")
    resolved = wiki.read_targets(dl.targets, category=nw.optout_category)
    unique: dict[str, _Target] = {}
    unusable = skipped = 0     # entries that name no deliverable page; pages that opted out
    for asked in dl.targets:
        r = resolved[asked]
        where = f"wiki {code} target {asked!r}"
        if r["invalid"]:
            report.held.append(f"{where}: invalid title ({r['invalid']}); skipped")
        elif r["double_redirect"]:
            report.held.append(f"{where}: redirects to another redirect ({r['title']!r}); skipped")
        elif not r["exists"] and not _is_talk(r["ns"]):
            report.held.append(f"{where}: the page does not exist and is not a talk page; skipped")
        else:
            final = nl.normal_title(r["title"])
            if final in unique:
                unique[final].asked.append(asked)    # listed twice, or reached again via a redirect
            else:
                unique[final] = _Target(r["title"], nl.delivery_key(ed.id, code, r["title"]), r["text"], [asked],
                                        exists=r["exists"], ns=r["ns"])
            continue
        unusable += 1
    # MassMessage's rule: a missing user talk page is created, unless the account does not exist ("skipnouser").
    unborn = {final: t for final, t in unique.items()
              if not t.exists and t.ns == NS_USER_TALK and not ctx.store.has_post(t.key)}
    if unborn:
        users = wiki.users_exist(_user_of(t.title) for t in unborn.values())
        for final, target in unborn.items():
            if _user_of(target.title) not in users:
                report.held.append(f"wiki {code} target {target.title!r}: no such user "
                                   f"{_user_of(target.title)!r}; skipped, the page is not created")
                del unique[final]
                unusable += len(target.asked)
    pending = ctx.store.items(NS_PENDING)
    todo: list[_Target] = []
    already = 0
    for target in unique.values():
        where = f"wiki {code} target {target.title!r}"
        if ctx.store.has_post(target.key):
            already += 1
        elif nl.has_key_marker(target.text, target.key) or nl.has_edition_marker(target.text, ed.id, code):
            _record_delivery(ctx, code, target, None)
            already += 1
        elif nw.optout_category and _in_optout(resolved, target):
            report.held.append(f"{where}: in the opt-out category; skipped")
            skipped += 1
        elif not bot_may_edit(target.text, ws.username):
            report.held.append(f"{where}: excludes the bot ({{{{nobots}}}}/{{{{bots}}}}); skipped")
            skipped += 1
        else:
            todo.append(target)
    # A target that was being written when the process died: look at its history before anything else.
    summary = _summary("message", lang, ed, settings)
    # A page that is still missing has no history to look at; posting creates it with createonly.
    interrupted = [t for t in todo if t.key in pending and t.exists]
    for target in interrupted:
        if _delivered_per_history(wiki, target.title, ws.username, summary):
            _record_delivery(ctx, code, target, None)
            todo.remove(target)
            already += 1
    heading = messages.NEWSLETTER_HEADING[lang].format(name=_name(settings, lang), month=_month(ed, lang))
    progress = Progress(f"wiki {code} newsletter {ed.id}", len(unique) - skipped, clock=time.monotonic)
    progress.done = already
    failed = created = 0
    for number, target in enumerate(todo):
        where = f"wiki {code} page {target.title!r}"
        if number and number % RUN_PAGE_EVERY == 0 and ws.run_page and not ctx.dry_run:
            # A long delivery must notice the emergency stop, not only its start.
            stop = _check_run_page(ctx, code, wiki.read_pages([ws.run_page]))
            if stop:
                report.problems.append(f"{stop}; delivery stopped after {number} of {len(todo)}")
                break
        message = ctx.renderer.render(
            "newsletter_message", lang, "wiki", marker=Markup(nl.key_marker(target.key)), body=Markup(frozen["body"]),
            page_link=Markup(f"[[{page_title}]]"), subscribers_link=Markup(f"[[{nw.subscribers}]]"))
        if ctx.dry_run:
            if target.exists:
                ctx.out.write(f"would post to {code}:{target.title}: section {heading!r} ({len(message)} characters)\n")
            else:
                ctx.out.write(f"would create {code}:{target.title} with section {heading!r} "
                              f"({len(message)} characters)\n")
            report.would_save.append((code, target.title))
            continue
        outcome = _send(ctx, wiki, target, heading, message, summary, ws.username, nw.optout_category, ed, code)
        if outcome.kind == "saved":
            _record_delivery(ctx, code, target, outcome.revid)
            report.saved.append((code, target.title, outcome.revid))
            created += outcome.created
            progress.tick()
        elif outcome.kind == "found":
            _record_delivery(ctx, code, target, None)
            progress.tick()
        elif outcome.kind == "held":
            report.held.append(f"{where}: {outcome.why}")
            skipped += 1
        else:
            report.problems.append(f"{where}: {outcome.why}")
            failed += 1
    if not ctx.dry_run:
        progress.finish(f"wiki {code} newsletter {ed.id}: {progress.done} of {progress.total} delivered "
                        f"({already} before this run, {created} talk pages created), {skipped} opted out, "
                        f"{unusable} unusable entries, {failed} failed")


def _send(ctx, wiki, target: _Target, heading, message, summary, username, optout, ed, code) -> _Outcome:
    """Post one message, exactly once; a page missing at the read is created only if it is still missing.

    Raises Blocked (the wiki's delivery stops).
    """
    ctx.store.put(NS_PENDING, target.key, {"title": target.title, "at": ctx.clock()})
    try:
        revid = wiki.new_section(target.title, heading, message, summary, createonly=not target.exists)
        return _Outcome("saved", revid, created=not target.exists)
    except Blocked:
        ctx.store.delete(NS_PENDING, target.key)
        raise
    except UncertainWriteError as exc:
        # Keep the pending mark: the next run looks at the page's history before writing.
        if _delivered_now(wiki, target, username, summary):
            return _Outcome("found")
        return _Outcome("failed", why=f"{exc}; checked on the next run")
    except (TargetError, TransientError, ServerError) as exc:
        if target.exists or getattr(exc, "code", None) != "articleexists":
            # Refused by the server (protected, abuse filter, spam blacklist, maxlag): nothing was written.
            return _refused(ctx, target, str(exc))
    # Created since our read, by a person or by an earlier attempt of ours whose answer was lost:
    # look at it as at any existing page (and its history) before posting to it.
    try:
        state = wiki.read_targets([target.title], category=optout)[target.title]
    except BotError as exc:
        return _Outcome("failed", why=f"created meanwhile, then not readable ({exc}); checked on the next run")
    if not state["exists"] or nl.normal_title(state["title"]) != nl.normal_title(target.title):
        what = "a redirect" if state["exists"] else "a page deleted again"
        return _refused(ctx, target, f"created meanwhile as {what}")
    if nl.has_key_marker(state["text"], target.key) or nl.has_edition_marker(state["text"], ed.id, code) \
            or _delivered_per_history(wiki, target.title, username, summary):
        return _Outcome("found")
    if state["in_category"]:
        ctx.store.delete(NS_PENDING, target.key)
        return _Outcome("held", why="created meanwhile, in the opt-out category; skipped")
    if not bot_may_edit(state["text"], username):
        ctx.store.delete(NS_PENDING, target.key)
        return _Outcome("held", why="created meanwhile, excluding the bot ({{nobots}}/{{bots}}); skipped")
    # Now an existing page: createonly is off, so this cannot come back here.
    return _send(ctx, wiki, replace(target, exists=True, text=state["text"]), heading, message, summary, username,
                 optout, ed, code)


def _refused(ctx, target: _Target, error: str) -> _Outcome:
    ctx.store.delete(NS_PENDING, target.key)
    ctx.store.put(NS_FAILED, target.key, {"title": target.title, "error": error, "at": ctx.clock()})
    return _Outcome("failed", why=f"{error}; retried on the next run")


def _in_optout(resolved: dict, target: _Target) -> bool:
    return any(resolved[a]["in_category"] for a in target.asked)


def _record_delivery(ctx, code, target: _Target, revid) -> None:
    ctx.store.record_post(target.key, "newsletter-message", f"{code}:{target.title}", revid)
    ctx.store.delete(NS_PENDING, target.key)
    ctx.store.delete(NS_FAILED, target.key)


def _delivered_per_history(wiki, title: str, username: str, summary: str) -> bool:
    revisions, _ = wiki.page_history(title, limit=50)
    return any(r["user"] == username and summary in r["comment"] for r in revisions)


def _delivered_now(wiki, target: _Target, username: str, summary: str) -> bool:
    try:
        state = wiki.read_targets([target.title])[target.title]
        return nl.has_key_marker(state["text"], target.key) or _delivered_per_history(wiki, target.title, username,
                                                                                      summary)
    except BotError:
        return False


# -- task comments ------------------------------------------------------------------------------------

def _comment_tasks(ctx, settings, ed, code, page_title, frozen, report, cache) -> None:
    ids = nl.mentioned_task_ids(frozen["body"])
    if not ids:
        return
    tasks = publishable(ctx.phab.search_tasks(task_ids=ids))   # never announce a private task
    url = nl.page_url(ctx.settings.wikis[code].api_url, page_title)
    lang = ctx.settings.wikis[code].language
    # Our own words and a URL we built: trusted, so no Remarkup breakers inside them.
    text = ctx.renderer.render("newsletter_comment", "en", "remarkup", language=Markup(LANGUAGE_NAMES.get(lang, lang)),
                               name=Markup(_name(settings, "en")), edition=Markup(ed.id), url=Markup(url))
    bot_phid = None
    for task in sorted(tasks, key=lambda t: t.id):
        key = nl.comment_key(ed.id, code, task.id)
        if ctx.store.has_post(key):
            continue
        if ctx.dry_run:
            ctx.out.write(f"would comment on T{task.id}: {text.strip()}\n")
            report.would_save.append(("phab", f"T{task.id}"))
            continue
        try:
            if bot_phid is None:
                bot_phid = _bot_phid(ctx)
            # The task itself is the witness: a comment of ours with this edition's link means done.
            for xact in ctx.phab.transactions(f"T{task.id}", author_phids=[bot_phid]):
                if any(url in (c.get("content") or {}).get("raw", "") for c in xact.get("comments") or []):
                    ctx.store.record_post(key, "task-comment", f"T{task.id}", xact.get("phid"))
                    break
            else:
                phids = ctx.phab.comment(task.id, text)
                ctx.store.record_post(key, "task-comment", f"T{task.id}", phids[0] if phids else None)
                report.saved.append(("phab", f"T{task.id}", 0))
        except (UncertainWriteError, PartialData, TransientError, ServerError, TargetError) as exc:
            report.problems.append(f"T{task.id}: comment for {code} edition {ed.id}: {exc}; checked on the next run")


def _bot_phid(ctx) -> str:
    return ctx.bot_phid()


# -- status ---------------------------------------------------------------------------------------------

def _status(ctx, settings, ed, code, report, cache) -> None:
    wiki = ctx.wikis[code]
    nw = settings.wikis[code]
    draft_title = nw.title("draft_page", ed.id)
    out = ctx.out
    stored = ctx.store.get(NS_EDITION, _edition_key(code, ed), {})
    frozen = stored.get("frozen")
    a = _approval(wiki, draft_title, _approvers(ctx, settings, code))
    out.write(f"{code} {ed.id}: draft {_describe(a, draft_title)}\n")
    if not frozen:
        out.write(f"{code} {ed.id}: not published\n")
        return
    out.write(f"{code} {ed.id}: publishing the text approved in revision {frozen['revid']} by {frozen['approved_by']}"
              f"; page {nw.title('page', ed.id)} "
              f"{'created' if ctx.store.has_post(nl.page_key(ed.id, code)) else 'not created yet'}\n")
    prefix = f"nl:{ed.id}:{code}:"
    delivered = [p for p in ctx.store.posts("newsletter-message") if p.key.startswith(prefix)]
    failed = {k: v for k, v in ctx.store.items(NS_FAILED).items() if k.startswith(prefix)}
    pending = {k: v for k, v in ctx.store.items(NS_PENDING).items() if k.startswith(prefix)}
    comments = [p for p in ctx.store.posts("task-comment") if p.key.startswith(f"nlc:{ed.id}:{code}:")]
    out.write(f"{code} {ed.id}: {len(delivered)} delivered, {len(failed)} failed (retried on the next publish), "
              f"{len(pending)} interrupted, {len(comments)} task comments\n")
    for value in failed.values():
        out.write(f"  failed: {value['title']}: {value['error']}\n")
    report.unchanged += 1
