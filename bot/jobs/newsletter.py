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
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_skeleton

from bot import i18n
from bot.domain import newsletter as nl
from bot.domain.tasks import Transaction, publishable
from bot.errors import (Blocked, BotError, ConfigError, EditConflict, PartialData, Protected, ServerError,
                        TargetError, TransientError, UncertainWriteError)
from bot.jobs import newsletter_text as words
from bot.jobs.base import JobContext, JobReport
from bot.jobs.writer import NOBOTS, STOPPED, WOULD_SAVE, Writer
from bot.jobs.deployment_status import split_done
from bot.render import messages
from bot.render.environment import Markup
from bot.render.escape import wikitext_block, wikitext_inline

log = logging.getLogger(__name__)

JOB = "newsletter"
ACTIONS = ("draft", "approve", "publish", "status")
CONFLICT_ATTEMPTS = 3
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

NS_EDITION = "newsletter-edition"    # "code:edition" -> {"draft_revid", "frozen": {...}}
NS_PENDING = "newsletter-pending"    # delivery key -> {"title", "at"}: written or about to be, not yet recorded
NS_FAILED = "newsletter-failed"      # delivery key -> {"title", "error", "at"}: retried on the next publish
RUN_PAGE_EVERY = 25                  # deliveries between two looks at the emergency-stop page
NS_USER_TALK = 3
NS_SCHEDULE = "newsletter-schedule"  # "code:edition" -> when the scheduled draft was made
NS_TARGET = "newsletter-target"      # delivery key (or nlx:… for unusable entries) -> what became of the entry
REPORT_EVERY_SECONDS = 60            # the report page is saved at most this often while delivery runs
LOG_EVERY_SECONDS, LOG_EVERY_TARGETS = 30, 50


def command(ctx: JobContext, action: str, edition: str, wikis, *, force: bool = False) -> JobReport:
    """One CLI action on one edition for the given wikis (publish: the wikis concurrently).

    `force` (CLI `--force`): publish an edition nobody edited or that says nothing happened.
    """
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
    cache: dict = {"lock": threading.Lock()}
    step = {"draft": _draft, "approve": _approve, "publish": _publish, "status": _status}[action]

    def one(code, part):
        try:
            if action in ("approve", "publish"):
                step(ctx, settings, ed, code, part, cache, force=force)
            else:
                step(ctx, settings, ed, code, part, cache)
        except Blocked as exc:
            part.problems.append(f"{exc}; no more edits on {code}")
        except PartialData as exc:
            part.problems.append(f"wiki {code}: {exc}; nothing drafted from partial data")
        except (TransientError, ServerError, TargetError) as exc:
            # One wiki's trouble (or Conduit's, for its task comments) never stops the other wiki.
            part.problems.append(f"wiki {code}: {exc}; run the command again later")

    _per_wiki(ctx, codes, one, report, concurrent=action == "publish")
    log.info("%s", report.summary(), extra={"job": JOB})
    return report


def _per_wiki(ctx, codes, one, report, *, concurrent: bool) -> None:
    """Run `one(code, part_report)` per wiki, in threads when `concurrent`; merge the parts in wiki order.

    Each wiki has its own WikiClient (own pywikibot site, throttle and maxlag); they log in one after the
    other first, because pywikibot reads its throttle settings from module globals while a site is made.
    """
    parts = {code: JobReport(report.job) for code in codes}
    if concurrent and len(codes) > 1:
        for code in codes:
            try:
                getattr(ctx.wikis[code], "site", None)
            except BotError:
                pass   # the thread meets the same error and reports it
        with ThreadPoolExecutor(max_workers=len(codes), thread_name_prefix="newsletter") as pool:
            for future in [pool.submit(one, code, parts[code]) for code in codes]:
                future.result()
    else:
        for code in codes:
            one(code, parts[code])
    for code in codes:
        part = parts[code]
        report.saved += part.saved
        report.would_save += part.would_save
        report.unchanged += part.unchanged
        report.problems += part.problems
        report.held += part.held


def run(ctx: JobContext) -> JobReport:
    """Scheduled (the worker): per wiki, concurrently,

    * from `draft_day` of a month on, draft the previous month's edition once;
    * publish and deliver every edition approved on the wiki (by a listed approver where
      `approvers` is set) whose send time has come, and finish an interrupted delivery.
    """
    report = JobReport(JOB)
    settings = ctx.settings.newsletters
    if settings is None:
        return report
    cache: dict = {"lock": threading.Lock()}

    def one(code, part):
        tz = ctx.settings.wikis[code].timezone
        local = datetime.fromtimestamp(ctx.clock(), timezone.utc).astimezone(ZoneInfo(tz))
        ed = nl.previous_edition(ctx.clock(), tz)
        if local.day >= settings.draft_day and not ctx.store.get(NS_SCHEDULE, f"{code}:{ed.id}"):
            before = len(part.problems)
            try:
                _draft(ctx, settings, ed, code, part, cache)
            except (Blocked, PartialData, TransientError) as exc:
                part.problems.append(f"wiki {code}: {exc}")
            if len(part.problems) == before and not ctx.dry_run:
                ctx.store.put(NS_SCHEDULE, f"{code}:{ed.id}", ctx.clock())
        for edition in _open_editions(ctx, code, ed):
            try:
                _publish(ctx, settings, edition, code, part, cache, worker=True)
            except Blocked as exc:
                part.problems.append(f"{exc}; no more edits on {code}")
                return
            except (PartialData, TransientError, ServerError, TargetError) as exc:
                part.problems.append(f"wiki {code} edition {edition.id}: {exc}; tried again on the next run")

    _per_wiki(ctx, list(settings.wikis), one, report, concurrent=True)
    return report


def _open_editions(ctx, code: str, latest: nl.Edition) -> list[nl.Edition]:
    """Editions the worker looks at on this wiki: last month's, and every other one the bot drafted or
    began publishing that is not completely delivered yet."""
    found = {latest.id: latest}
    for key, value in ctx.store.items(NS_EDITION).items():
        wiki_code, _, edition = key.partition(":")
        if wiki_code == code and not (value or {}).get("done"):
            try:
                found.setdefault(edition, nl.parse_edition(edition))
            except nl.EditionError:
                continue
    return [found[k] for k in sorted(found)]


def _settings(ctx: JobContext):
    settings = ctx.settings.newsletters
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


