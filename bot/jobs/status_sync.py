"""Keep on-wiki status tables of Phabricator tasks in step with Phabricator.

A cycle, and the requests it costs when nothing changed (the floor the benchmark
measures): one `maniphest.search` per distinct query (incremental, `modifiedStart`
from a stored cursor) and one `list=recentchanges` per wiki. A page is read only
when its rendered table differs from what was last written there, when someone
else edited it since the last cycle, or when a previous attempt did not finish.

Writes are full-region replacements based on the exact revision read, so they
are idempotent by construction: after a crash between an edit and its record, the
next cycle finds the region already equal to the rendering and edits nothing.
"""
from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from bot.domain.status import TableEdit, body_hash, plan_table_edit, select_rows
from bot.domain.tasks import Task, newest_modification, same_but_for_activity
from bot.domain.wikitext import RegionError
from bot.errors import (BotError, Blocked, EditConflict, PartialData, TargetError, TransientError, UncertainWriteError)
from bot.jobs.base import JobContext, JobReport
from bot.jobs.writer import INTERVAL, NOBOTS, UNCHANGED, WOULD_SAVE, Writer
from bot.jobs.deployment_status import DeploymentTracker
from bot.render import messages
from bot.settings import StatusTable

log = logging.getLogger(__name__)

JOB = "status-sync"
CONFLICT_ATTEMPTS = 3
# Wikimedia keeps recent changes for 30 days; past this age a cursor cannot be trusted.
RC_MAX_AGE = timedelta(days=25)

NS_SNAPSHOT = "status-snapshot"     # per query: tasks, owner names, cursor
NS_PROJECTS = "phab-projects"       # slug -> PHID
NS_RENDERED = "status-rendered"     # per wiki page+table: hash of the body last known to be on the page
NS_PAGE = "status-page"             # per wiki page: last bot edit time, dirty flag
NS_PENDING = "status-shrink"        # per wiki page+table: body hash held back once for dropping rows
NS_RC = "rc-cursor"                 # per wiki: timestamp and rcid of the last change seen


@dataclass
class _PagePlan:
    wiki: str
    title: str
    tables: list[tuple[StatusTable, str]]   # (table, rendered body)
    still_public: dict[str, frozenset[int]] = field(default_factory=dict)   # per table id


def run(ctx: JobContext) -> JobReport:
    report = JobReport(JOB)
    tables = ctx.settings.status_tables
    if not tables:
        return report
    rows_by_table = {}
    still_public: dict[str, frozenset[int]] = {}    # per table: tasks just confirmed public
    for fetch, group in _group_by_query(tables).items():
        try:
            tasks, public_now = _refresh_snapshot(ctx, fetch)
        except PartialData as exc:
            # ListeriaBot's worst bug: never render from partial data. Keep every old table.
            report.problems.append(f"{exc}; tables {', '.join(t.id for t in group)} kept as they are")
            continue
        for table in group:
            still_public[table.id] = public_now
            q = table.query
            rows_by_table[table.id] = select_rows(tasks, statuses=q.statuses, subtypes=q.subtypes, task_ids=q.task_ids,
                                                  sort=table.sort, max_rows=table.max_rows)

    # Tables with `deployment: true`: is each resolved task's fix live on the wiki (docs/deployment.md).
    tracker = DeploymentTracker(ctx, report.problems) if any(t.deployment for t in tables) else None
    plans = {}
    for code in ctx.settings.wikis:
        pages = _plans_for_wiki(ctx, code, tables, rows_by_table, report, still_public, tracker)
        if pages:
            plans[code] = pages
    # The wikis at once, each under its own throttle, maxlag and emergency stop (its own client);
    # each wiki's part of the report is merged in config order, so the report reads the same.
    parts = {code: JobReport(JOB) for code in plans}

    def one(code: str) -> None:
        try:
            _sync_wiki(ctx, code, plans[code], parts[code])
        except Blocked as exc:
            parts[code].problems.append(f"{exc}; no more edits on {code} this cycle")
        except TransientError as exc:
            parts[code].problems.append(f"wiki {code}: {exc}; will retry next cycle")

    if len(plans) > 1:
        for code in plans:   # log in one by one: pywikibot reads throttle settings from globals per site
            try:
                getattr(ctx.wikis[code], "site", None)
            except BotError:
                pass         # the wiki's thread meets the same error and reports it
        with ThreadPoolExecutor(max_workers=len(plans), thread_name_prefix="status-sync") as pool:
            for future in [pool.submit(one, code) for code in plans]:
                future.result()
    else:
        for code in plans:
            one(code)
    for part in parts.values():
        report.saved += part.saved
        report.would_save += part.would_save
        report.unchanged += part.unchanged
        report.problems += part.problems
        report.held += part.held
    log.info("%s", report.summary(), extra={"job": JOB})
    return report


