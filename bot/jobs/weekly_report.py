"""Weekly check-in report per ambassador: last week's activity, posted once to the manager.

For each ambassador the week is the last complete ISO week in their home wiki's
time zone (the first wiki of their `wikis`); each wiki's edits are counted over
that same ISO week in that wiki's own time zone.

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

from bot.domain.weekly import (Week, mw_timestamp, previous_week, summarize_contributions, summarize_posts,
                               summarize_tasks, week_bounds)
from bot.domain.wikitext import bot_may_edit
from bot.errors import PartialData, ServerError, TargetError, TransientError, UncertainWriteError
from bot.jobs.base import JobContext, JobReport
from bot.jobs.templates_check import override_source, override_title, read_overrides, render_document
from bot.render import messages
from bot.render.environment import Markup
from bot.render.escape import UnsafeTitle, normal_title, remarkup_inline, title_url, wikilink, wikitext_inline
from bot.settings_reports import Ambassador

log = logging.getLogger(__name__)

JOB = "weekly-report"
DOCUMENT = "weekly_report"
NS_USERS = "phab-user-phids"     # Phabricator username -> PHID


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
    section = ctx.settings.section("reports")
    if section is None:
        return report
    now = ctx.clock()
    due: list[tuple[Ambassador, str, list[_Destination]]] = []
    for amb in section.ambassadors:
        label = previous_week(now, _tz(ctx, amb.home_wiki)).label
        pending = [d for d in _destinations(amb, label) if not ctx.store.has_post(d.key)]
        if pending:
            due.append((amb, label, pending))
        else:
            report.unchanged += 1
    if not due:
        return report

    contributions, failed = _contributions(ctx, due, report)
    posts = ctx.store.posts()
    for amb, label, pending in due:
        where = f"weekly report {label} for {amb.id}"
        broken = sorted(set(amb.wikis) & failed)
        if broken:
            report.problems.append(f"{where}: contributions on {', '.join(broken)} could not be read; not posted")
            continue
        try:
            tasks = _phab_activity(ctx, amb, week_bounds(label, _tz(ctx, amb.home_wiki)))
            for dest in pending:
                activity = _context(ctx, amb, label, contributions, posts, tasks, dest)
                _deliver(ctx, amb, label, dest, activity, report)
        except (TargetError, TransientError, PartialData, ServerError) as exc:
            # One ambassador's trouble never stops the others' reports.
            report.problems.append(f"{where}: {exc}")
    log.info("%s", report.summary(), extra={"job": JOB})
    return report


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

def _contributions(ctx: JobContext, due, report: JobReport):
    """{(wiki, username): [Contribution]} for every due ambassador, one continued query per wiki and week."""
    groups: dict[tuple[str, str], set[str]] = defaultdict(set)
    for amb, label, _ in due:
        for code, username in amb.wikis.items():
            groups[(code, label)].add(username)
    found: dict[tuple[str, str, str], list] = defaultdict(list)
    failed: set[str] = set()
    for (code, label), users in sorted(groups.items()):
        week = week_bounds(label, _tz(ctx, code))
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
    for row in ctx.phab.search_all("user.search", {"constraints": {"usernames": [username]}}):
        if row["fields"]["username"].lower() == username.lower():
            ctx.store.put(NS_USERS, username, row["phid"])
            return row["phid"]
    raise TargetError(f"no Phabricator user {username!r} (reports.ambassadors phabricator)")


def _phab_activity(ctx: JobContext, amb: Ambassador, week: Week) -> dict | None:
    """Raw task activity of the week: created, closed, comments per task, task facts by id."""
    if not amb.phabricator:
        return None
    phid = _user_phid(ctx, amb.phabricator)
    last = week.last_second
    created = ctx.phab.find_tasks({"authorPHIDs": [phid], "createdStart": week.start, "createdEnd": last})
    closed = ctx.phab.find_tasks({"closerPHIDs": [phid], "closedStart": week.start, "closedEnd": last})
    # Commenting subscribes the commenter, so their commented tasks are among these.
    touched = ctx.phab.find_tasks({"subscribers": [phid], "modifiedStart": week.start})
    comments: dict[int, int] = {}
    for task in touched:
        n = 0
        for x in ctx.phab.transactions(task.monogram, author_phids=[phid]):
            if x.get("type") == "comment" and week.contains(int(x.get("dateCreated") or 0)) and any(
                    not c.get("removed") for c in x.get("comments") or []):
                n += 1
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


def _context(ctx: JobContext, amb: Ambassador, label: str, contributions, posts, tasks, dest: _Destination) -> dict:
    home_week = week_bounds(label, _tz(ctx, amb.home_wiki))
    codes = list(ctx.settings.wikis)
    wikis = []
    for code, username in amb.wikis.items():
        week = week_bounds(label, _tz(ctx, code))
        summary = summarize_contributions(contributions.get((code, label, _user_key(username)), []), week)
        for ns in summary["namespaces"]:
            for page in ns["pages"]:
                page["link"] = _page_link(ctx, code, page["title"], dest)
        bot_posts = summarize_posts(posts, week, code, codes)
        wikis.append({"code": code, "username": username, "tz": week.tz, "start": week.start,
                      "last": week.last_second, **summary, **bot_posts})
    task_data = None
    if tasks is not None:
        task_data = summarize_tasks(tasks["created"], tasks["closed"], tasks["comments"], tasks["facts"],
                                    public_only=dest.kind == "page")
        for group in ("created", "closed", "commented"):
            for t in task_data[group]:
                t["link"] = _task_link(t["id"], dest.markup)
    return {
        "ambassador": {"id": amb.id, "name": amb.name, "phabricator": amb.phabricator or "",
                       "wikis": [{"code": c, "username": u} for c, u in amb.wikis.items()]},
        "week": {"label": label, "start": home_week.start, "last": home_week.last_second, "tz": home_week.tz},
        "wikis": wikis,
        "tasks": task_data,
        "totals": {"edits": sum(w["edits"] for w in wikis), "deliveries": sum(w["deliveries"] for w in wikis),
                   "feedback": sum(w["feedback"] for w in wikis)},
    }


def sample_context(ctx: JobContext, code: str | None, lang: str, markup: str) -> dict:
    """Made-up activity for `templates check`/`preview`, shaped exactly like a real report's."""
    from bot.domain.weekly import Contribution
    from bot.settings_reports import Ambassador as Amb

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
    return _context(ctx, amb, label, contributions, posts, tasks, dest)