def _check_run_page(writer: Writer, code: str, states: dict) -> str | None:
    stop = writer.note_run_page(code, states)
    return f"{stop}; no edits on {code}" if stop else None


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
    writer = Writer(ctx, report)
    wanted = [title] + ([intro_title] if intro_title else []) + writer.run_page_titles(code)
    states = wiki.read_pages(wanted)
    stop = _check_run_page(writer, code, states)
    if stop:
        report.problems.append(stop)
        return
    period = ed.period(ws.timezone)
    tasks = _period_tasks(ctx, settings, period[0], cache)
    sections = nl.build_sections(tasks, period, settings.sections, resolved_statuses=settings.resolved_statuses,
                                 progress_statuses=settings.progress_statuses,
                                 max_per_section=settings.max_tasks_per_section)
    with cache["lock"]:     # deployment.newsletters: live vs merged-but-not-yet-live (docs/deployment.md)
        sections = split_done(ctx, code, sections, report.problems)
    intro = None
    if intro_title and states[intro_title].exists and states[intro_title].text.strip():
        # The ambassador's text is shown as text: it cannot add templates, links or signatures.
        intro = Markup(wikitext_block(states[intro_title].text.strip()))
    text = _typeset_draft(ctx, lang, sections, marker=Markup(nl.STATUS_MARKER.format(status=nl.DRAFT)),
                          intro=intro, help=Markup(_help(ctx, settings, ed, code, "draft")),
                          talk_page=_talk_page(settings, ed, code))
    page = states[title]
    if writer.refusal(code, page) == NOBOTS:
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
    key = f"nld:{ed.id}:{code}:{nl.body_hash(text)}:{page.revid}"
    try:
        # merge_ok=False: a draft merged with a person's edit is theirs now, never regenerated over
        outcome = writer.edit(code, page, text, _summary("draft", lang, ed, settings), key=key, merge_ok=False)
    except EditConflict:
        report.held.append(f"{label}: edited while the bot was drafting; left to the people editing it")
        return
    except UncertainWriteError as exc:
        report.problems.append(f"{label}: {exc}; run draft again to check")
        return
    except TargetError as exc:
        report.problems.append(str(exc))
        return
    if outcome.status == WOULD_SAVE:
        return
    ctx.store.put(NS_EDITION, _edition_key(code, ed), {**stored, "draft_revid": outcome.revid})
    report.saved.append((code, title, outcome.revid))


def _period_tasks(ctx, settings, since: int, cache: dict):
    """Tasks of the configured projects modified since `since`, plus those in progress now."""
    with cache.setdefault("lock", threading.Lock()):
        return _period_tasks_locked(ctx, settings, since, cache)


def _period_tasks_locked(ctx, settings, since: int, cache: dict):
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
    return _approval_and_history(wiki, title, approvers)[0]


def _approval_and_history(wiki, title: str, approvers: tuple[str, ...] = ()):
    history, complete = _history(wiki, title)
    try:
        return nl.approval(history, complete=complete, approvers=approvers), history
    except ValueError:
        # Fifty revisions, all "ready": the approving one is further back; read the whole history.
        revisions, complete = wiki.page_history(title, limit=5000, content=True)
        history = [nl.Revision(r["revid"], r["user"], r["timestamp"], r["text"], r["comment"]) for r in revisions]
        try:
            return nl.approval(history, complete=complete, approvers=approvers), history
        except ValueError:
            return nl.Approval("too-long", history[0]), history


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


def _set_marker(ctx, writer: Writer, wiki, title, status, summary_kind, lang, ed, settings, report,
                expect_revid: int | None = None, force: bool = False) -> int | None:
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
        why = writer.refusal(wiki.code, page)
        if why == NOBOTS:
            report.held.append(f"wiki {wiki.code} page {title!r}: excludes the bot; status not set to {status}")
            return None
        if why == STOPPED:
            report.problems.append(f"{writer.stop(wiki.code)}; status not set to {status}")
            return None
        new_text = nl.set_status(page.text, status)
        if force and status == nl.READY:
            # --force is said on the wiki too, where the worker reads it.
            new_text = nl.with_force(new_text)
        try:
            outcome = writer.edit(wiki.code, page, new_text, _summary(summary_kind, lang, ed, settings),
                                  merge_ok=expect_revid is None)
        except EditConflict as exc:
            if exc.saved_revid and status == nl.READY:
                # Our "ready" was merged into text nobody checked: take it back at once.
                _set_marker(ctx, writer, wiki, title, nl.DRAFT, "reset", lang, ed, settings, report,
                            expect_revid=exc.saved_revid)
            continue    # with expect_revid, the re-read sees the other edit (or the merge) and stops
        if not outcome.saved:     # unchanged, or a dry run: the marker says it (or would)
            return page.revid
        revid = outcome.revid
        # The key names the revision, so it is recorded once the save answered.
        writer.record(f"nls:{ed.id}:{wiki.code}:{status}:{revid}", "edit", f"{wiki.code}:{title}", revid)
        report.saved.append((wiki.code, title, revid))
        return revid
    report.problems.append(f"wiki {wiki.code} page {title!r}: still in edit conflict; try again")
    return None


def _approve(ctx, settings, ed, code, report, cache, force: bool = False) -> None:
    wiki = ctx.wikis[code]
    writer = Writer(ctx, report)
    lang = ctx.settings.wikis[code].language
    title = settings.wikis[code].title("draft_page", ed.id)
    a, history = _approval_and_history(wiki, title, _approvers(ctx, settings, code))
    if a.state in ("missing", "no-marker"):
        report.problems.append(f"wiki {code}: {_describe(a, title)}")
        return
    # The operator's approval is refused for the same reasons as anyone's, unless --force.
    reason = _guard(ctx, code, history, a.current.text, force or nl.marker_options(a.current.text).force)
    if reason:
        _refuse(ctx, writer, settings, ed, code, report, reason, worker=False, status=None)
        return
    if a.state == "approved":
        report.unchanged += 1
        ctx.out.write(f"{code}: {_describe(a, title)}\n")
        return
    expect = a.current.revid
    if a.state in ("changed", "not-approver", "too-long"):
        # Approving means a new revision that switches the marker to ready: go via draft.
        expect = _set_marker(ctx, writer, wiki, title, nl.DRAFT, "reset", lang, ed, settings, report,
                             expect_revid=expect)
        if expect is None:
            return
    if _set_marker(ctx, writer, wiki, title, nl.READY, "approve", lang, ed, settings, report, expect_revid=expect,
                   force=force) is not None:
        ctx.out.write(f"{code}: approved the current text of {title} (revision {a.current.revid}, "
                      f"last edited by {a.current.user})\n")


def _talk_page(settings, ed, code) -> str:
    """Where readers discuss the newsletter: the talk page of its archive (its home), else of the edition.

    Special:TalkPage (MediaWiki 1.40+) finds the talk namespace on every wiki and in every language."""
    nw = settings.wikis[code]
    return "Special:TalkPage/" + (nw.title("archive_page", ed.id) or nw.title("page", ed.id))


