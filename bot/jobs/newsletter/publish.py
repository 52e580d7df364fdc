"""Publishing an approved edition: freezing its text, the edition page, the archive link, then delivery."""
from __future__ import annotations

from bot.domain import delivery
from bot.domain import newsletter as nl
from bot.domain import publishing
from bot.errors import EditConflict, TargetError, UncertainWriteError
from bot.jobs.writer import NOBOTS, Writer
from bot.render import messages
from bot.render.environment import Markup
from bot.jobs.newsletter.approval import (_approval_and_history, _approvers, _describe, _guard, _help, _refuse,
                                          _rewrite_draft, _send_time, _set_marker)
from bot.jobs.newsletter.common import (CONFLICT_ATTEMPTS, NS_EDITION, _check_run_page, _edition_key, _local_time,
                                        _month, _report_title, _summary)
from bot.jobs.newsletter.delivery import _deliver
from bot.jobs.newsletter.task_comments import _comment_tasks


def _publish(ctx, settings, ed, code, report, cache, force: bool = False, worker: bool = False) -> None:
    """Publish and deliver an approved edition on one wiki (the CLI's `publish`, and the worker's runs).

    Not before its send time; never an edition nobody edited or that says nothing happened, unless
    forced (`status=ready force` on the wiki by an approver, or `--force`).
    """
    nw = settings.wikis[code]
    draft_title, page_title = nw.title("draft_page", ed.id), nw.title("page", ed.id)
    archive_title = nw.title("archive_page", ed.id)
    stored = ctx.store.get(NS_EDITION, _edition_key(code, ed), {})
    if worker and stored.get("done"):
        return
    report_title = _report_title(ctx, settings, ed, code)
    writer = Writer(ctx, report)
    titles = [draft_title, page_title, nw.subscribers, report_title] + ([archive_title] if archive_title else []) + \
        writer.run_page_titles(code)
    states = ctx.wikis[code].read_pages(titles)
    stop = _check_run_page(writer, code, states)
    if stop:
        report.problems.append(stop)
        return
    draft = states[draft_title]
    frozen = stored.get("frozen")
    if frozen is None:
        if worker and not publishing.worker_looks_further(exists=draft.exists, text=draft.text):
            return                           # nothing approvable drafted: one batched read, nothing else
        frozen = _freeze(ctx, writer, settings, ed, code, report, force=force, worker=worker)
        if frozen is None:
            return
    elif publishing.changed_since_frozen(exists=draft.exists, text=draft.text, frozen=frozen):
        report.held.append(f"wiki {code}: {draft_title} changed after publication began; deliveries keep "
                           f"the approved revision {frozen['revid']}")
    if not _publish_page(ctx, writer, settings, ed, code, states[page_title], frozen, report):
        return
    if archive_title:
        _link_from_archive(ctx, writer, settings, ed, code, states[archive_title], page_title, report)
    counts = _deliver(ctx, writer, settings, ed, code, states[nw.subscribers], page_title, frozen, report,
                      report_page=states[report_title])
    if settings.comment_tasks:
        _comment_tasks(ctx, writer, settings, ed, code, page_title, frozen, report, cache)
    if counts is not None and not ctx.dry_run:
        _after_delivery(ctx, writer, settings, ed, code, frozen, counts, report)


def _freeze(ctx, writer: Writer, settings, ed, code, report, *, force: bool, worker: bool) -> dict | None:
    """The approved text the edition is from now on, stored; None when it is not approved, not allowed
    without force, or not due yet (said on the draft and in the report)."""
    wiki = ctx.wikis[code]
    ws = ctx.settings.wikis[code]
    lang = ws.language
    draft_title = settings.wikis[code].title("draft_page", ed.id)
    approvers = _approvers(ctx, settings, code)
    a, history = _approval_and_history(wiki, draft_title, approvers)
    if a.state in ("changed", "not-approver"):
        # Back to draft, so that one edit to `ready` by an approver approves this text.
        report.held.append(f"wiki {code}: {_describe(a, draft_title)}; marker set back to draft")
        _set_marker(ctx, writer, wiki, draft_title, nl.DRAFT, "reset", lang, ed, settings, report)
        _rewrite_draft(ctx, writer, settings, ed, code, report, help_text=_help(ctx, settings, ed, code, "draft"))
        return None
    if not a.approved:
        report.held.append(f"wiki {code}: {_describe(a, draft_title)}; nothing published")
        return None
    reason = _guard(ctx, code, history, a.approving.text, force or nl.forced(history, a.approving, approvers))
    if reason:
        _refuse(ctx, writer, settings, ed, code, report, reason, worker)
        return None
    try:
        send_at = _send_time(ctx, settings, code, a.current.text, a.approving)
    except nl.SendTimeError:
        _refuse(ctx, writer, settings, ed, code, report, "send-time", worker,
                value=nl.marker_options(a.current.text).send)
        return None
    if publishing.waits(send_at, ctx.clock()):
        when = _local_time(ctx, code, send_at)
        report.held.append(f"wiki {code}: {draft_title} approved in revision {a.approving.revid} by "
                           f"{a.approving.user}; scheduled for {when} ({ws.timezone}), nothing sent before")
        _rewrite_draft(ctx, writer, settings, ed, code, report, help_text=_help(
            ctx, settings, ed, code, "scheduled", approved_by=a.approving.user,
            when=messages.msg(lang, "newsletter-when-at", when)))
        return None
    frozen = publishing.frozen_text(a.approving, ctx.clock())
    # From here on the edition is this text, whatever happens to the draft later.
    ctx.store.put(NS_EDITION, _edition_key(code, ed),
                  {**ctx.store.get(NS_EDITION, _edition_key(code, ed), {}), "frozen": frozen})
    return frozen


