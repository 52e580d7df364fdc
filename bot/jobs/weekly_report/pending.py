"""What waits on a human or on the bot on one wiki, read from the other jobs' store and the drafts."""
from __future__ import annotations

from collections import defaultdict

from bot.domain import newsletter as nl
from bot.jobs.base import JobContext
from bot.jobs.weekly_report.targets import (NS_NL_EDITION, NS_NL_FAILED, NS_NL_PENDING, NS_NL_SCHEDULE, NS_PARKED,
                                            NS_RUNS)


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

