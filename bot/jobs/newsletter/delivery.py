"""Delivering an edition to the subscribers' talk pages."""
from __future__ import annotations

import time
import urllib.parse

from bot.domain import delivery
from bot.domain import newsletter as nl
from bot.errors import Blocked
from bot.jobs import newsletter_text as words
from bot.jobs.writer import NOBOTS, Writer
from bot.render import messages
from bot.render.environment import Markup
from bot.jobs.newsletter.approval import _help, _rewrite_draft
from bot.jobs.newsletter.common import NS_PENDING, NS_TARGET, RUN_PAGE_EVERY, _check_run_page, _month, _name, _summary
from bot.jobs.newsletter.progress import Progress
from bot.jobs.newsletter.report import _ReportWriter
from bot.jobs.newsletter.send import _delivery_revision, _Outcome, _record_delivery, _send


class _Records:
    """What became of each entry of the delivery list, kept in the store (NS_TARGET) as it is decided,
    so the report is exact after a crash. Written only when it changes."""

    def __init__(self, ctx, ed, code):
        self.ctx, self.prefix = ctx, (f"nl:{ed.id}:{code}:", f"nlx:{ed.id}:{code}:")
        self.ed, self.code = ed, code
        self.known = {k: v for k, v in ctx.store.items(NS_TARGET).items() if k.startswith(self.prefix)}

    def put(self, key: str, **value) -> None:
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
    if not subscribers.exists:
        report.problems.append(f"wiki {code}: the subscriber list {settings.wikis[code].subscribers!r} does not "
                               f"exist; nothing delivered")
        return None
    run = _Delivery(ctx, writer, settings, ed, code, report)
    targets, resolved = run.targets(subscribers.text)
    todo = run.sort(targets, resolved)
    return run.send_all(todo, len(targets) - run.skipped, page_title, frozen, report_page)


