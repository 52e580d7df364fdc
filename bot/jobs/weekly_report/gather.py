"""Gathering one week's activity: contributions and the newcomer pulse from the wikis, tasks from
Conduit, and what waits (pending, plans, time) from the store and the wikis. Reads only."""
from __future__ import annotations

import logging
from collections import defaultdict

from bot.domain.weekly import (Week, mw_timestamp, newcomer_pulse, parse_mw_timestamp, pending_count,
                               section_text, time_spent, user_key, week_bounds, week_label, week_until)
from bot.errors import BotError, ServerError, TargetError, TransientError
from bot.jobs.base import JobContext, JobReport
from bot.jobs.weekly_report.pending import (_open_drafts, failed_deliveries, newsletter_pending, parked_feedback,
                                            run_report_open)
from bot.jobs.weekly_report.targets import JOB, NS_PLANS, NS_USERS, _closing, _tz
from bot.settings.reports import Ambassador

# The job's one logger, as before it was split into modules (the log lines name it).
log = logging.getLogger("bot.jobs.weekly_report")


def _contributions(ctx: JobContext, due, report: JobReport, now: float | None = None):
    """{(wiki, username): [Contribution]} for every due ambassador, one continued query per wiki and week."""
    groups: dict[tuple[str, str], set[str]] = defaultdict(set)
    for amb, label, _ in due:
        for code, username in amb.wikis.items():
            groups[(code, label)].add(username)
    found: dict[tuple[str, str, str], list] = defaultdict(list)
    failed: set[str] = set()
    for (code, label), users in sorted(groups.items()):
        week = week_bounds(label, _tz(ctx, code))
        if now is not None:
            week = week_until(week, now)
        try:
            rows = ctx.wikis[code].user_contributions(sorted(users), mw_timestamp(week.start),
                                                      mw_timestamp(week.last_second))
        except (TransientError, ServerError) as exc:
            failed.add(code)
            report.problems.append(f"wiki {code}: list=usercontribs failed: {exc}")
            continue
        for c in rows:
            found[(code, label, user_key(c.user))].append(c)
    return found, failed


def _user_phid(ctx: JobContext, username: str) -> str:
    phid = ctx.store.get(NS_USERS, username)
    if phid:
        return phid
    for user in ctx.phab.users_by_name([username]):
        if user.username.lower() == username.lower():
            ctx.store.put(NS_USERS, username, user.phid)
            return user.phid
    raise TargetError(f"no Phabricator user {username!r} (reports.ambassadors phabricator)")


def _phab_activity(ctx: JobContext, amb: Ambassador, week: Week) -> dict | None:
    """Raw task activity of the week: created, closed, comments per task, task facts by id."""
    if not amb.phabricator:
        return None
    phid = _user_phid(ctx, amb.phabricator)
    last = week.last_second
    created = ctx.phab.search_tasks(authors=[phid], created_start=week.start, created_end=last)
    closed = ctx.phab.search_tasks(closers=[phid], closed_start=week.start, closed_end=last)
    # Commenting subscribes the commenter, so their commented tasks are among these.
    touched = ctx.phab.search_tasks(subscribers=[phid], modified_start=week.start)
    comments: dict[int, int] = {}
    for task in touched:
        n = sum(1 for c in ctx.phab.task_comments(task.id, author_phids=[phid])
                if not c.removed and week.contains(c.date_created))
        if n:
            comments[task.id] = n
    # "public" is the one visibility rule (view policy and Space), bot/domain/tasks.py.
    facts = {t.id: {"id": t.id, "title": t.title, "status": t.status, "public": t.is_public}
             for t in [*created, *closed, *touched]}
    return {"created": [facts[t.id] for t in created], "closed": [facts[t.id] for t in closed],
            "comments": comments, "facts": facts}


