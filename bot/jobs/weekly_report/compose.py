"""Composing a report: the template's context from the week's activity, and the rendered text.

The counting and grouping are pure (bot/domain/weekly.py); here they meet the settings (links,
languages, the wiki's document override)."""
from __future__ import annotations

import logging
from types import SimpleNamespace

from bot.domain.weekly import (Contribution, plan_items, previous_week, summarize_contributions, summarize_posts,
                               summarize_tasks, time_spent, user_key, week_bounds, week_until)
from bot.jobs.base import JobContext
from bot.jobs.documents import override_source, override_title, render_document
from bot.jobs.weekly_report.targets import DOCUMENT, JOB, _Destination, _lang, _tz
from bot.render import messages
from bot.render.environment import Markup
from bot.render.escape import UnsafeTitle, normal_title, remarkup_inline, title_url, wikilink, wikitext_inline
from bot.settings.reports import Ambassador

# The job's one logger, as before it was split into modules (the log lines name it).
log = logging.getLogger("bot.jobs.weekly_report")


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
    home_week = week_until(whole, now)
    lang = lang or _lang(ctx, amb, dest)
    codes = list(ctx.settings.wikis)
    extra = extra or {}
    wikis = []
    for code, username in amb.wikis.items():
        week = week_until(week_bounds(label, _tz(ctx, code)), now)
        summary = summarize_contributions(contributions.get((code, label, user_key(username)), []), week)
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
        "plans": plan_items(extra.get("plans")),
        "time": extra.get("time"),
    }


def _shown_pending(pending: dict, dest: _Destination) -> dict:
    return {"editions": pending.get("editions", []), "failed": pending.get("failed", []),
            "held": pending.get("held", []), "problems": pending.get("problems", []),
            "parked": pending.get("parked", 0),
            "count": pending.get("count", 0)}


def sample_context(ctx: JobContext, code: str | None, lang: str, markup: str) -> dict:
    """Made-up activity for `templates check`/`preview`, shaped exactly like a real report's."""
    code = code or next(iter(ctx.settings.wikis))
    amb = Ambassador(id="sample", name="Jana Nováková", wikis={code: "Jana Nováková"}, phabricator="jnovakova",
              task=1, page=(code, "User:Jana Nováková/Weekly"), language=lang)
    label = previous_week(ctx.clock(), _tz(ctx, code)).label
    week = week_bounds(label, _tz(ctx, code))
    t = week.start + 3600 * 10
    rows = [Contribution("Jana Nováková", 1, "Nápověda:Úvod", 12, t, "/* Začínáme */ oprava", 120),
            Contribution("Jana Nováková", 2, "Nápověda:Úvod", 12, t + 60, "", -4),
            Contribution("Jana Nováková", 3, "Diskuse:Growth", 1, t + 120, "/* Mentoring [[x]] */ odpověď", 300),
            Contribution("Jana Nováková", 4, "Mentor ''tip'' {{x}}", 0, t + 180, "nový", 2000, new=True)]
    contributions = {(code, label, user_key("Jana Nováková")): rows}
    facts = {7: {"id": 7, "title": "Welcome survey [[link]]", "status": "open", "public": True},
             8: {"id": 8, "title": "Security issue", "status": "resolved", "public": False}}
    tasks = {"created": [facts[7]], "closed": [facts[8]], "comments": {7: 2}, "facts": facts}
    dest = _Destination("page" if markup == "wiki" else "task", "sample", wiki=code, title="x", task=1)
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


def _render(ctx, amb, dest: _Destination, code: str | None, states: dict, activity: dict, report) -> str:
    title = override_title(ctx, code, DOCUMENT, dest.markup) if code else None
    return render_document(ctx, code or "-", DOCUMENT, _lang(ctx, amb, dest), dest.markup,
                           override=override_source(states, title), override_title=title,
                           problems=report.problems, **activity)