def _typeset_draft(ctx, lang: str, sections, **values) -> str:
    """The draft, with the language's typography applied to the bot's and the ambassador's words only.

    Task titles are the team's words, often English ("add a Korean FAQ link"): they are rendered as
    placeholders, the text is typeset, and then the titles go in, escaped as the template would."""
    rule = messages.typography(lang)
    if not rule:
        return ctx.renderer.render("newsletter_draft", lang, "wiki", sections=sections, **values)
    titles: dict[str, str] = {}

    def hide(task):
        token = f"\ufffc{len(titles)}\ufffc"
        titles[token] = task.title
        return replace(task, title=Markup(token))

    hidden = [replace(s, tasks=tuple(hide(t) for t in s.tasks)) for s in sections]
    text = nl.typeset(ctx.renderer.render("newsletter_draft", lang, "wiki", sections=hidden, **values), rule)
    for token, title in titles.items():
        text = text.replace(token, wikitext_inline(title))
    return text


# -- what the draft says will happen: help text, guards, send time ------------------------------------

def _local_time(ctx, code: str, epoch: float) -> str:
    ws = ctx.settings.wikis[code]
    lang = ws.language
    pattern = messages.msg(lang, "newsletter-datetime-format")
    text = format_datetime(datetime.fromtimestamp(epoch, timezone.utc), pattern, tzinfo=ZoneInfo(ws.timezone), locale=lang)
    return i18n.localize_digits(lang, text)


def _default_when(ctx, settings, code: str) -> str:
    lang = ctx.settings.wikis[code].language
    if settings.send_at is None:
        return messages.msg(lang, "newsletter-when-next-run")
    weekday, hour, minute = settings.send_at
    day = messages.msg(lang, "newsletter-weekday-" + ("any" if weekday is None else WEEKDAYS[weekday]))
    return messages.msg(lang, "newsletter-when-first", day, f"{hour}:{minute:02d}")


def _help(ctx, settings, ed, code, state: str, **facts) -> str:
    """The draft's help comment for `state` (draft, refused, scheduled, sending, sent), one safe line."""
    lang = ctx.settings.wikis[code].language
    nw = settings.wikis[code]
    values = {"when": _default_when(ctx, settings, code), "approvers": ", ".join(nw.approvers), "reason": "",
              "approved_by": "", "done": 0, "total": 0, "failed": 0, "report": _report_title(ctx, settings, ed, code)}
    values.update(facts)
    text = ctx.renderer.render("newsletter_help", lang, "wiki", **{k: Markup(nl.safe_comment(str(v)))
                                                                   for k, v in values.items()}, state=state)
    return nl.safe_comment(text)


def _report_title(ctx, settings, ed, code) -> str:
    nw = settings.wikis[code]
    return nw.title("report_page", ed.id) or (nw.title("page", ed.id) + "/" +
                                              messages.msg(ctx.settings.wikis[code].language,
                                                                           "newsletter-report-subpage"))


def _rewrite_draft(ctx, writer: Writer, settings, ed, code, report, *, help_text: str, status: str | None = None,
                   summary: str | None = None) -> None:
    """Put `help_text` (and `status`) on the draft, only over the revision read; silent when nothing changes.

    The help is one of the bot's own comments, so it never changes the approved body. A person's edit
    made meanwhile wins: the next run writes the help again.
    """
    if writer.dry_run:    # the help describes what was done; a dry run does nothing, so not even read
        return
    wiki = ctx.wikis[code]
    ws = ctx.settings.wikis[code]
    title = settings.wikis[code].title("draft_page", ed.id)
    page = wiki.read_pages([title])[title]
    if not page.exists or writer.refusal(code, page) is not None or nl.draft_status(page.text) is None:
        return
    new_text = nl.set_help(page.text, help_text)
    if status is not None:
        new_text = nl.set_status(new_text, status)
    if new_text == page.text:
        return
    stored = ctx.store.get(NS_EDITION, _edition_key(code, ed), {})
    try:
        outcome = writer.edit(code, page, new_text,
                              summary or messages.msg(ws.language, "newsletter-summary-help", ed.id), merge_ok=False)
    except (EditConflict, TargetError, UncertainWriteError) as exc:
        log.info("wiki %s page %r: help text not updated (%s); the next run tries again", code, title, exc,
                 extra={"job": JOB})
        return
    if not outcome.saved:
        return
    revid = outcome.revid
    if stored.get("draft_revid") == page.revid:
        # Still only the bot's own text: a later draft run may regenerate it.
        ctx.store.put(NS_EDITION, _edition_key(code, ed), {**ctx.store.get(NS_EDITION, _edition_key(code, ed), {}),
                                                           "draft_revid": revid})
    report.saved.append((code, title, revid))


def _guard(ctx, code, history, text: str, forced: bool) -> str | None:
    """Why this text may not be published without force: the reason's key, or None."""
    if forced:
        return None
    if nl.untouched(history, text, ctx.settings.wikis[code].username):
        return "untouched"
    if nl.says_nothing_happened(nl.draft_body(text), messages.nothing_happened_sentences()):
        return "nothing"
    return None


def _refuse(ctx, writer: Writer, settings, ed, code, report, reason_key: str, worker: bool, *,
            status: str | None = nl.DRAFT, **fmt) -> None:
    """One line in the CLI (English) and the same reason on the draft, in the wiki's language."""
    lang = ctx.settings.wikis[code].language
    title = settings.wikis[code].title("draft_page", ed.id)
    # The CLI line is the operator's: in the fallback language, like every other line the bot prints.
    reason = messages.msg(i18n.FALLBACK, "newsletter-refusal-" + reason_key, *fmt.values())
    line = (f"wiki {code} page {title!r}: not published: {reason} "
            f"Edit it and set it to ready again, or write 'status=ready force' on the wiki (or use --force).")
    (report.held if worker else report.problems).append(line)
    local = messages.msg(lang, "newsletter-refusal-" + reason_key, *fmt.values())
    _rewrite_draft(ctx, writer, settings, ed, code, report, status=status,
                   help_text=_help(ctx, settings, ed, code, "refused", reason=local),
                   summary=messages.msg(lang, "newsletter-summary-refused", ed.id, local)[:250])


def _send_time(ctx, settings, code, text: str, approving: nl.Revision) -> int | None:
    """When the approved edition goes out: `send=` in the marker, else the config's default after
    approval, else now. Raises nl.SendTimeError."""
    options = nl.marker_options(text)
    tz = ctx.settings.wikis[code].timezone
    if options.send:
        return nl.parse_send_time(options.send, tz)
    if settings.send_at is not None:
        return nl.next_default_send(nl.revision_epoch(approving.timestamp), settings.send_at, tz)
    return None


# -- publish -----------------------------------------------------------------------------------

