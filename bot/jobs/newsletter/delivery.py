"""Delivering an edition to the subscribers' talk pages."""
from __future__ import annotations

import time
import urllib.parse

from bot.domain import newsletter as nl
from bot.errors import Blocked
from bot.jobs import newsletter_text as words
from bot.jobs.writer import NOBOTS, Writer
from bot.render import messages
from bot.render.environment import Markup
from bot.jobs.newsletter.approval import _help, _rewrite_draft
from bot.jobs.newsletter.common import (NS_PENDING, NS_TARGET, NS_USER_TALK, RUN_PAGE_EVERY, _check_run_page, _month,
                                        _name, _summary)
from bot.jobs.newsletter.progress import Progress
from bot.jobs.newsletter.report import _ReportWriter
from bot.jobs.newsletter.send import _delivery_revision, _in_optout, _record_delivery, _send, _Target


# -- delivery ------------------------------------------------------------------------------------

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
