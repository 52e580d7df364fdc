"""The delivery report page, built from the store's records (never from memory)."""
from __future__ import annotations

import time
from dataclasses import replace

from bot.domain import delivery
from bot.domain import newsletter as nl
from bot.errors import EditConflict, TargetError, UncertainWriteError
from bot.jobs.writer import Writer
from bot.render import messages
from bot.render.environment import Markup
from bot.jobs.newsletter.common import (CONFLICT_ATTEMPTS, JOB, NS_EDITION, NS_FAILED, NS_PENDING, NS_TARGET,
                                        REPORT_EVERY_SECONDS, _edition_key, _local_time, log, _month, _name)


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
    posts = {p.key: (p.target, p.revision) for p in ctx.store.posts("newsletter-message") if p.key.startswith(prefix)}
    failed = {k: v for k, v in ctx.store.items(NS_FAILED).items() if k.startswith(prefix)}
    pending = {k for k in ctx.store.items(NS_PENDING) if k.startswith(prefix)}
    return delivery.report_rows(records, posts, failed, pending)


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