def _publish(ctx, settings, ed, code, report, cache, force: bool = False, worker: bool = False) -> None:
    """Publish and deliver an approved edition on one wiki (the CLI's `publish`, and the worker's runs).

    Not before its send time; never an edition nobody edited or that says nothing happened, unless
    forced (`status=ready force` on the wiki by an approver, or `--force`).
    """
    wiki = ctx.wikis[code]
    ws = ctx.settings.wikis[code]
    nw = settings.wikis[code]
    lang = ws.language
    draft_title, page_title = nw.title("draft_page", ed.id), nw.title("page", ed.id)
    archive_title = nw.title("archive_page", ed.id)
    stored = ctx.store.get(NS_EDITION, _edition_key(code, ed), {})
    if worker and stored.get("done"):
        return
    report_title = _report_title(ctx, settings, ed, code)
    writer = Writer(ctx, report)
    titles = [draft_title, page_title, nw.subscribers, report_title] + ([archive_title] if archive_title else []) + \
        writer.run_page_titles(code)
    states = wiki.read_pages(titles)
    stop = _check_run_page(writer, code, states)
    if stop:
        report.problems.append(stop)
        return
    frozen = stored.get("frozen")
    if frozen is None:
        if worker and not states[draft_title].exists:
            return                           # nothing drafted for this edition on this wiki
        if worker and nl.draft_status(states[draft_title].text) != nl.READY:
            return                           # not approved: one batched read, nothing else
        approvers = _approvers(ctx, settings, code)
        a, history = _approval_and_history(wiki, draft_title, approvers)
        if a.state in ("changed", "not-approver"):
            # Back to draft, so that one edit to `ready` by an approver approves this text.
            report.held.append(f"wiki {code}: {_describe(a, draft_title)}; marker set back to draft")
            _set_marker(ctx, writer, wiki, draft_title, nl.DRAFT, "reset", lang, ed, settings, report)
            _rewrite_draft(ctx, writer, settings, ed, code, report, help_text=_help(ctx, settings, ed, code, "draft"))
            return
        if not a.approved:
            report.held.append(f"wiki {code}: {_describe(a, draft_title)}; nothing published")
            return
        reason = _guard(ctx, code, history, a.approving.text, force or nl.forced(history, a.approving, approvers))
        if reason:
            _refuse(ctx, writer, settings, ed, code, report, reason, worker)
            return
        try:
            send_at = _send_time(ctx, settings, code, a.current.text, a.approving)
        except nl.SendTimeError:
            _refuse(ctx, writer, settings, ed, code, report, "send-time", worker,
                    value=nl.marker_options(a.current.text).send)
            return
        if send_at is not None and ctx.clock() < send_at:
            when = _local_time(ctx, code, send_at)
            report.held.append(f"wiki {code}: {draft_title} approved in revision {a.approving.revid} by "
                               f"{a.approving.user}; scheduled for {when} ({ws.timezone}), nothing sent before")
            _rewrite_draft(ctx, writer, settings, ed, code, report, help_text=_help(
                ctx, settings, ed, code, "scheduled", approved_by=a.approving.user,
                when=messages.msg(lang, "newsletter-when-at", when)))
            return
        frozen = {"revid": a.approving.revid, "hash": nl.body_hash(a.approving.text),
                  "body": nl.draft_body(a.approving.text), "approved_by": a.approving.user, "at": ctx.clock()}
        if not ctx.dry_run:
            # From here on the edition is this text, whatever happens to the draft later.
            stored = {**stored, "frozen": frozen}
            ctx.store.put(NS_EDITION, _edition_key(code, ed), stored)
    else:
        draft = states[draft_title]
        if draft.exists and nl.body_hash(draft.text) != frozen["hash"]:
            report.held.append(f"wiki {code}: {draft_title} changed after publication began; deliveries keep "
                               f"the approved revision {frozen['revid']}")
    if not _publish_page(ctx, writer, settings, ed, code, states[page_title], frozen, report):
        return
    if archive_title:
        _link_from_archive(ctx, writer, settings, ed, code, states[archive_title], page_title, report)
    outcome = _deliver(ctx, writer, settings, ed, code, states[nw.subscribers], page_title, frozen, report,
                       report_page=states[report_title])
    if settings.comment_tasks:
        _comment_tasks(ctx, writer, settings, ed, code, page_title, frozen, report, cache)
    if outcome is not None and not ctx.dry_run:
        counts = outcome
        sent_at = ctx.store.get(NS_EDITION, _edition_key(code, ed), {}).get("sent_at") or ctx.clock()
        if not ctx.store.get(NS_EDITION, _edition_key(code, ed), {}).get("sent_at"):
            ctx.store.put(NS_EDITION, _edition_key(code, ed),
                          {**ctx.store.get(NS_EDITION, _edition_key(code, ed), {}), "sent_at": sent_at})
        finished = counts["pending"] == 0 and counts["failed"] == 0 and counts["interrupted"] == 0
        _rewrite_draft(ctx, writer, settings, ed, code, report, help_text=_help(
            ctx, settings, ed, code, "sent", approved_by=frozen["approved_by"], done=counts["delivered"],
            total=counts["total"], failed=counts["failed"] + counts["interrupted"] + counts["pending"],
            when=messages.msg(lang, "newsletter-when-at-done", _local_time(ctx, code, sent_at))))
        if finished and not report.problems:
            ctx.store.put(NS_EDITION, _edition_key(code, ed),
                          {**ctx.store.get(NS_EDITION, _edition_key(code, ed), {}), "done": ctx.clock()})


def _publish_page(ctx, writer: Writer, settings, ed, code, page, frozen, report) -> bool:
    lang = ctx.settings.wikis[code].language
    key = nl.page_key(ed.id, code)
    label = f"wiki {code} page {page.title!r}"
    if ctx.store.has_post(key):
        return True
    if page.exists:
        if nl.has_key_marker(page.text, key):
            writer.found(key, "edit", f"{code}:{page.title}", page.revid)
            return True
        report.problems.append(f"{label}: exists and was not written by the bot; not overwritten, nothing "
                               f"delivered (move it away or change newsletters.wikis.{code}.page)")
        return False
    text = ctx.renderer.render("newsletter_page", lang, "wiki", marker=Markup(nl.key_marker(key)),
                               body=Markup(frozen["body"]))
    try:
        outcome = writer.edit(code, page, text, _summary("publish", lang, ed, settings), key=key,
                              preview=f"would create {code}:{page.title}:\n{text}\n")
    except UncertainWriteError as exc:
        report.problems.append(f"{label}: {exc}; run publish again (it checks the page first)")
        return False
    except TargetError as exc:
        # NotFound(articleexists): created meanwhile, possibly by our own lost answer; the next run looks.
        report.problems.append(f"{exc}; nothing delivered")
        return False
    if outcome.saved:
        report.saved.append((code, page.title, outcome.revid))
    return True