# -- Phabricator side ---------------------------------------------------------------------

@dataclass(frozen=True)
class _FetchGroup:
    """Tables that can share one Conduit query: same projects and subtypes.

    Each table filters its own statuses and task list locally, so twenty tables
    on one project still cost one request per cycle.
    """

    projects: tuple[str, ...]
    subtypes: tuple[str, ...]
    statuses: tuple[str, ...]     # union; empty means any status
    task_ids: tuple[int, ...]     # union; empty means any task

    @property
    def key(self) -> str:
        return "|".join([",".join(self.projects), ",".join(self.subtypes), ",".join(self.statuses),
                         ",".join(map(str, self.task_ids))])


def _group_by_query(tables) -> dict[_FetchGroup, list[StatusTable]]:
    by_scope: dict[tuple, list[StatusTable]] = defaultdict(list)
    for t in tables:
        by_scope[(tuple(sorted(t.query.projects)), tuple(sorted(t.query.subtypes)))].append(t)
    groups = {}
    for (projects, subtypes), members in by_scope.items():
        any_status = any(not t.query.statuses for t in members)
        any_task = any(not t.query.task_ids for t in members)
        groups[_FetchGroup(
            projects, subtypes,
            () if any_status else tuple(sorted({s for t in members for s in t.query.statuses})),
            () if any_task else tuple(sorted({i for t in members for i in t.query.task_ids})),
        )] = members
    return groups


def _project_phids(ctx: JobContext, slugs) -> list[str]:
    known = ctx.store.items(NS_PROJECTS)
    missing = [s for s in slugs if s not in known]
    if missing:
        for slug, phid in ctx.phab.project_phids(missing).items():
            ctx.store.put(NS_PROJECTS, slug, phid)
            known[slug] = phid
    return [known[s] for s in slugs]


def _refresh_snapshot(ctx: JobContext, group: _FetchGroup) -> tuple[list[Task], frozenset[int]]:
    """Bring the stored snapshot of one fetch group up to date.

    A quiet cycle costs one incremental request plus one per 100 tasks already shown:
    the real server simply stops returning a task that the bot may no longer see or
    that left the project, so no incremental query can report it. Every shown task is
    therefore asked for again by id on every cycle, and one not returned leaves the table.
    Returns the tasks and the ids of those the server has just shown as public.
    """
    snap = ctx.store.get(NS_SNAPSHOT, group.key) or {}
    old = {int(k): Task.from_json(v) for k, v in snap.get("tasks", {}).items()}
    raw_modified = {int(k): v for k, v in snap.get("raw_modified", {}).items()}
    users: dict[str, str] = snap.get("users", {})
    now = ctx.clock()
    full = not snap or now - snap.get("full_at", 0) >= ctx.settings.full_refresh_hours * 3600
    scope = {"projects": _project_phids(ctx, group.projects), "subtypes": group.subtypes}
    if full:
        fetched = ctx.phab.search_tasks(**scope, task_ids=group.task_ids, statuses=group.statuses)
    else:
        # Inclusive (modifiedStart >= cursor), so a change in the same second as the last one
        # seen is not missed; without the status filter, so a task that left the wanted
        # statuses is seen and leaves the table.
        fetched = ctx.phab.search_tasks(**scope, task_ids=group.task_ids, modified_start=snap.get("cursor"))
        recheck = sorted(set(old) - {t.id for t in fetched})
        if recheck:
            fetched += ctx.phab.search_tasks(**scope, task_ids=recheck)
    cursor = max(newest_modification(fetched), snap.get("cursor", 0))
    public_now = frozenset(t.id for t in fetched if t.is_public)
    current = {t.id: t for t in fetched if not group.statuses or t.status in group.statuses}
    new_raw = {i: t.date_modified for i, t in current.items()}
    current = _without_own_activity(ctx, old, raw_modified, current)
    unknown_owners = {t.owner_phid for t in current.values() if t.owner_phid and t.owner_phid not in users}
    if unknown_owners:
        users.update(ctx.phab.user_names(unknown_owners))
    current = {i: _with_owner(t, users) for i, t in current.items()}
    changed = {i for i, t in current.items() if old.get(i) != t} | (set(old) - set(current))
    if full or changed or unknown_owners or new_raw != raw_modified:
        ctx.store.put(NS_SNAPSHOT, group.key, {
            "tasks": {str(i): t.to_json() for i, t in sorted(current.items())},
            "raw_modified": {str(i): v for i, v in sorted(new_raw.items())},
            "users": users,
            "cursor": cursor,
            "full_at": now if full else snap.get("full_at", now),
        })
    log.info("query %s: %d tasks, %d changed%s", group.key, len(current), len(changed),
             " (full refresh)" if full else "", extra={"job": JOB})
    return list(current.values()), public_now