class _Delivery:
    """One wiki's delivery of one edition: the reads, the records and the lines of the report; the rules
    that decide are in bot.domain.delivery."""

    def __init__(self, ctx, writer: Writer, settings, ed, code, report):
        self.ctx, self.writer, self.settings, self.ed, self.code, self.report = ctx, writer, settings, ed, code, report
        self.wiki, self.ws, self.nw = ctx.wikis[code], ctx.settings.wikis[code], settings.wikis[code]
        self.lang = self.ws.language
        self.summary = _summary("message", self.lang, ed, settings)
        self.records = _Records(ctx, ed, code)
        # entries that name no deliverable page; pages that opted out; delivered before this run
        self.unusable = self.skipped = self.already = 0
        self.created = self.failed = 0

    # -- who --------------------------------------------------------------------------------------
    def targets(self, list_text: str) -> tuple[dict[str, delivery.Target], dict]:
        """The pages the list's entries reach (one batched read), without unusable entries and accounts
        that do not exist; every entry recorded for the report."""
        ctx, code, nw = self.ctx, self.code, self.nw
        host = urllib.parse.urlparse(self.ws.api_url).netloc
        dl = nl.parse_delivery_list(list_text, local_sites=[host, host.split(":")[0]])
        for problem in dl.problems:
            self.report.held.append(f"wiki {code} list {nw.subscribers!r}: {problem}")
            self.records.unusable(problem.split(":", 1)[0], "other-site" if "another site" in problem else "invalid",
                                  problem)
        resolved = self.wiki.read_targets(dl.targets, category=nw.optout_category)
        found = delivery.resolve_targets(dl.targets, resolved, self.ed.id, code)
        for entry in found.unusable:
            self.report.held.append(f"wiki {code} target {entry.asked!r}: {_unusable_line(entry)}; skipped")
            self.records.unusable(entry.asked, entry.why, entry.detail)
        self.unusable += len(found.unusable)
        unique = found.unique
        delivered = {t.key for t in unique.values() if ctx.store.has_post(t.key)}
        for target in unique.values():
            fields = {"title": target.title, "redirect_from": delivery.redirect_from(target)}
            if target.key not in delivered:
                fields["created"] = not target.exists
            self.records.put(target.key, **fields)
        self._drop_missing_accounts(unique, delivered)
        return unique, resolved

    def _drop_missing_accounts(self, unique: dict[str, delivery.Target], delivered: set[str]) -> None:
        unborn = delivery.unborn_user_talk(unique, delivered)
        if not unborn:
            return
        users = self.wiki.users_exist(delivery.user_of(t.title) for t in unborn.values())
        for final, target in delivery.without_account(unborn, users).items():
            user = delivery.user_of(target.title)
            self.report.held.append(f"wiki {self.code} target {target.title!r}: no such user {user!r}; skipped, "
                                    f"the page is not created")
            self.records.put(target.key, outcome="skipped", why=delivery.NO_USER, detail=user)
            del unique[final]
            self.unusable += len(target.asked)

    def sort(self, unique: dict[str, delivery.Target], resolved: dict) -> list[delivery.Target]:
        """The targets still to send to; the others recorded (found on the page) or skipped."""
        ctx, code, ed = self.ctx, self.code, self.ed
        pending = ctx.store.items(NS_PENDING)
        todo: list[delivery.Target] = []
        for target in unique.values():
            where = f"wiki {code} target {target.title!r}"
            decision = delivery.decide(
                target, delivered=ctx.store.has_post(target.key), edition=ed.id, code=code,
                optout=bool(self.nw.optout_category) and delivery.opted_out(target, resolved),
                excludes_bot=lambda t: self.writer.refusal(code, t) == NOBOTS)
            if decision == delivery.ALREADY:
                self.already += 1
            elif decision == delivery.ON_PAGE:
                # Delivered, not recorded (a crash, or a lost store): the report links the bot's revision, so
                # look it up in the page's history (one read, only for such targets).
                _record_delivery(ctx, code, target, self._revision(target))
                self.already += 1
            elif decision == delivery.OPTED_OUT:
                self.report.held.append(f"{where}: in the opt-out category; skipped")
                self.records.put(target.key, outcome="skipped", why="optout")
                self.skipped += 1
            elif decision == delivery.EXCLUDES_BOT:
                self.report.held.append(f"{where}: excludes the bot ({{{{nobots}}}}/{{{{bots}}}}); skipped")
                self.records.put(target.key, outcome="skipped", why="nobots")
                self.skipped += 1
            else:
                self.records.put(target.key, outcome="pending", why=None)
                todo.append(target)
        return self._after_interruption(todo, pending)

    def _after_interruption(self, todo: list[delivery.Target], pending) -> list[delivery.Target]:
        """`todo` without the targets whose interrupted write is found in the page's history."""
        for target in delivery.interrupted(todo, pending):
            revid = self._revision(target)
            if revid:
                _record_delivery(self.ctx, self.code, target, revid)
                todo.remove(target)
                self.already += 1
        return todo

    def _revision(self, target: delivery.Target) -> int | None:
        return _delivery_revision(self.wiki, target.title, self.ws.username, self.summary)

    # -- sending ----------------------------------------------------------------------------------
    def send_all(self, todo: list[delivery.Target], total: int, page_title: str, frozen: dict,
                 report_page) -> dict | None:
        ctx, code, ed = self.ctx, self.code, self.ed
        progress = Progress(f"wiki {code} newsletter {ed.id}", total, clock=time.monotonic, done=self.already)
        report_saver = _ReportWriter(ctx, self.writer, self.settings, ed, code, report_page, self.report)
        if todo and not ctx.dry_run:
            _rewrite_draft(ctx, self.writer, self.settings, ed, code, self.report, help_text=_help(
                ctx, self.settings, ed, code, "sending", approved_by=frozen["approved_by"], total=total))
            report_saver.write(final=False)
        stopped = self._send_each(todo, page_title, frozen, progress, report_saver)
        if stopped:
            for rest in stopped[1]:
                self.records.put(rest.key, outcome="skipped", why=stopped[0])
        if ctx.dry_run:
            return None
        counts = report_saver.write(final=True)
        progress.finish(f"wiki {code} newsletter {ed.id}: {progress.done} of {progress.total} delivered "
                        f"({self.already} before this run, "
                        f"{words.plural_en(self.created, 'talk page', 'talk pages')} created), "
                        f"{self.skipped} opted out, "
                        f"{words.plural_en(self.unusable, 'unusable entry', 'unusable entries')}, "
                        f"{self.failed} failed")
        return counts

    def _send_each(self, todo, page_title, frozen, progress, report_saver) -> tuple[str, list] | None:
        """Send to each target in turn; (why, the targets not reached) when the emergency stop ended it.

        Raises Blocked, after marking the rest skipped and saving the report."""
        ctx, writer, code = self.ctx, self.writer, self.code
        heading = messages.NEWSLETTER_HEADING[self.lang].format(name=_name(self.settings, self.lang),
                                                                 month=_month(self.ed, self.lang))
        for number, target in enumerate(todo):
            if delivery.run_page_due(number, RUN_PAGE_EVERY) and self.ws.run_page and not ctx.dry_run:
                # A long delivery must notice the emergency stop, not only its start.
                stop = _check_run_page(writer, code, self.wiki.read_pages([self.ws.run_page]))
                if stop:
                    self.report.problems.append(f"{stop}; delivery stopped after {number} of {len(todo)}")
                    return "stop", todo[number:]
            message = self._message(target, page_title, frozen)
            if writer.dry_run:    # no pending mark and no look at the page's history: nothing is sent
                writer.new_section(code, target.title, heading, message, self.summary,
                                   preview=_preview(code, target, heading, message))
                continue
            try:
                outcome = _send(ctx, writer, self.wiki, target, heading, message, self.summary, self.ws.username,
                                self.nw.optout_category, self.ed, code)
            except Blocked:
                for rest in todo[number:]:
                    self.records.put(rest.key, outcome="skipped", why="blocked")
                report_saver.write(final=True)
                raise
            self._note(target, outcome, progress)
            report_saver.maybe()
        return None

    def _message(self, target: delivery.Target, page_title: str, frozen: dict) -> str:
        return self.ctx.renderer.render(
            "newsletter_message", self.lang, "wiki", marker=Markup(nl.key_marker(target.key)),
            body=Markup(frozen["body"]), page_link=Markup(f"[[{page_title}]]"),
            subscribers_link=Markup(f"[[{self.nw.subscribers}]]"))

    def _note(self, target: delivery.Target, outcome: _Outcome, progress: Progress) -> None:
        """Record one send's outcome: in the store, in the report and in the progress."""
        where = f"wiki {self.code} page {target.title!r}"
        if outcome.kind == "saved":
            _record_delivery(self.ctx, self.code, target, outcome.revid)
            self.records.put(target.key, outcome="delivered", created=outcome.created)
            self.report.saved.append((self.code, target.title, outcome.revid))
            self.created += outcome.created
            progress.tick()
        elif outcome.kind == "found":
            _record_delivery(self.ctx, self.code, target, outcome.revid)
            self.records.put(target.key, outcome="delivered")
            progress.tick()
        elif outcome.kind == "held":
            self.report.held.append(f"{where}: {outcome.why}")
            self.records.put(target.key, outcome="skipped", why=outcome.code or "", detail=outcome.why)
            self.skipped += 1
            progress.tick(kind="skipped")
        else:
            self.report.problems.append(f"{where}: {outcome.why}")
            self.failed += 1
            progress.tick(kind="failed")


def _unusable_line(entry: delivery.Unusable) -> str:
    if entry.why == delivery.INVALID:
        return f"invalid title ({entry.detail})"
    if entry.why == delivery.DOUBLE_REDIRECT:
        return f"redirects to another redirect ({entry.detail!r})"
    return "the page does not exist and is not a talk page"


def _preview(code: str, target: delivery.Target, heading: str, message: str) -> str:
    if target.exists:
        return f"would post to {code}:{target.title}: section {heading!r} ({len(message)} characters)\n"
    return f"would create {code}:{target.title} with section {heading!r} ({len(message)} characters)\n"