def _link_from_archive(ctx, writer: Writer, settings, ed, code, page, page_title, report) -> None:
    wiki = ctx.wikis[code]
    lang = ctx.settings.wikis[code].language
    key = f"nla:{ed.id}:{code}"
    if ctx.store.has_post(key):
        return
    line = ctx.renderer.render("newsletter_archive", lang, "wiki",
                               link=Markup(f"[[{page_title}|{_month(ed, lang)}]]"))
    for _ in range(CONFLICT_ATTEMPTS):
        if writer.refusal(code, page) == NOBOTS:
            report.held.append(f"wiki {code} page {page.title!r}: excludes the bot; archive link not added")
            return
        if _links_to(page.text, page_title):
            writer.found(key, "edit", f"{code}:{page.title}", page.revid or None)
            return
        new_text = (page.text.rstrip("\n") + "\n" if page.text.strip() else "") + line
        try:
            outcome = writer.edit(code, page, new_text, _summary("archive", lang, ed, settings), key=key)
        except EditConflict:
            page = wiki.read_pages([page.title])[page.title]
            continue
        except (TargetError, UncertainWriteError) as exc:
            # The link is a convenience; its absence never blocks delivery. Next run checks the page again.
            report.problems.append(f"wiki {code} page {page.title!r}: archive link not added: {exc}")
            return
        if outcome.saved:
            report.saved.append((code, page.title, outcome.revid))
        return
    report.problems.append(f"wiki {code} page {page.title!r}: archive link not added: edit conflicts")


def _links_to(text: str, title: str) -> bool:
    import mwparserfromhell
    want = nl.normal_title(title)
    return any(nl.normal_title(str(link.title)) == want for link in mwparserfromhell.parse(text).filter_wikilinks())


# -- delivery ------------------------------------------------------------------------------------

class Progress:
    """Delivery progress: a tqdm bar on a terminal; otherwise one log line every 30 s or 50 targets
    (done, skipped, failed, left, rate, ETA), and a summary line at the end."""

    def __init__(self, label: str, total: int, stream=None, clock=time.monotonic, done: int = 0):
        self.label, self.total, self.done, self.skipped, self.failed = label, total, done, 0, 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.clock = clock
        self.started = self.last_log = clock()
        self.at_start, self.since_log = done, 0
        self.bar = None
        if self.tty:
            from tqdm import tqdm
            self.bar = tqdm(total=total, initial=done, desc=label, unit="page", file=self.stream,
                            dynamic_ncols=True, leave=True)

    def tick(self, n: int = 1, kind: str = "done") -> None:
        setattr(self, kind, getattr(self, kind) + n)
        self.since_log += n
        if self.bar is not None:
            self.bar.update(n)
            self.bar.set_postfix(skipped=self.skipped, failed=self.failed, refresh=False)
        elif self.since_log >= LOG_EVERY_TARGETS or self.clock() - self.last_log >= LOG_EVERY_SECONDS:
            log.info("%s", self.line(), extra={"job": JOB})
            self.since_log, self.last_log = 0, self.clock()

    @property
    def left(self) -> int:
        return max(0, self.total - self.done - self.skipped - self.failed)

    @property
    def rate(self) -> float:
        elapsed = self.clock() - self.started
        handled = self.done - self.at_start + self.skipped + self.failed
        return handled / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        rate = self.rate
        eta = self.left / rate if rate > 0 else 0.0
        return (f"{self.label}: {self.done}/{self.total} delivered, {self.skipped} skipped, {self.failed} failed, "
                f"{self.left} left, {rate:.1f}/s, ETA {eta:.0f}s")

    def finish(self, summary: str) -> None:
        if self.bar is not None:
            self.bar.close()
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
    code: str = ""               # held: optout | nobots (for the report)


def _is_talk(ns) -> bool:
    return isinstance(ns, int) and ns > 0 and ns % 2 == 1


def _user_of(title: str) -> str:
    """The account a user talk page belongs to: `Diskuse s wikipedistou:Jana/Archiv` -> `Jana`."""
    return title.split(":", 1)[-1].split("/", 1)[0]


class _Records:
    """What became of each entry of the delivery list, kept in the store (NS_TARGET) as it is decided,
    so the report is exact after a crash. Written only when it changes."""

    def __init__(self, ctx, ed, code):
        self.ctx, self.prefix = ctx, (f"nl:{ed.id}:{code}:", f"nlx:{ed.id}:{code}:")
        self.ed, self.code = ed, code
        self.known = {k: v for k, v in ctx.store.items(NS_TARGET).items() if k.startswith(self.prefix)}

    def put(self, key: str, **value) -> None:
        if self.ctx.dry_run:
            return
        old = self.known.get(key) or {}
        new = {**old, **value}
        if new != old:
            self.known[key] = new
            self.ctx.store.put(NS_TARGET, key, new)

    def unusable(self, asked: str, why: str, detail: str = "") -> None:
        self.put(f"nlx:{self.ed.id}:{self.code}:{nl.title_digest(asked)}", title=asked, outcome="skipped", why=why,
                 detail=detail)