def _after_delivery(ctx, writer: Writer, settings, ed, code, frozen: dict, counts: dict, report) -> None:
    """The draft's help says what was sent; the edition is done once nothing is left to deliver."""
    lang = ctx.settings.wikis[code].language
    state_key = _edition_key(code, ed)
    sent_at = ctx.store.get(NS_EDITION, state_key, {}).get("sent_at") or ctx.clock()
    if not ctx.store.get(NS_EDITION, state_key, {}).get("sent_at"):
        ctx.store.put(NS_EDITION, state_key, {**ctx.store.get(NS_EDITION, state_key, {}), "sent_at": sent_at})
    _rewrite_draft(ctx, writer, settings, ed, code, report, help_text=_help(
        ctx, settings, ed, code, "sent", approved_by=frozen["approved_by"], done=counts["delivered"],
        total=counts["total"], failed=publishing.not_delivered(counts),
        when=messages.msg(lang, "newsletter-when-at-done", _local_time(ctx, code, sent_at))))
    if delivery.finished(counts) and not report.problems:
        ctx.store.put(NS_EDITION, state_key, {**ctx.store.get(NS_EDITION, state_key, {}), "done": ctx.clock()})


def _publish_page(ctx, writer: Writer, settings, ed, code, page, frozen, report) -> bool:
    lang = ctx.settings.wikis[code].language
    key = nl.page_key(ed.id, code)
    label = f"wiki {code} page {page.title!r}"
    if ctx.store.has_post(key):
        return True
    if page.exists:
        if nl.has_key_marker(page.text, key):
            writer.found(key, "edit", f"{code}:{page.title}", page.revid)
            return True
        report.problems.append(f"{label}: exists and was not written by the bot; not overwritten, nothing "
                               f"delivered (move it away or change newsletters.wikis.{code}.page)")
        return False
    text = ctx.renderer.render("newsletter_page", lang, "wiki", marker=Markup(nl.key_marker(key)),
                               body=Markup(frozen["body"]))
    try:
        outcome = writer.edit(code, page, text, _summary("publish", lang, ed, settings), key=key,
                              preview=f"would create {code}:{page.title}:\n{text}\n")
    except UncertainWriteError as exc:
        report.problems.append(f"{label}: {exc}; run publish again (it checks the page first)")
        return False
    except TargetError as exc:
        # NotFound(articleexists): created meanwhile, possibly by our own lost answer; the next run looks.
        report.problems.append(f"{exc}; nothing delivered")
        return False
    if outcome.saved:
        report.saved.append((code, page.title, outcome.revid))
    return True


def _link_from_archive(ctx, writer: Writer, settings, ed, code, page, page_title, report) -> None:
    wiki = ctx.wikis[code]
    lang = ctx.settings.wikis[code].language
    key = f"nla:{ed.id}:{code}"
    if ctx.store.has_post(key):
        return
    line = ctx.renderer.render("newsletter_archive", lang, "wiki",
                               link=Markup(f"[[{page_title}|{_month(ed, lang)}]]"))
    for _ in range(CONFLICT_ATTEMPTS):
        if writer.refusal(code, page) == NOBOTS:
            report.held.append(f"wiki {code} page {page.title!r}: excludes the bot; archive link not added")
            return
        if _links_to(page.text, page_title):
            writer.found(key, "edit", f"{code}:{page.title}", page.revid or None)
            return
        new_text = (page.text.rstrip("\n") + "\n" if page.text.strip() else "") + line
        try:
            outcome = writer.edit(code, page, new_text, _summary("archive", lang, ed, settings), key=key)
        except EditConflict:
            page = wiki.read_pages([page.title])[page.title]
            continue
        except (TargetError, UncertainWriteError) as exc:
            # The link is a convenience; its absence never blocks delivery. Next run checks the page again.
            report.problems.append(f"wiki {code} page {page.title!r}: archive link not added: {exc}")
            return
        if outcome.saved:
            report.saved.append((code, page.title, outcome.revid))
        return
    report.problems.append(f"wiki {code} page {page.title!r}: archive link not added: edit conflicts")


def _links_to(text: str, title: str) -> bool:
    import mwparserfromhell
    want = nl.normal_title(title)
    return any(nl.normal_title(str(link.title)) == want for link in mwparserfromhell.parse(text).filter_wikilinks())