def _extras(ctx: JobContext, section, amb: Ambassador, label: str, now: float, contributions, report,
            pulse_cache: dict) -> dict:
    extra: dict = {"pending": {}, "newcomers": {}}
    parked_by_wiki, parked = parked_feedback(ctx.store)
    reads = _page_reads(ctx, amb, label, now)
    for code in amb.wikis:
        p = {"editions": newsletter_pending(ctx, code, now, reads.get(code, {})),
             "failed": failed_deliveries(ctx.store, code),
             "held": [], "problems": [], "parked": parked_by_wiki.get(code, 0)}
        for run in run_report_open(ctx.store, code):
            if run["problems"]:
                p["problems"].extend({"job": run["job"], "text": x} for x in run["problems"])
            if run["held"]:
                p["held"].append({"job": run["job"], "count": run["held"]})
        p["count"] = pending_count(p)
        extra["pending"][code] = p
        if code in section.newcomers:
            key = (code, label)
            if key not in pulse_cache:
                pulse_cache[key] = _newcomers(ctx, code, label, now, section.newcomers[code], report)
            extra["newcomers"][code] = pulse_cache[key]
    extra["parked"] = [p for p in parked if p["wiki"] in amb.wikis]
    if amb.plans is not None:
        extra["plans"] = _plans(ctx, amb, label, now, reads)
    if amb.time_spent:
        stamps = [c.timestamp for code, username in amb.wikis.items()
                  for c in contributions.get((code, label, user_key(username)), [])]
        extra["time"] = time_spent(stamps, amb.budget_hours)
    return extra


def _page_reads(ctx: JobContext, amb: Ambassador, label: str, now: float) -> dict:
    """The pages this ambassador's report reads, one batched request per wiki: drafts and the plans page."""
    wanted: dict[str, list[str]] = {}
    for code in amb.wikis:
        wanted.setdefault(code, []).extend(t for _, t in _open_drafts(ctx, code))
    if amb.plans is not None and not _closing(ctx, amb, label, now):
        wanted.setdefault(amb.plans[0], []).append(amb.plans[1])
    out: dict = {}
    for code, titles in wanted.items():
        if titles:
            out[code] = ctx.wikis[code].read_pages(titles)
    return out


def _plans(ctx: JobContext, amb: Ambassador, label: str, now: float, reads: dict) -> dict:
    """Next week's plans as written on the wiki now, and those written for this week (kept last week)."""
    code, title, heading = amb.plans
    tz = _tz(ctx, amb.home_wiki)
    before = week_label(week_bounds(label, tz).start - 1, tz)
    last = ctx.store.get(NS_PLANS, f"{amb.id}:{before}")
    if _closing(ctx, amb, label, now):
        return {"next": ctx.store.get(NS_PLANS, f"{amb.id}:{label}"), "last": last, "page": title}
    page = reads.get(code, {}).get(title)
    text = section_text(page.text, heading) if page is not None and page.exists else None
    if text is not None:
        ctx.store.put(NS_PLANS, f"{amb.id}:{label}", text)
    return {"next": text, "last": last, "page": title}


def _newcomers(ctx: JobContext, code: str, label: str, now: float, tags, report: JobReport) -> dict | None:
    """Newcomer pulse of `code` for the week and the one before: 1 + n/50 + one per tag requests (continued)."""
    wiki = ctx.wikis[code]
    tz = _tz(ctx, code)
    week = week_until(week_bounds(label, tz), now)
    before = week_bounds(week_label(week.start - 1, tz), tz)
    start, end = mw_timestamp(before.start), mw_timestamp(week.last_second)
    count0 = wiki.request_count if hasattr(wiki, "request_count") else 0
    try:
        bot = user_key(ctx.settings.wikis[code].username)
        # The bot's own account is no newcomer (its report edits would count themselves).
        accounts = [{"user": a["user"], "timestamp": parse_mw_timestamp(a["timestamp"])}
                    for a in wiki.new_accounts(start, end) if user_key(a["user"]) != bot]
        contribs = [{"user": c["user"], "timestamp": parse_mw_timestamp(c["timestamp"]), "tags": c["tags"]}
                    for c in wiki.contributions_with_tags(sorted({a["user"] for a in accounts}), start, end)] \
            if accounts else []
        questions = []
        for tag in tags:
            questions.extend({"timestamp": parse_mw_timestamp(q["timestamp"])}
                             for q in wiki.tagged_changes(tag, start, end))
    except (TransientError, ServerError, BotError) as exc:
        report.problems.append(f"wiki {code}: newcomer pulse could not be read: {exc}")
        return None
    requests = (wiki.request_count - count0) if hasattr(wiki, "request_count") else 0
    pulse = newcomer_pulse(accounts, contribs, questions, week, before)
    pulse["requests"] = requests
    pulse["tags"] = list(tags)
    ctx.out.write(f"newcomer pulse {code} {label}: {requests} requests\n")
    log.info("newcomer pulse %s %s: %d requests", code, label, requests, extra={"job": JOB, "wiki": code})
    return pulse