def _deliver(ctx, writer: Writer, settings, ed, code, subscribers, page_title, frozen, report,
             report_page=None) -> dict | None:
    """Deliver to every target; the counts of the report built from the store afterwards (None: dry run)."""
    wiki = ctx.wikis[code]
    ws = ctx.settings.wikis[code]
    nw = settings.wikis[code]
    lang = ws.language
    if not subscribers.exists:
        report.problems.append(f"wiki {code}: the subscriber list {nw.subscribers!r} does not exist; nothing delivered")
        return None
    records = _Records(ctx, ed, code)
    host = urllib.parse.urlparse(ws.api_url).netloc
    dl = nl.parse_delivery_list(subscribers.text, local_sites=[host, host.split(":")[0]])
    for problem in dl.problems:
        report.held.append(f"wiki {code} list {nw.subscribers!r}: {problem}")
        records.unusable(problem.split(":", 1)[0], "other-site" if "another site" in problem else "invalid", problem)
    resolved = wiki.read_targets(dl.targets, category=nw.optout_category)
    unique: dict[str, _Target] = {}
    unusable = skipped = 0     # entries that name no deliverable page; pages that opted out
    for asked in dl.targets:
        r = resolved[asked]
        where = f"wiki {code} target {asked!r}"
        if r["invalid"]:
            report.held.append(f"{where}: invalid title ({r['invalid']}); skipped")
            records.unusable(asked, "invalid", str(r["invalid"]))
        elif r["double_redirect"]:
            report.held.append(f"{where}: redirects to another redirect ({r['title']!r}); skipped")
            records.unusable(asked, "double-redirect", r["title"])
        elif not r["exists"] and not _is_talk(r["ns"]):
            report.held.append(f"{where}: the page does not exist and is not a talk page; skipped")
            records.unusable(asked, "not-talk")
        else:
            final = nl.normal_title(r["title"])
            if final in unique:
                unique[final].asked.append(asked)    # listed twice, or reached again via a redirect
            else:
                unique[final] = _Target(r["title"], nl.delivery_key(ed.id, code, r["title"]), r["text"], [asked],
                                        exists=r["exists"], ns=r["ns"])
            continue
        unusable += 1
    for target in unique.values():
        redirected = [a for a in target.asked if nl.normal_title(a) != nl.normal_title(target.title)]
        fields = {"title": target.title, "redirect_from": redirected[0] if redirected else None}
        if not ctx.store.has_post(target.key):
            fields["created"] = not target.exists
        records.put(target.key, **fields)
    # MassMessage's rule: a missing user talk page is created, unless the account does not exist ("skipnouser").
    unborn = {final: t for final, t in unique.items()
              if not t.exists and t.ns == NS_USER_TALK and not ctx.store.has_post(t.key)}
    if unborn:
        users = wiki.users_exist(_user_of(t.title) for t in unborn.values())
        for final, target in unborn.items():
            if _user_of(target.title) not in users:
                report.held.append(f"wiki {code} target {target.title!r}: no such user "
                                   f"{_user_of(target.title)!r}; skipped, the page is not created")
                records.put(target.key, outcome="skipped", why="nouser", detail=_user_of(target.title))
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
            # Delivered, not recorded (a crash, or a lost store): the report links the bot's revision, so
            # look it up in the page's history (one read, only for such targets).
            _record_delivery(ctx, code, target, _delivery_revision(wiki, target.title, ws.username,
                                                                   _summary("message", lang, ed, settings)))
            already += 1
        elif nw.optout_category and _in_optout(resolved, target):
            report.held.append(f"{where}: in the opt-out category; skipped")
            records.put(target.key, outcome="skipped", why="optout")
            skipped += 1
        elif writer.refusal(code, target) == NOBOTS:
            report.held.append(f"{where}: excludes the bot ({{{{nobots}}}}/{{{{bots}}}}); skipped")
            records.put(target.key, outcome="skipped", why="nobots")
            skipped += 1
        else:
            records.put(target.key, outcome="pending", why=None)
            todo.append(target)
    # A target that was being written when the process died: look at its history before anything else.
    summary = _summary("message", lang, ed, settings)
    # A page that is still missing has no history to look at; posting creates it with createonly.
    interrupted = [t for t in todo if t.key in pending and t.exists]
    for target in interrupted:
        revid = _delivery_revision(wiki, target.title, ws.username, summary)
        if revid:
            _record_delivery(ctx, code, target, revid)
            todo.remove(target)
            already += 1
    heading = messages.NEWSLETTER_HEADING[lang].format(name=_name(settings, lang), month=_month(ed, lang))
    progress = Progress(f"wiki {code} newsletter {ed.id}", len(unique) - skipped, clock=time.monotonic, done=already)
    report_saver = _ReportWriter(ctx, writer, settings, ed, code, report_page, report)
    if todo and not ctx.dry_run:
        _rewrite_draft(ctx, writer, settings, ed, code, report, help_text=_help(
            ctx, settings, ed, code, "sending", approved_by=frozen["approved_by"], total=len(unique) - skipped))
        report_saver.write(final=False)
    failed = created = 0
    stopped = None
    for number, target in enumerate(todo):
        where = f"wiki {code} page {target.title!r}"
        if number and number % RUN_PAGE_EVERY == 0 and ws.run_page and not ctx.dry_run:
            # A long delivery must notice the emergency stop, not only its start.
            stop = _check_run_page(writer, code, wiki.read_pages([ws.run_page]))
            if stop:
                report.problems.append(f"{stop}; delivery stopped after {number} of {len(todo)}")
                stopped = ("stop", todo[number:])
                break
        message = ctx.renderer.render(
            "newsletter_message", lang, "wiki", marker=Markup(nl.key_marker(target.key)), body=Markup(frozen["body"]),
            page_link=Markup(f"[[{page_title}]]"), subscribers_link=Markup(f"[[{nw.subscribers}]]"))
        if writer.dry_run:    # no pending mark and no look at the page's history: nothing is sent
            writer.new_section(code, target.title, heading, message, summary, preview=(
                f"would post to {code}:{target.title}: section {heading!r} ({len(message)} characters)\n"
                if target.exists else f"would create {code}:{target.title} with section {heading!r} "
                                      f"({len(message)} characters)\n"))
            continue
        try:
            outcome = _send(ctx, writer, wiki, target, heading, message, summary, ws.username, nw.optout_category,
                            ed, code)
        except Blocked:
            stopped = ("blocked", todo[number:])
            for rest in stopped[1]:
                records.put(rest.key, outcome="skipped", why="blocked")
            report_saver.write(final=True)
            raise
        if outcome.kind == "saved":
            _record_delivery(ctx, code, target, outcome.revid)
            records.put(target.key, outcome="delivered", created=outcome.created)
            report.saved.append((code, target.title, outcome.revid))
            created += outcome.created
            progress.tick()
        elif outcome.kind == "found":
            _record_delivery(ctx, code, target, outcome.revid)
            records.put(target.key, outcome="delivered")
            progress.tick()
        elif outcome.kind == "held":
            report.held.append(f"{where}: {outcome.why}")
            records.put(target.key, outcome="skipped", why=outcome.code or "", detail=outcome.why)
            skipped += 1
            progress.tick(kind="skipped")
        else:
            report.problems.append(f"{where}: {outcome.why}")
            failed += 1
            progress.tick(kind="failed")
        report_saver.maybe()
    if stopped:
        for rest in stopped[1]:
            records.put(rest.key, outcome="skipped", why=stopped[0])
    if ctx.dry_run:
        return None
    counts = report_saver.write(final=True)
    progress.finish(f"wiki {code} newsletter {ed.id}: {progress.done} of {progress.total} delivered "
                    f"({already} before this run, {words.plural_en(created, 'talk page', 'talk pages')} created), "
                    f"{skipped} opted out, {words.plural_en(unusable, 'unusable entry', 'unusable entries')}, "
                    f"{failed} failed")
    return counts