def _without_own_activity(ctx: JobContext, old: dict[int, Task], raw_modified: dict[int, int],
                          current: dict[int, Task]) -> dict[int, Task]:
    """Keep the bot's own comments (newsletter back-links, forwarded feedback, mention notices)
    out of the tables: they move a task's `dateModified` like any comment would.

    A task whose only difference is a new `dateModified` gets the time of its newest
    transaction by someone else (one `transaction.search`, only for such tasks).
    """
    out = dict(current)
    for task_id, task in current.items():
        before = old.get(task_id)
        if before is None or not same_but_for_activity(before, task):
            continue
        if raw_modified.get(task_id) == task.date_modified:
            out[task_id] = replace(task, date_modified=before.date_modified)
            continue
        others = ctx.phab.last_change_by_others(task_id, ctx.bot_phid())
        out[task_id] = replace(task, date_modified=others if others is not None and others > before.date_modified
                               else before.date_modified)
    return out


def _with_owner(task: Task, users: dict[str, str]) -> Task:
    owner = users.get(task.owner_phid) if task.owner_phid else None
    return task if task.owner == owner else replace(task, owner=owner)


# -- wiki side --------------------------------------------------------------------------------

def _plans_for_wiki(ctx, code, tables, rows_by_table, report: JobReport | None = None,
                    still_public: dict[str, frozenset[int]] | None = None,
                    tracker: DeploymentTracker | None = None) -> list[_PagePlan]:
    from bot.jobs.documents import override_source, override_title, read_overrides, render_document

    wiki = ctx.settings.wikis[code]
    problems = report.problems if report is not None else []
    wanted = [t for t in tables if t.pages.get(code) is not None and t.id in rows_by_table]
    # The community's on-wiki template, when the config names one: one batched read per wiki.
    template_page = override_title(ctx, code, "status_table") if wanted else None
    try:
        override = override_source(read_overrides(ctx, code, [template_page]), template_page)
    except (TargetError, TransientError) as exc:
        # Rendering with the file template now and the override next cycle would flap the tables.
        problems.append(f"wiki {code}: cannot read the on-wiki template {template_page!r}: {exc}; "
                        f"tables on {code} not updated this cycle")
        return []
    by_title: dict[str, _PagePlan] = {}
    for table in wanted:
        title = table.pages[code]
        extra = {}
        if tracker is not None and table.deployment:
            extra["deployment"] = _deployment_cells(tracker, code, wiki, rows_by_table[table.id])
        body = render_document(ctx, code, "status_table", wiki.language, "wiki", override=override,
                               override_title=template_page, problems=problems, rows=rows_by_table[table.id],
                               tz=wiki.timezone, **extra)
        by_title.setdefault(title, _PagePlan(code, title, [], still_public or {})).tables.append((table, body))
    return list(by_title.values())


