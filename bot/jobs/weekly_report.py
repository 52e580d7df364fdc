"""Weekly check-in report per ambassador: the week's work, what is pending, plans, time, newcomers.

For each ambassador the week is, by default, the current ISO week up to the run
(`reports.week: so_far`), or the last complete one (`last_complete`), in their home
wiki's time zone (the first wiki of their `wikis`); each wiki's edits are counted
over that same ISO week in that wiki's own time zone.

Week so far: from `post_at` on, the wiki section is written and then edited in place
at every run while the week lasts (found by its hidden key marker), and once more
by the first run after the week ended (with the complete week). Conduit cannot edit
a comment, so the Phabricator comment is posted once per week, at the first run
from `post_at` on.

Requests: per wiki, one continued `list=usercontribs` for all ambassadors due
(50 names a request); per ambassador with a Phabricator name, three
`maniphest.search` (created, closed, subscribed-and-modified) and one
`transaction.search` per task they are subscribed to that changed in the week
(commenting subscribes you). Nothing at all once every report of the week is
recorded.

Posting follows "nothing lost, nothing twice": key `weekly:<id>:<week>:<target>`;
skip when the store has it; look at the target for the key's marker (the hidden
comment in the wiki section, the marker line in the bot's own comments on the
task); write; record.
"""
from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass

import hashlib

from bot.domain import newsletter as nl
from bot.domain.weekly import (Week, mw_timestamp, newcomer_pulse, parse_mw_timestamp,
                               post_time, previous_week, replace_marked_section, report_week, section_text,
                               summarize_contributions, summarize_posts, summarize_tasks, time_spent,
                               week_bounds, week_label)
from bot.errors import (BotError, EditConflict, PartialData, ServerError, TargetError, TransientError,
                        UncertainWriteError)
from bot.jobs.base import JobContext, JobReport
from bot.jobs.documents import override_source, override_title, read_overrides, render_document
from bot.jobs.writer import NOBOTS, Writer
from bot.render import messages
from bot.render.environment import Markup
from bot.render.escape import UnsafeTitle, normal_title, remarkup_inline, title_url, wikilink, wikitext_inline
from bot.settings.reports import Ambassador

log = logging.getLogger(__name__)

JOB = "weekly-report"
DOCUMENT = "weekly_report"
NS_USERS = "phab-user-phids"     # Phabricator username -> PHID
NS_SECTION = "weekly-section"    # "<id>:<week>:<wiki>:<title>" -> {"hash", "revid"}: a week-so-far section written
NS_PLANS = "weekly-plans"        # "<id>:<week>" -> the plans text read during that week's report
# Other jobs' store namespaces this report reads (their owners: newsletter.py, feedback.py, mentions.py,
# status_report.py); spelled here so that reading them never needs to import those jobs' internals.
NS_NL_EDITION = "newsletter-edition"
NS_NL_PENDING = "newsletter-pending"
NS_NL_FAILED = "newsletter-failed"
NS_NL_SCHEDULE = "newsletter-schedule"
NS_PARKED = {"feedback": ("fb-parked", "fb-queue"), "mention": ("mention-parked", "mention-queue")}
NS_RUNS = "run-report"


@dataclass(frozen=True)
class _Destination:
    kind: str                 # "task" or "page"
    key: str
    wiki: str | None = None   # page: the wiki; task: None
    title: str = ""           # page title, or "T123"
    task: int = 0

    @property
    def markup(self) -> str:
        return "wiki" if self.kind == "page" else "remarkup"