class _ReportWriter:
    """Saves the delivery report page from the store's records: at the start, at most once a minute while
    delivery runs, and at the end."""

    def __init__(self, ctx, writer: Writer, settings, ed, code, page, report):
        self.ctx, self.settings, self.ed, self.code, self.page, self.report = ctx, settings, ed, code, page, report
        self.writer = writer
        self.last = None

    def maybe(self) -> None:
        if self.last is not None and time.monotonic() - self.last >= REPORT_EVERY_SECONDS:
            self.write(final=False)

    def write(self, final: bool) -> dict:
        ctx, code, ed = self.ctx, self.code, self.ed
        rows, counts = _report_rows(ctx, ed, code)
        self.last = time.monotonic()
        if ctx.dry_run or self.page is None:
            return counts
        wiki = ctx.wikis[code]
        ws = ctx.settings.wikis[code]
        key = f"nlr:{ed.id}:{code}"
        # Saved again only when an outcome changed, not for a newer "as of" time alone.
        digest = nl.body_hash(repr((rows, final)))
        state_key = _edition_key(code, ed)
        if ctx.store.get(NS_EDITION, state_key, {}).get("report_hash") == digest and self.page.exists:
            return counts
        text = _render_report(ctx, self.settings, ed, code, rows, counts, final)
        for _ in range(CONFLICT_ATTEMPTS):
            page = self.page
            if page.exists and not nl.has_key_marker(page.text, key):
                self.report.problems.append(f"wiki {code} page {page.title!r}: exists and was not written by the "
                                            f"bot; the delivery report is not saved there")
                self.page = None
                return counts
            if page.exists and page.text.rstrip() == text.rstrip():
                return counts
            try:
                outcome = self.writer.edit(code, page, text, messages.msg(ws.language, "newsletter-summary-report", ed.id))
            except EditConflict:
                self.page = wiki.read_pages([page.title])[page.title]
                continue
            except (TargetError, UncertainWriteError) as exc:
                # The report is rebuilt from the store next time; its absence never blocks delivery.
                log.info("wiki %s page %r: report not saved: %s", code, page.title, exc, extra={"job": JOB})
                self.page = wiki.read_pages([page.title])[page.title] if isinstance(exc, UncertainWriteError) \
                    else page
                return counts
            if not outcome.saved:     # refused (the page now excludes the bot): the next run looks again
                log.info("wiki %s page %r: report not saved: %s", code, page.title, outcome.reason, extra={"job": JOB})
                return counts
            self.page = replace(page, exists=True, text=text, revid=outcome.revid)
            ctx.store.put(NS_EDITION, state_key, {**ctx.store.get(NS_EDITION, state_key, {}), "report_hash": digest})
            return counts
        return counts


def _report_rows(ctx, ed, code) -> tuple[list[dict], dict]:
    """Every entry of the delivery list with its outcome, from the store's records (not memory)."""
    prefix, other = f"nl:{ed.id}:{code}:", f"nlx:{ed.id}:{code}:"
    records = {k: v for k, v in ctx.store.items(NS_TARGET).items() if k.startswith((prefix, other))}
    posts = {p.key: p for p in ctx.store.posts("newsletter-message") if p.key.startswith(prefix)}
    failed = {k: v for k, v in ctx.store.items(NS_FAILED).items() if k.startswith(prefix)}
    pending = {k: v for k, v in ctx.store.items(NS_PENDING).items() if k.startswith(prefix)}
    rows = []
    for key in set(records) | set(posts):
        rec = records.get(key) or {"title": posts[key].target.split(":", 1)[-1]}
        row = {"title": rec.get("title", ""), "redirect_from": rec.get("redirect_from"), "created": False,
               "revid": None, "why": rec.get("why"), "detail": rec.get("detail") or "", "kind": "pending"}
        if key in posts:
            row.update(kind="delivered", revid=posts[key].revision, created=bool(rec.get("created")))
        elif key in pending:
            row["kind"] = "interrupted"
        elif key in failed:
            row.update(kind="failed", detail=failed[key].get("error", ""), why=failed[key].get("why"))
            if row["why"] == "protected":
                row["kind"] = "skipped"
        elif rec.get("outcome") == "skipped":
            row["kind"] = "skipped"
        rows.append(row)
    rows.sort(key=lambda r: (r["kind"] != "failed", r["kind"] != "interrupted", nl.normal_title(r["title"])))
    counts = {k: sum(r["kind"] == k for r in rows) for k in ("delivered", "skipped", "failed", "interrupted",
                                                              "pending")}
    counts["created"] = sum(r["created"] for r in rows if r["kind"] == "delivered")
    counts["redirected"] = sum(bool(r["redirect_from"]) for r in rows if r["kind"] == "delivered")
    counts["total"] = len(rows) - counts["skipped"]
    return rows, counts


def _render_report(ctx, settings, ed, code, rows, counts, final: bool) -> str:
    lang = ctx.settings.wikis[code].language
    view = []
    for r in rows:
        linkable = r["why"] not in ("invalid", "other-site")
        view.append({**r, "link": Markup(f"[[{r['title']}]]") if linkable else r["title"],
                     "diff": Markup(f"[[Special:Diff/{r['revid']}|{r['revid']}]]") if r["revid"] else "",
                     "redirect_from": Markup(f"[[{r['redirect_from']}]]") if r["redirect_from"] else None})
    shown = dict(counts, pending=counts["pending"] + counts["interrupted"], failed=counts["failed"])
    return ctx.renderer.render("newsletter_report", lang, "wiki", marker=Markup(nl.key_marker(f"nlr:{ed.id}:{code}")),
                               name=_name(settings, lang), month=_month(ed, lang), rows=view, counts=shown,
                               final=final, updated=_local_time(ctx, code, ctx.clock()))


def _send(ctx, writer: Writer, wiki, target: _Target, heading, message, summary, username, optout, ed,
          code) -> _Outcome:
    """Post one message, exactly once; a page missing at the read is created only if it is still missing.

    Raises Blocked (the wiki's delivery stops).
    """
    ctx.store.put(NS_PENDING, target.key, {"title": target.title, "at": ctx.clock()})
    try:
        sent = writer.new_section(code, target.title, heading, message, summary, createonly=not target.exists)
        if sent.refused:      # the emergency stop: nothing was sent, the next run delivers
            ctx.store.delete(NS_PENDING, target.key)
            return _Outcome("failed", why=f"{sent.detail or sent.reason}; retried on the next run")
        return _Outcome("saved", sent.revid, created=not target.exists)
    except Blocked:
        ctx.store.delete(NS_PENDING, target.key)
        raise
    except UncertainWriteError as exc:
        # Keep the pending mark: the next run looks at the page's history before writing.
        found, revid = _delivered_now(wiki, target, username, summary)
        if found:
            return _Outcome("found", revid)
        return _Outcome("failed", why=f"{exc}; checked on the next run")
    except (TargetError, TransientError, ServerError) as exc:
        if target.exists or getattr(exc, "code", None) != "articleexists":
            # Refused by the server (protected, abuse filter, spam blacklist, maxlag): nothing was written.
            return _refused(ctx, target, str(exc), "protected" if isinstance(exc, Protected) else None)
    # Created since our read, by a person or by an earlier attempt of ours whose answer was lost:
    # look at it as at any existing page (and its history) before posting to it.
    try:
        state = wiki.read_targets([target.title], category=optout)[target.title]
    except BotError as exc:
        return _Outcome("failed", why=f"created meanwhile, then not readable ({exc}); checked on the next run")
    if not state["exists"] or nl.normal_title(state["title"]) != nl.normal_title(target.title):
        what = "a redirect" if state["exists"] else "a page deleted again"
        return _refused(ctx, target, f"created meanwhile as {what}")
    revid = _delivery_revision(wiki, target.title, username, summary)
    if revid or nl.has_key_marker(state["text"], target.key) or nl.has_edition_marker(state["text"], ed.id, code):
        return _Outcome("found", revid)
    if state["in_category"]:
        ctx.store.delete(NS_PENDING, target.key)
        return _Outcome("held", why="created meanwhile, in the opt-out category; skipped", code="optout")
    if writer.refusal(code, replace(target, exists=True, text=state["text"])) == NOBOTS:
        ctx.store.delete(NS_PENDING, target.key)
        return _Outcome("held", why="created meanwhile, excluding the bot ({{nobots}}/{{bots}}); skipped",
                        code="nobots")
    # Now an existing page: createonly is off, so this cannot come back here.
    return _send(ctx, writer, wiki, replace(target, exists=True, text=state["text"]), heading, message, summary,
                 username, optout, ed, code)