def _deployment_cells(tracker: DeploymentTracker, code: str, wiki, rows) -> dict:
    """Task id -> the deployment cell on this wiki ("–" for a task that is not resolved)."""
    from bot.render.deployment_words import NOT_RESOLVED, label
    cells = {}
    for task in rows:
        found = tracker.state(code, task)
        cells[task.id] = NOT_RESOLVED if found is None else label(
            wiki.language, found.state, wiki_id=found.wiki_id, since=found.since, tz=wiki.timezone)
    return cells


def _page_key(code: str, title: str, table_id: str | None = None) -> str:
    return f"{code}:{title}" + (f"#{table_id}" if table_id else "")


def _sync_wiki(ctx: JobContext, code: str, pages: list[_PagePlan], report: JobReport) -> None:
    wiki = ctx.wikis[code]
    settings = ctx.settings.wikis[code]
    touched = _touched_by_others(ctx, wiki, code, [p.title for p in pages])
    for title in touched:
        ctx.store.put(NS_PAGE, _page_key(code, title) + "|dirty", True)

    due = [p for p in pages if _needs_read(ctx, code, p)]
    if not due:
        report.unchanged += len(pages)
        _advance_rc_cursor(ctx, code)
        return
    writer = Writer(ctx, report)
    states = wiki.read_pages([p.title for p in due] + writer.run_page_titles(code))
    stop = writer.note_run_page(code, states)
    if stop:
        report.problems.append(f"{stop}; no edits on {code}")
        return
    report.unchanged += len(pages) - len(due)
    for plan in due:
        try:
            _sync_page(ctx, writer, wiki, plan, states[plan.title], report)
        except Blocked:
            raise
        except (TargetError, TransientError) as exc:
            # One page's trouble never stops the others (archivebot's process_page).
            report.problems.append(str(exc))
    _advance_rc_cursor(ctx, code)


def _needs_read(ctx, code, plan: _PagePlan) -> bool:
    if ctx.store.get(NS_PAGE, _page_key(code, plan.title) + "|dirty"):
        return True
    for table, body in plan.tables:
        if ctx.store.get(NS_RENDERED, _page_key(code, plan.title, table.id)) != body_hash(body):
            return True
        if ctx.store.get(NS_PENDING, _page_key(code, plan.title, table.id)):
            return True
    return False