def run(ctx: JobContext) -> JobReport:
    report = JobReport(JOB)
    section = ctx.settings.reports
    if section is None:
        return report
    now = ctx.clock()
    due: list[tuple[Ambassador, str, list[_Destination]]] = []
    for amb in section.ambassadors:
        for label, pending in _due(ctx, section, amb, now):
            due.append((amb, label, pending))
    if not due:
        report.unchanged += len(section.ambassadors)
        return report

    contributions, failed = _contributions(ctx, due, report, now)
    posts = ctx.store.posts()
    pulse_cache: dict = {}
    for amb, label, pending in due:
        where = f"weekly report {label} for {amb.id}"
        broken = sorted(set(amb.wikis) & failed)
        if broken:
            report.problems.append(f"{where}: contributions on {', '.join(broken)} could not be read; not posted")
            continue
        try:
            week = _until(week_bounds(label, _tz(ctx, amb.home_wiki)), now)
            tasks = _phab_activity(ctx, amb, week)
            extra = _extras(ctx, section, amb, label, now, contributions, report, pulse_cache)
            for dest in pending:
                activity = _context(ctx, amb, label, contributions, posts, tasks, dest, now=now, extra=extra)
                _deliver(ctx, amb, label, dest, activity, report, final=now >= week_bounds(
                    label, _tz(ctx, amb.home_wiki)).end)
        except (TargetError, TransientError, PartialData, ServerError) as exc:
            # One ambassador's trouble never stops the others' reports.
            report.problems.append(f"{where}: {exc}")
    log.info("%s", report.summary(), extra={"job": JOB})
    return report


def _until(week: Week, now: float) -> Week:
    """The week cut at the run (a week so far), or whole once it is over."""
    return week if now >= week.end else Week(week.label, week.tz, week.start, max(week.start, int(now) + 1))


def _section_key(amb: Ambassador, label: str, dest: "_Destination") -> str:
    return f"{amb.id}:{label}:{dest.wiki}:{dest.title}"


def _due(ctx: JobContext, section, amb: Ambassador, now: float) -> list[tuple[str, list["_Destination"]]]:
    """(week label, destinations) still to write for `amb` at `now`."""
    tz = _tz(ctx, amb.home_wiki)
    out = []
    if section.week == "last_complete":
        label = previous_week(now, tz).label
        pending = [d for d in _destinations(amb, label) if not ctx.store.has_post(d.key)]
        if pending:
            out.append((label, pending))
        return out
    # The week that just ended: its section, written while it ran, gets the complete week once.
    last = previous_week(now, tz).label
    closing = [d for d in _destinations(amb, last) if d.kind == "page" and not ctx.store.has_post(d.key)
               and ctx.store.get(NS_SECTION, _section_key(amb, last, d)) is not None]
    if closing:
        out.append((last, closing))
    week = report_week(now, tz, "so_far")
    if now >= post_time(week, amb.post_at):
        pending = [d for d in _destinations(amb, week.label) if not ctx.store.has_post(d.key)]
        if pending:
            out.append((week.label, pending))
    return out


def _tz(ctx: JobContext, code: str | None) -> str:
    return ctx.settings.wikis[code].timezone if code else "UTC"


def _destinations(amb: Ambassador, label: str) -> list[_Destination]:
    out = []
    if amb.task is not None:
        out.append(_Destination("task", f"weekly:{amb.id}:{label}:T{amb.task}", title=f"T{amb.task}", task=amb.task))
    if amb.page is not None:
        code, title = amb.page
        out.append(_Destination("page", f"weekly:{amb.id}:{label}:{code}:{title}", wiki=code, title=title))
    return out


def _marker(amb: Ambassador, label: str, markup: str) -> str:
    if markup == "wiki":
        return f"<!-- ambassador-bot:key=weekly:{amb.id}:{label} -->"
    # Remarkup has no hidden comments: a plain last line the bot looks for in its own comments.
    return f"(ambassador-bot weekly-report {amb.id} {label})"


# -- reading ---------------------------------------------------------------------------------------

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
            week = _until(week, now)
        try:
            rows = ctx.wikis[code].user_contributions(sorted(users), mw_timestamp(week.start),
                                                      mw_timestamp(week.last_second))
        except (TransientError, ServerError) as exc:
            failed.add(code)
            report.problems.append(f"wiki {code}: list=usercontribs failed: {exc}")
            continue
        for c in rows:
            found[(code, label, _user_key(c.user))].append(c)
    return found, failed


def _user_key(name: str) -> str:
    name = name.replace("_", " ").strip()
    return name[:1].upper() + name[1:]


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


# -- the report's data ---------------------------------------------------------------------------

def _page_url(ctx: JobContext, code: str, title: str) -> str:
    base = ctx.settings.wikis[code].api_url[:-len("api.php")]
    return title_url(base + "index.php", title)