# -- posting ----------------------------------------------------------------------------------------

def _deliver(ctx: JobContext, amb: Ambassador, label: str, dest: _Destination, activity: dict,
             report: JobReport) -> None:
    if dest.kind == "task":
        _post_task(ctx, amb, label, dest, activity, report)
    else:
        _post_page(ctx, amb, label, dest, activity, report)


def _render(ctx, amb, dest: _Destination, code: str | None, states: dict, activity: dict, report) -> str:
    title = override_title(ctx, code, DOCUMENT, dest.markup) if code else None
    return render_document(ctx, code or "-", DOCUMENT, amb.language, dest.markup,
                           override=override_source(states, title), override_title=title,
                           problems=report.problems, **activity)


def _post_task(ctx: JobContext, amb: Ambassador, label: str, dest: _Destination, activity: dict,
               report: JobReport) -> None:
    home = amb.home_wiki
    title = override_title(ctx, home, DOCUMENT, "remarkup") if home else None
    states = read_overrides(ctx, home, [title]) if title else {}
    marker = _marker(amb, label, "remarkup")
    text = _render(ctx, amb, dest, home, states, activity, report).rstrip("\n") + "\n\n" + marker
    if ctx.dry_run:
        ctx.out.write(f"--- weekly report {label} for {amb.id} -> {dest.title} (dry run) ---\n{text}\n\n")
        report.would_save.append(("phabricator", dest.title))
        return
    bot_phid = _bot_phid(ctx)
    for x in ctx.phab.transactions(dest.title, author_phids=[bot_phid]):
        if any(marker in ((c.get("content") or {}).get("raw") or "") for c in x.get("comments") or []):
            # Posted before the record was written (crash or uncertain write): record it now.
            ctx.store.record_post(dest.key, "task-comment", dest.title, x.get("phid"))
            report.unchanged += 1
            return
    try:
        phids = ctx.phab.comment(dest.task, text)
    except UncertainWriteError as exc:
        raise TransientError(f"{exc}; the next run looks at {dest.title} before posting again") from None
    ctx.store.record_post(dest.key, "task-comment", dest.title, phids[0] if phids else None)
    report.saved.append(("phabricator", dest.title, 0))
    log.info("weekly report %s for %s posted on %s", label, amb.id, dest.title, extra={"job": JOB})


def _bot_phid(ctx: JobContext) -> str:
    return ctx.bot_phid()


def _post_page(ctx: JobContext, amb: Ambassador, label: str, dest: _Destination, activity: dict,
               report: JobReport) -> None:
    code, page_title = dest.wiki, dest.title
    wiki = ctx.wikis[code]
    settings = ctx.settings.wikis[code]
    override = override_title(ctx, code, DOCUMENT, "wiki")
    states = read_overrides(ctx, code, [override], also=[page_title] + ([settings.run_page] if settings.run_page else []))
    label_target = f"wiki {code} page {page_title!r}"
    if settings.run_page:
        run_page = states[settings.run_page]
        if not run_page.exists or run_page.text.strip() != settings.run_value:
            raise TargetError(f"emergency stop: {settings.run_page} does not say {settings.run_value!r}; "
                              f"not posted on {code}")
    page = states[page_title]
    marker = _marker(amb, label, "wiki")
    if page.exists and marker in page.text:
        ctx.store.record_post(dest.key, "edit", f"{code}:{page_title}", page.revid)
        report.unchanged += 1
        return
    if page.exists and not bot_may_edit(page.text, settings.username):
        raise TargetError(f"{label_target}: the page excludes the bot ({{{{nobots}}}} or {{{{bots}}}})")
    text = _render(ctx, amb, dest, code, states, activity, report).rstrip("\n") + "\n" + marker
    lang = settings.language
    name = re.sub(r"[\[\]{}|<>]", "", amb.name)
    heading = messages.WR_HEADING[lang].format(week=label, name=wikitext_inline(amb.name))
    summary = messages.WR_SUMMARY[lang].format(week=label, name=name)
    if ctx.dry_run:
        ctx.out.write(f"--- weekly report {label} for {amb.id} -> {code}:{page_title} (dry run) ---\n"
                      f"== {heading} ==\n{text}\n\n")
        report.would_save.append((code, page_title))
        return
    try:
        revid = wiki.new_section(page_title, heading, text, summary)
    except UncertainWriteError as exc:
        raise TransientError(f"{exc}; the next run looks for the report's marker before posting again") from None
    ctx.store.record_post(dest.key, "edit", f"{code}:{page_title}", revid)
    report.saved.append((code, page_title, revid))
    log.info("weekly report %s for %s saved on %s:%s", label, amb.id, code, page_title, extra={"job": JOB})