def _touched_by_others(ctx, wiki, code, titles) -> set[str]:
    """Watched pages someone other than the bot edited since the last cycle: one request."""
    cursor = ctx.store.get(NS_RC, code)
    if cursor is None:
        ctx.store.put(NS_RC, code + "|pending", wiki.rc_position())
        return set(titles)  # first cycle: every page is read anyway
    since = datetime.strptime(cursor["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    if datetime.fromtimestamp(ctx.clock(), timezone.utc) - since > RC_MAX_AGE:
        log.warning("wiki %s: recent changes cursor is older than %s; reading every page", code, RC_MAX_AGE,
                    extra={"job": JOB})
        ctx.store.put(NS_RC, code + "|pending", wiki.rc_position())
        return set(titles)
    changes = wiki.recent_changes(cursor["timestamp"])
    watched = {_normal(t) for t in titles}
    touched = set()
    newest = dict(cursor)
    for rc in changes:
        if rc.rcid <= cursor["rcid"]:
            continue
        newest = {"timestamp": rc.timestamp, "rcid": rc.rcid}
        if rc.user != wiki.settings.username and _normal(rc.title) in watched:
            touched.add(next(t for t in titles if _normal(t) == _normal(rc.title)))
    ctx.store.put(NS_RC, code + "|pending", newest)
    return touched


def _advance_rc_cursor(ctx, code):
    # Only after the touched pages were marked dirty (stored) may the cursor move on.
    pending = ctx.store.get(NS_RC, code + "|pending")
    if pending:
        ctx.store.put(NS_RC, code, pending)


def _normal(title: str) -> str:
    title = title.replace("_", " ").strip()
    return title[:1].upper() + title[1:]


def _sync_page(ctx: JobContext, writer: Writer, wiki, plan: _PagePlan, page, report: JobReport) -> None:
    code, title = plan.wiki, plan.title
    label = f"wiki {code} page {title!r}"
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        if not page.exists:
            raise TargetError(f"{label}: the page does not exist; create it with the table markers")
        if writer.refusal(code, page) == NOBOTS:
            raise TargetError(f"{label}: the page excludes the bot ({{{{nobots}}}} or {{{{bots}}}}); left alone")
        new_text, applied, held, total_rows = _apply_tables(ctx, code, plan, page.text, report)
        lang = wiki.settings.language
        summary = messages.status_summary(lang, [t.id for t, _ in plan.tables if t.id in applied], total_rows)
        key = f"status:{code}:{title}:{page.revid}:{hashlib.sha256(new_text.encode()).hexdigest()[:16]}"
        try:
            outcome = writer.edit(code, page, new_text, summary, key=key,
                                  paced_by=(NS_PAGE, _page_key(code, title) + "|edited"))
        except EditConflict:
            log.info("%s: edit conflict, re-reading (attempt %d)", label, attempt, extra={"job": JOB})
            page = wiki.read_pages([title])[title]
            continue
        except UncertainWriteError as exc:
            # The next cycle re-reads the page and compares: a save that happened is then a no-op.
            ctx.store.put(NS_PAGE, _page_key(code, title) + "|dirty", True)
            raise TransientError(f"{label}: {exc}") from None
        if outcome.status == UNCHANGED:
            _remember(ctx, code, plan, applied, held)
            report.unchanged += 1
            return
        if outcome.reason == INTERVAL:
            report.held.append(f"{label}: edited less than {wiki.settings.min_edit_interval_minutes:g} min ago; "
                               f"update deferred")
            return
        if outcome.status == WOULD_SAVE:
            return
        _remember(ctx, code, plan, applied, held)
        report.saved.append((code, title, outcome.revid))
        log.info("%s: saved revision %s", label, outcome.revid, extra={"job": JOB})
        return
    raise TargetError(f"{label}: still in edit conflict after {CONFLICT_ATTEMPTS} attempts; will retry next cycle")


def _apply_tables(ctx, code, plan: _PagePlan, text: str, report: JobReport):
    """Place every table of this page into `text`; return (text, applied ids, held ids, rows)."""
    applied: dict[str, str] = {}
    held: dict[str, str] = {}
    total_rows = 0
    for table, body in plan.tables:
        pending_key = _page_key(code, plan.title, table.id)
        try:
            edit: TableEdit = plan_table_edit(text, table.id, body, max_drop_share=table.max_drop_share,
                                              confirmed_hash=ctx.store.get(NS_PENDING, pending_key),
                                              still_public=plan.still_public.get(table.id))
        except RegionError as exc:
            report.problems.append(f"wiki {code} page {plan.title!r}: {exc}; table {table.id} not written")
            continue
        if edit.action == "hold-shrink":
            held[table.id] = body_hash(body)
            report.held.append(
                f"wiki {code} page {plan.title!r}: table {table.id} would drop {len(edit.dropped)} of "
                f"{len(edit.old_ids)} rows; held until a second cycle confirms it or a human edits the table")
            continue
        text = edit.new_text
        applied[table.id] = body_hash(body)
        total_rows += len(edit.new_ids)
    return text, applied, held, total_rows


def _remember(ctx, code, plan: _PagePlan, applied: dict[str, str], held: dict[str, str]) -> None:
    for table_id, digest in applied.items():
        ctx.store.put(NS_RENDERED, _page_key(code, plan.title, table_id), digest)
        ctx.store.delete(NS_PENDING, _page_key(code, plan.title, table_id))
    for table_id, digest in held.items():
        ctx.store.put(NS_PENDING, _page_key(code, plan.title, table_id), digest)
    if not held:
        ctx.store.delete(NS_PAGE, _page_key(code, plan.title) + "|dirty")