def _page_link(ctx: JobContext, code: str, title: str, dest: _Destination) -> Markup:
    """A link to a page the ambassador edited, built by bot/render/escape.py from its title.

    A title MediaWiki would refuse (it did not come from MediaWiki, or was tampered
    with) is shown as escaped text, without a link, rather than losing the report.
    """
    try:
        if dest.markup == "remarkup":
            return Markup(f"[[ {_page_url(ctx, code, title)} | {remarkup_inline(normal_title(title))} ]]")
        if dest.wiki == code:
            return Markup(wikilink(title))
        return Markup(f"[{_page_url(ctx, code, title)} {wikitext_inline(normal_title(title))}]")
    except UnsafeTitle as exc:
        log.warning("weekly report: %s; shown without a link", exc, extra={"job": JOB, "wiki": code})
        return Markup((remarkup_inline if dest.markup == "remarkup" else wikitext_inline)(title))


def _task_link(task_id: int, markup: str) -> Markup:
    return Markup(f"[[phab:T{task_id}|T{task_id}]]" if markup == "wiki" else f"T{task_id}")


def _context(ctx: JobContext, amb: Ambassador, label: str, contributions, posts, tasks, dest: _Destination, *,
             now: float | None = None, extra: dict | None = None, lang: str | None = None) -> dict:
    now = ctx.clock() if now is None else now
    whole = week_bounds(label, _tz(ctx, amb.home_wiki))
    home_week = _until(whole, now)
    lang = lang or _lang(ctx, amb, dest)
    codes = list(ctx.settings.wikis)
    extra = extra or {}
    wikis = []
    for code, username in amb.wikis.items():
        week = _until(week_bounds(label, _tz(ctx, code)), now)
        summary = summarize_contributions(contributions.get((code, label, _user_key(username)), []), week)
        for ns in summary["namespaces"]:
            for page in ns["pages"]:
                page["link"] = _page_link(ctx, code, page["title"], dest)
        bot_posts = summarize_posts(posts, week, code, codes)
        pending = _shown_pending(extra.get("pending", {}).get(code, {}), dest)
        wikis.append({"code": code, "username": username, "tz": week.tz, "start": week.start,
                      "last": week.last_second, **summary, **bot_posts, "pending": pending,
                      "newcomers": extra.get("newcomers", {}).get(code)})
    task_data = None
    if tasks is not None:
        task_data = summarize_tasks(tasks["created"], tasks["closed"], tasks["comments"], tasks["facts"],
                                    public_only=dest.kind == "page")
        for group in ("created", "closed", "commented"):
            for t in task_data[group]:
                t["link"] = _task_link(t["id"], dest.markup)
    parked = extra.get("parked", [])
    return {
        "ambassador": {"id": amb.id, "name": amb.name, "phabricator": amb.phabricator or "",
                       "wikis": [{"code": c, "username": u} for c, u in amb.wikis.items()]},
        "week": {"label": label, "title": messages.week_title(label, lang), "start": home_week.start,
                 "last": home_week.last_second, "tz": home_week.tz, "so_far": now < whole.end},
        "wikis": wikis,
        "tasks": task_data,
        "totals": {"edits": sum(w["edits"] for w in wikis), "deliveries": sum(w["deliveries"] for w in wikis),
                   "feedback": sum(w["feedback"] for w in wikis)},
        # Feedback waiting on tasks the bot cannot see: numbers on Phabricator only (they may be private).
        "parked": {"count": sum(p["items"] for p in parked),
                   "tasks": [] if dest.kind == "page" else [{**p, "link": _task_link(p["id"], dest.markup)}
                                                            for p in parked]},
        "plans": _plan_items(extra.get("plans")),
        "time": extra.get("time"),
    }


def _plan_items(plans: dict | None) -> dict | None:
    """Plans as lines of text (list markers dropped): the report shows them as written, never as markup."""
    if plans is None:
        return None

    def items(text):
        return [line.lstrip("*#:; ").strip() for line in (text or "").splitlines() if line.lstrip("*#:; ").strip()]
    return {**plans, "next_items": items(plans.get("next")), "last_items": items(plans.get("last"))}