def _refused(ctx, target: _Target, error: str, why: str | None = None) -> _Outcome:
    ctx.store.delete(NS_PENDING, target.key)
    ctx.store.put(NS_FAILED, target.key, {"title": target.title, "error": error, "why": why, "at": ctx.clock()})
    return _Outcome("failed", why=f"{error}; retried on the next run")


def _in_optout(resolved: dict, target: _Target) -> bool:
    return any(resolved[a]["in_category"] for a in target.asked)


def _record_delivery(ctx, code, target: _Target, revid) -> None:
    ctx.store.record_post(target.key, "newsletter-message", f"{code}:{target.title}", revid)
    ctx.store.delete(NS_PENDING, target.key)
    ctx.store.delete(NS_FAILED, target.key)


def _delivery_revision(wiki, title: str, username: str, summary: str) -> int | None:
    """The bot's revision of `title` with this edition's summary (newest of the last 50), or None."""
    revisions, _ = wiki.page_history(title, limit=50)
    return next((r["revid"] for r in revisions if r["user"] == username and summary in r["comment"]), None)


def _delivered_now(wiki, target: _Target, username: str, summary: str) -> tuple[bool, int | None]:
    """Whether the message is on the page now, and the bot's revision that put it there (when the history shows it)."""
    try:
        revid = _delivery_revision(wiki, target.title, username, summary)
        if revid:
            return True, revid
        return nl.has_key_marker(wiki.read_targets([target.title])[target.title]["text"], target.key), None
    except BotError:
        return False, None


# -- task comments ------------------------------------------------------------------------------------

def _comment_tasks(ctx, writer: Writer, settings, ed, code, page_title, frozen, report, cache) -> None:
    ids = nl.mentioned_task_ids(frozen["body"])
    if not ids:
        return
    tasks = publishable(ctx.phab.search_tasks(task_ids=ids))   # never announce a private task
    url = nl.page_url(ctx.settings.wikis[code].api_url, page_title)
    lang = ctx.settings.wikis[code].language
    # Our own words and a URL we built: trusted, so no Remarkup breakers inside them.
    team = ctx.settings.phabricator.language
    text = ctx.renderer.render("newsletter_comment", team, "remarkup",
                               language=Markup(messages.language_name(team, lang)),
                               name=Markup(_name(settings, team)), edition=Markup(ed.id), url=Markup(url))
    bot_phid = None
    for task in sorted(tasks, key=lambda t: t.id):
        key = nl.comment_key(ed.id, code, task.id)
        if ctx.store.has_post(key):
            continue
        try:
            if not writer.dry_run:    # a dry run posts nothing, so it need not look on the task
                if bot_phid is None:
                    bot_phid = _bot_phid(ctx)
                # The task itself is the witness: a comment of ours with this edition's link means done.
                found = _own_comment(ctx.phab.transactions(f"T{task.id}", author_phids=[bot_phid]), url)
                if found is not None:
                    writer.found(key, "task-comment", f"T{task.id}", found.phid)
                    continue
            outcome = writer.task_comment(task.id, text, key=key, site="phab",
                                          preview=f"would comment on T{task.id}: {text.strip()}\n")
            if outcome.saved:
                report.saved.append(("phab", f"T{task.id}", None))   # a comment, not a revision
        except (UncertainWriteError, PartialData, TransientError, ServerError, TargetError) as exc:
            report.problems.append(f"T{task.id}: comment for {code} edition {ed.id}: {exc}; checked on the next run")


def _own_comment(transactions, url: str) -> Transaction | None:
    return next((xact for xact in transactions
                 if any(url in text for text in xact.texts)), None)


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
    page_done = ctx.store.has_post(nl.page_key(ed.id, code))
    rows, counts = _report_rows(ctx, ed, code)
    finished = stored.get("done") is not None or (
        page_done and rows and not (counts["pending"] or counts["interrupted"] or counts["failed"]))
    verb = "published" if finished else ("being published" if page_done else "publication begun")
    out.write(f"{code} {ed.id}: {verb}: the text approved in revision {frozen['revid']} by {frozen['approved_by']}; "
              f"page {nw.title('page', ed.id)} {'created' if page_done else 'not created yet'}; "
              f"report {_report_title(ctx, settings, ed, code)}\n")
    comments = [p for p in ctx.store.posts("task-comment") if p.key.startswith(f"nlc:{ed.id}:{code}:")]
    out.write(f"{code} {ed.id}: {counts['delivered']} delivered ({counts['created']} talk "
              f"{'page' if counts['created'] == 1 else 'pages'} created, {counts['redirected']} through a redirect), "
              f"{counts['skipped']} skipped, {counts['failed']} failed (retried on the next run), "
              f"{counts['interrupted']} interrupted, {counts['pending']} pending, "
              f"{words.plural_en(len(comments), 'task comment', 'task comments')}\n")
    for r in rows:
        out.write("  " + _report_line(r) + "\n")
    report.unchanged += 1


def _report_line(r: dict) -> str:
    title = r["title"]
    if r["kind"] == "delivered":
        extra = (", talk page created" if r["created"] else "") + \
            (f", redirected from {r['redirect_from']}" if r["redirect_from"] else "")
        return f"delivered: {title} (revision {r['revid']}){extra}" if r["revid"] else \
            f"delivered: {title} (found on the page){extra}"
    if r["kind"] == "skipped":
        return f"skipped: {title}: {r['why'] or ''}{(' (' + r['detail'] + ')') if r['detail'] else ''}"
    if r["kind"] == "failed":
        return f"failed: {title}: {r['detail']}; retried on the next run"
    if r["kind"] == "interrupted":
        return f"interrupted: {title}: checked on the next run"
    return f"pending: {title}"
