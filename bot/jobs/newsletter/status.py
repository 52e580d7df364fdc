"""`newsletter status`: the draft, the publication and every delivery, as text."""
from __future__ import annotations

from bot.domain import delivery
from bot.domain import newsletter as nl
from bot.jobs import newsletter_text as words
from bot.jobs.newsletter.approval import _approval, _approvers, _describe
from bot.jobs.newsletter.common import NS_EDITION, _edition_key, _report_title
from bot.jobs.newsletter.report import _report_rows


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
        page_done and rows and delivery.finished(counts))
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