def _lang(ctx: JobContext, amb: Ambassador, dest: _Destination) -> str:
    """The manager's language on Phabricator, the ambassador's on the wiki page."""
    if dest.kind == "task":
        section = ctx.settings.reports
        return section.language if section else ctx.settings.phabricator.language
    return amb.language


def _shown_pending(pending: dict, dest: _Destination) -> dict:
    return {"editions": pending.get("editions", []), "failed": pending.get("failed", []),
            "held": pending.get("held", []), "problems": pending.get("problems", []),
            "parked": pending.get("parked", 0),
            "count": pending.get("count", 0)}


# -- pending, plans, time, newcomers ----------------------------------------------------------

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
        p["count"] = (len(p["editions"]) + len(p["failed"]) + len(p["problems"]) + sum(h["count"] for h in p["held"])
                      + p["parked"])
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
                  for c in contributions.get((code, label, _user_key(username)), [])]
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


def _closing(ctx: JobContext, amb: Ambassador, label: str, now: float) -> bool:
    return now >= week_bounds(label, _tz(ctx, amb.home_wiki)).end


def _open_drafts(ctx: JobContext, code: str) -> list[tuple[str, str]]:
    """(edition, draft page title) of editions drafted on `code` and not yet being published."""
    settings = ctx.settings.newsletters
    if settings is None or code not in settings.wikis:
        return []
    out = []
    for key, value in ctx.store.items(NS_NL_EDITION).items():
        wiki, _, edition = key.partition(":")
        if wiki == code and not (value or {}).get("frozen"):
            out.append((edition, settings.wikis[code].title("draft_page", edition)))
    return sorted(out)


def newsletter_pending(ctx: JobContext, code: str, now: float, pages: dict) -> list[dict]:
    """Editions on `code` that wait on a human or on the bot, from the newsletter job's store and the drafts.

    draft: the on-wiki marker says draft (waits on an approver); approved: it says ready (waits on
    `newsletter publish`); scheduled: ready with a send time (`send=` on the marker or the config's
    `send_at`; waits for that time); due: the month's draft is due (draft_day reached) and not made
    yet (waits on the bot); sending: publication began and deliveries are interrupted or failed, or
    the edition page is not created yet.
    """
    settings = ctx.settings.newsletters
    if settings is None or code not in settings.wikis:
        return []
    out = []
    for edition, title in _open_drafts(ctx, code):
        page = pages.get(title)
        if page is None or not page.exists:
            continue
        status = nl.draft_status(page.text)
        item = {"edition": edition, "state": "draft", "title": title, "send": ""}
        if status == nl.READY:
            send = nl.marker_options(page.text).send
            # Approved with a send time (on the marker, or the config's default): it waits for that time.
            item.update(state="scheduled" if send or getattr(settings, "send_at", None) else "approved",
                        send=send or "")
        out.append(item)
    editions = ctx.store.items(NS_NL_EDITION)
    for key, value in editions.items():
        wiki, _, edition = key.partition(":")
        if wiki != code or not (value or {}).get("frozen"):
            continue
        prefix = f"nl:{edition}:{code}:"
        delivered = sum(1 for p in ctx.store.posts("newsletter-message") if p.key.startswith(prefix))
        interrupted = sum(1 for k in ctx.store.items(NS_NL_PENDING) if k.startswith(prefix))
        failed = sum(1 for k in ctx.store.items(NS_NL_FAILED) if k.startswith(prefix))
        if interrupted or failed or not ctx.store.has_post(nl.page_key(edition, code)):
            out.append({"edition": edition, "state": "sending", "send": "", "delivered": delivered,
                        "interrupted": interrupted, "failed": failed})
    tz = ctx.settings.wikis[code].timezone
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo
    local = datetime.fromtimestamp(now, timezone.utc).astimezone(ZoneInfo(tz))
    due = nl.previous_edition(now, tz).id
    if (local.day >= settings.draft_day and f"{code}:{due}" not in editions
            and not ctx.store.get(NS_NL_SCHEDULE, f"{code}:{due}")):
        out.append({"edition": due, "state": "due", "send": ""})
    return sorted(out, key=lambda e: (e["edition"], e["state"]))


def failed_deliveries(store, code: str) -> list[dict]:
    """Newsletter deliveries on `code` that failed (retried on the next publish)."""
    out = []
    for key, value in store.items(NS_NL_FAILED).items():
        parts = key.split(":")
        if len(parts) > 2 and parts[0] == "nl" and parts[2] == code:
            out.append({"edition": parts[1], "title": value.get("title", ""), "error": value.get("error", "")})
    return sorted(out, key=lambda f: (f["edition"], f["title"]))


def parked_feedback(store) -> tuple[dict[str, int], list[dict]]:
    """Feedback and mentions waiting for a task the bot cannot see or that does not exist.

    ({wiki: waiting items}, [{"id", "wiki", "items", "kind"}]) from the feedback and mentions
    jobs' parked tasks and queues.
    """
    per_wiki: dict[str, int] = defaultdict(int)
    tasks: dict[tuple[int, str, str], int] = defaultdict(int)
    for kind, (ns_parked, ns_queue) in NS_PARKED.items():
        parked = {k for k in store.items(ns_parked)}
        if not parked:
            continue
        for value in store.items(ns_queue).values():
            task = (value or {}).get("task")
            if task is None or f"T{int(task)}" not in parked:
                continue
            wiki = value.get("wiki", "")
            per_wiki[wiki] += 1
            tasks[(int(task), wiki, kind)] += 1
    return dict(per_wiki), [{"id": t, "wiki": w, "kind": k, "items": n} for (t, w, k), n in sorted(tasks.items())]


def run_report_open(store, code: str) -> list[dict]:
    """The run report's last outcome of each job on `code` that has problems or held items."""
    out = []
    for key, value in sorted(store.items(NS_RUNS).items()):
        if key.startswith(code + "|") and (value.get("problems") or value.get("held")):
            out.append({"job": value.get("job", key.split("|", 1)[-1]), "problems": list(value.get("problems") or []),
                        "held": int(value.get("held") or 0)})
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
    week = _until(week_bounds(label, tz), now)
    before = week_bounds(week_label(week.start - 1, tz), tz)
    start, end = mw_timestamp(before.start), mw_timestamp(week.last_second)
    count0 = wiki.request_count if hasattr(wiki, "request_count") else 0
    try:
        bot = _user_key(ctx.settings.wikis[code].username)
        # The bot's own account is no newcomer (its report edits would count themselves).
        accounts = [{"user": a["user"], "timestamp": parse_mw_timestamp(a["timestamp"])}
                    for a in wiki.new_accounts(start, end) if _user_key(a["user"]) != bot]
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


def sample_context(ctx: JobContext, code: str | None, lang: str, markup: str) -> dict:
    """Made-up activity for `templates check`/`preview`, shaped exactly like a real report's."""
    from bot.domain.weekly import Contribution
    from bot.settings.reports import Ambassador as Amb

    code = code or next(iter(ctx.settings.wikis))
    amb = Amb(id="sample", name="Jana Nováková", wikis={code: "Jana Nováková"}, phabricator="jnovakova",
              task=1, page=(code, "User:Jana Nováková/Weekly"), language=lang)
    label = previous_week(ctx.clock(), _tz(ctx, code)).label
    week = week_bounds(label, _tz(ctx, code))
    t = week.start + 3600 * 10
    rows = [Contribution("Jana Nováková", 1, "Nápověda:Úvod", 12, t, "/* Začínáme */ oprava", 120),
            Contribution("Jana Nováková", 2, "Nápověda:Úvod", 12, t + 60, "", -4),
            Contribution("Jana Nováková", 3, "Diskuse:Growth", 1, t + 120, "/* Mentoring [[x]] */ odpověď", 300),
            Contribution("Jana Nováková", 4, "Mentor ''tip'' {{x}}", 0, t + 180, "nový", 2000, new=True)]
    contributions = {(code, label, _user_key("Jana Nováková")): rows}
    facts = {7: {"id": 7, "title": "Welcome survey [[link]]", "status": "open", "public": True},
             8: {"id": 8, "title": "Security issue", "status": "resolved", "public": False}}
    tasks = {"created": [facts[7]], "closed": [facts[8]], "comments": {7: 2}, "facts": facts}
    dest = _Destination("page" if markup == "wiki" else "task", "sample", wiki=code, title="x", task=1)
    from types import SimpleNamespace
    posts = [SimpleNamespace(key=f"nld:2026-12:{code}:sample", kind="edit", target=f"{code}:Newsletter", created_at=t),
             *(SimpleNamespace(key=f"nl:2026-12:{code}:{i}", kind="newsletter-message", target=f"{code}:Talk {i}",
                               created_at=t) for i in range(3)),
             SimpleNamespace(key=f"fb-phab:{code}:1:sample", kind="task-comment", target="T7", created_at=t)]
    extra = {"pending": {code: {"editions": [{"edition": "2026-12", "state": "draft", "title": "x", "send": ""},
                                             {"edition": "2026-11", "state": "sending", "send": "", "delivered": 40,
                                              "interrupted": 1, "failed": 2}],
                                "failed": [{"edition": "2026-11", "title": "Diskuse s uživatelem:X", "error": "protected"}],
                                "held": [{"job": "newsletter", "count": 3}],
                                "problems": [{"job": "feedback", "text": "wiki cs: page 'X' is protected"}],
                                "parked": 1, "count": 8}},
             "parked": [{"id": 9, "wiki": code, "kind": "feedback", "items": 1}],
             "plans": {"next": "* Uvítat nováčky\n* Přeložit [[Nápověda:Úvod]]", "last": "* Zpravodaj", "page": "x"},
             "time": time_spent([r.timestamp for r in rows], 8),
             "newcomers": {code: {"this": {"accounts": 12, "editors": 5, "edits": 31, "reverted": 4, "questions": 3},
                                  "before": {"accounts": 9, "editors": 4, "edits": 20, "reverted": 2, "questions": 1},
                                  "requests": 4, "tags": ["help-panel-question"]}}}
    return _context(ctx, amb, label, contributions, posts, tasks, dest, now=week.end, extra=extra, lang=lang)


# -- posting ----------------------------------------------------------------------------------------

def _deliver(ctx: JobContext, amb: Ambassador, label: str, dest: _Destination, activity: dict,
             report: JobReport, final: bool = True) -> None:
    if dest.kind == "task":
        _post_task(ctx, amb, label, dest, activity, report)
    else:
        _post_page(ctx, amb, label, dest, activity, report, final)


def _render(ctx, amb, dest: _Destination, code: str | None, states: dict, activity: dict, report) -> str:
    title = override_title(ctx, code, DOCUMENT, dest.markup) if code else None
    return render_document(ctx, code or "-", DOCUMENT, _lang(ctx, amb, dest), dest.markup,
                           override=override_source(states, title), override_title=title,
                           problems=report.problems, **activity)


def _post_task(ctx: JobContext, amb: Ambassador, label: str, dest: _Destination, activity: dict,
               report: JobReport) -> None:
    """One comment per week: Conduit cannot edit a comment, so it is posted once and never changed."""
    home = amb.home_wiki
    title = override_title(ctx, home, DOCUMENT, "remarkup") if home else None
    states = read_overrides(ctx, home, [title]) if title else {}
    marker = _marker(amb, label, "remarkup")
    text = _render(ctx, amb, dest, home, states, activity, report).rstrip("\n") + "\n\n" + marker
    writer = Writer(ctx, report)
    if not writer.dry_run:  # a dry run posts nothing, so it need not ask whether the comment is there
        bot_phid = _bot_phid(ctx)
        for x in ctx.phab.transactions(dest.title, author_phids=[bot_phid]):
            if any(marker in text for text in x.texts):
                # Posted before the record was written (crash or uncertain write): record it now.
                writer.found(dest.key, "task-comment", dest.title, x.phid)
                report.unchanged += 1
                return
    try:
        outcome = writer.task_comment(
            dest.task, text, key=dest.key, target=dest.title,
            preview=f"--- weekly report {label} for {amb.id} -> {dest.title} (dry run) ---\n{text}\n\n")
    except UncertainWriteError as exc:
        raise TransientError(f"{exc}; the next run looks at {dest.title} before posting again") from None
    if outcome.saved:
        report.saved.append(("phabricator", dest.title, 0))
        log.info("weekly report %s for %s posted on %s", label, amb.id, dest.title, extra={"job": JOB})


def _bot_phid(ctx: JobContext) -> str:
    return ctx.bot_phid()


def _post_page(ctx: JobContext, amb: Ambassador, label: str, dest: _Destination, activity: dict,
               report: JobReport, final: bool = True) -> None:
    """The week's section: added once, then edited in place while the week runs; `final` records it."""
    code, page_title = dest.wiki, dest.title
    writer = Writer(ctx, report)
    override = override_title(ctx, code, DOCUMENT, "wiki")
    states = read_overrides(ctx, code, [override], also=[page_title] + writer.run_page_titles(code))
    label_target = f"wiki {code} page {page_title!r}"
    stop = writer.note_run_page(code, states)
    if stop:
        raise TargetError(f"{stop}; not posted on {code}")
    page = states[page_title]
    marker = _marker(amb, label, "wiki")
    if writer.refusal(code, page) == NOBOTS:
        raise TargetError(f"{label_target}: the page excludes the bot ({{{{nobots}}}} or {{{{bots}}}})")
    text = _render(ctx, amb, dest, code, states, activity, report).rstrip("\n")
    lang = amb.language
    name = re.sub(r"[\[\]{}|<>]", "", amb.name)
    week = messages.week_title(label, lang)
    heading = messages.msg(lang, "wr-heading", week, wikitext_inline(amb.name))
    summary = messages.msg(lang, "wr-summary", week, name)
    section_key = _section_key(amb, label, dest)
    # The post is recorded only with the week's last version (`final`); until then the section is edited.
    post_key = dest.key if final else None

    def done(revid):
        ctx.store.put(NS_SECTION, section_key, {"hash": _digest(heading + "\n" + text), "revid": revid})

    if page.exists and marker in page.text:
        new_text = replace_marked_section(page.text, marker, heading, text)
        stored = ctx.store.get(NS_SECTION, section_key) or {}
        if new_text == page.text or stored.get("hash") == _digest(heading + "\n" + text):
            done(page.revid)
            if post_key:
                writer.found(post_key, "edit", f"{code}:{page_title}", page.revid)
            report.unchanged += 1
            return
        try:
            outcome = writer.edit(
                code, page, new_text, summary, key=post_key, merge_ok=False,
                preview=f"--- weekly report {label} for {amb.id} -> {code}:{page_title}, section updated "
                        f"(dry run) ---\n== {heading} ==\n{text}\n\n")
        except EditConflict as exc:
            if exc.saved_revid:
                done(exc.saved_revid)
                if post_key:
                    writer.found(post_key, "edit", f"{code}:{page_title}", exc.saved_revid)
                report.saved.append((code, page_title, exc.saved_revid))
                return
            raise TransientError(f"{label_target}: edited meanwhile; the section is updated on the next run") from None
        except UncertainWriteError as exc:
            raise TransientError(f"{exc}; the next run compares the section before editing again") from None
        if not outcome.saved:
            return
        done(outcome.revid)
        report.saved.append((code, page_title, outcome.revid))
        log.info("weekly report %s for %s updated on %s:%s", label, amb.id, code, page_title, extra={"job": JOB})
        return
    body = text + "\n" + marker
    try:
        outcome = writer.new_section(
            code, page_title, heading, body, summary, key=post_key, kind="edit", page=page,
            preview=f"--- weekly report {label} for {amb.id} -> {code}:{page_title} (dry run) ---\n"
                    f"== {heading} ==\n{body}\n\n")
    except UncertainWriteError as exc:
        raise TransientError(f"{exc}; the next run looks for the report's marker before posting again") from None
    if not outcome.saved:
        return
    done(outcome.revid)
    report.saved.append((code, page_title, outcome.revid))
    log.info("weekly report %s for %s saved on %s:%s", label, amb.id, code, page_title, extra={"job": JOB})


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
