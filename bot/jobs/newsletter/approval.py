"""The draft's status marker: approval, approve/reset, the help text the bot keeps on the draft, and
whether an approved text may go out (guards, send time)."""
from __future__ import annotations


from bot import i18n
from bot.domain import newsletter as nl
from bot.errors import EditConflict, TargetError, UncertainWriteError
from bot.jobs.writer import NOBOTS, STOPPED, Writer
from bot.render import messages
from bot.render.environment import Markup
from bot.jobs.newsletter.common import (CONFLICT_ATTEMPTS, JOB, NS_EDITION, WEEKDAYS, _edition_key, log,
                                        _report_title, _summary)


# -- approval ----------------------------------------------------------------------------------

def _history(wiki, title: str) -> tuple[list[nl.Revision], bool]:
    revisions, complete = wiki.page_history(title, limit=50, content=True)
    history = [nl.Revision(r["revid"], r["user"], r["timestamp"], r["text"], r["comment"]) for r in revisions]
    return history, complete


def _approvers(ctx, settings, code) -> tuple[str, ...]:
    listed = settings.wikis[code].approvers
    # The bot approves only through `newsletter approve`, which an operator runs.
    return (*listed, ctx.settings.wikis[code].username) if listed else ()


def _approval(wiki, title: str, approvers: tuple[str, ...] = ()) -> nl.Approval:
    return _approval_and_history(wiki, title, approvers)[0]


def _approval_and_history(wiki, title: str, approvers: tuple[str, ...] = ()):
    history, complete = _history(wiki, title)
    try:
        return nl.approval(history, complete=complete, approvers=approvers), history
    except ValueError:
        # Fifty revisions, all "ready": the approving one is further back; read the whole history.
        revisions, complete = wiki.page_history(title, limit=5000, content=True)
        history = [nl.Revision(r["revid"], r["user"], r["timestamp"], r["text"], r["comment"]) for r in revisions]
        try:
            return nl.approval(history, complete=complete, approvers=approvers), history
        except ValueError:
            return nl.Approval("too-long", history[0]), history


def _describe(a: nl.Approval, title: str) -> str:
    if a.state == "missing":
        return f"{title}: no draft yet (run `newsletter draft`)"
    if a.state == "no-marker":
        return (f"{title}: the status marker is missing or repeated; put back exactly one "
                f"{nl.STATUS_MARKER.format(status='draft')}")
    if a.state == "draft":
        return f"{title}: not approved yet (marker says {nl.draft_status(a.current.text)!r}; change it to 'ready')"
    if a.state == "approved":
        return f"{title}: approved in revision {a.approving.revid} by {a.approving.user}"
    if a.state == "too-long":
        return (f"{title}: more than 5000 revisions all say 'ready', so who approved cannot be told; "
                f"set it to 'draft' and back to 'ready'")
    if a.state == "not-approver":
        return (f"{title}: set to 'ready' in revision {a.approving.revid} by {a.approving.user}, who is not "
                f"among the approvers; an approver must set it to 'ready'")
    return (f"{title}: changed after approval (revision {a.approving.revid}) by {', '.join(a.changed_by)}; "
            f"it needs approving again")


def _set_marker(ctx, writer: Writer, wiki, title, status, summary_kind, lang, ed, settings, report,
                expect_revid: int | None = None, force: bool = False) -> int | None:
    """Set the draft's status marker; the revision id that says it, or None.

    With `expect_revid`, only over that revision: the operator approves the text they
    were shown, not an edit that lands meanwhile (no retry on fresh text then).
    """
    for _ in range(CONFLICT_ATTEMPTS):
        page = wiki.read_pages([title])[title]
        if expect_revid is not None and page.revid != expect_revid:
            report.problems.append(f"wiki {wiki.code} page {title!r}: edited (revision {page.revid}) since "
                                   f"revision {expect_revid} was checked; status not set to {status}, run it again")
            return None
        why = writer.refusal(wiki.code, page)
        if why == NOBOTS:
            report.held.append(f"wiki {wiki.code} page {title!r}: excludes the bot; status not set to {status}")
            return None
        if why == STOPPED:
            report.problems.append(f"{writer.stop(wiki.code)}; status not set to {status}")
            return None
        new_text = nl.set_status(page.text, status)
        if force and status == nl.READY:
            # --force is said on the wiki too, where the worker reads it.
            new_text = nl.with_force(new_text)
        try:
            outcome = writer.edit(wiki.code, page, new_text, _summary(summary_kind, lang, ed, settings),
                                  merge_ok=expect_revid is None)
        except EditConflict as exc:
            if exc.saved_revid and status == nl.READY:
                # Our "ready" was merged into text nobody checked: take it back at once.
                _set_marker(ctx, writer, wiki, title, nl.DRAFT, "reset", lang, ed, settings, report,
                            expect_revid=exc.saved_revid)
            continue    # with expect_revid, the re-read sees the other edit (or the merge) and stops
        if not outcome.saved:     # unchanged, or a dry run: the marker says it (or would)
            return page.revid
        revid = outcome.revid
        # The key names the revision, so it is recorded once the save answered.
        writer.record(f"nls:{ed.id}:{wiki.code}:{status}:{revid}", "edit", f"{wiki.code}:{title}", revid)
        report.saved.append((wiki.code, title, revid))
        return revid
    report.problems.append(f"wiki {wiki.code} page {title!r}: still in edit conflict; try again")
    return None


def _approve(ctx, settings, ed, code, report, cache, force: bool = False) -> None:
    wiki = ctx.wikis[code]
    writer = Writer(ctx, report)
    lang = ctx.settings.wikis[code].language
    title = settings.wikis[code].title("draft_page", ed.id)
    a, history = _approval_and_history(wiki, title, _approvers(ctx, settings, code))
    if a.state in ("missing", "no-marker"):
        report.problems.append(f"wiki {code}: {_describe(a, title)}")
        return
    # The operator's approval is refused for the same reasons as anyone's, unless --force.
    reason = _guard(ctx, code, history, a.current.text, force or nl.marker_options(a.current.text).force)
    if reason:
        _refuse(ctx, writer, settings, ed, code, report, reason, worker=False, status=None)
        return
    if a.state == "approved":
        report.unchanged += 1
        ctx.out.write(f"{code}: {_describe(a, title)}\n")
        return
    expect = a.current.revid
    if a.state in ("changed", "not-approver", "too-long"):
        # Approving means a new revision that switches the marker to ready: go via draft.
        expect = _set_marker(ctx, writer, wiki, title, nl.DRAFT, "reset", lang, ed, settings, report,
                             expect_revid=expect)
        if expect is None:
            return
    if _set_marker(ctx, writer, wiki, title, nl.READY, "approve", lang, ed, settings, report, expect_revid=expect,
                   force=force) is not None:
        ctx.out.write(f"{code}: approved the current text of {title} (revision {a.current.revid}, "
                      f"last edited by {a.current.user})\n")


# -- what the draft says will happen: help text, guards, send time ------------------------------------

def _default_when(ctx, settings, code: str) -> str:
    lang = ctx.settings.wikis[code].language
    if settings.send_at is None:
        return messages.msg(lang, "newsletter-when-next-run")
    weekday, hour, minute = settings.send_at
    day = messages.msg(lang, "newsletter-weekday-" + ("any" if weekday is None else WEEKDAYS[weekday]))
    return messages.msg(lang, "newsletter-when-first", day, f"{hour}:{minute:02d}")


def _help(ctx, settings, ed, code, state: str, **facts) -> str:
    """The draft's help comment for `state` (draft, refused, scheduled, sending, sent), one safe line."""
    lang = ctx.settings.wikis[code].language
    nw = settings.wikis[code]
    values = {"when": _default_when(ctx, settings, code), "approvers": ", ".join(nw.approvers), "reason": "",
              "approved_by": "", "done": 0, "total": 0, "failed": 0, "report": _report_title(ctx, settings, ed, code)}
    values.update(facts)
    text = ctx.renderer.render("newsletter_help", lang, "wiki", **{k: Markup(nl.safe_comment(str(v)))
                                                                   for k, v in values.items()}, state=state)
    return nl.safe_comment(text)


def _rewrite_draft(ctx, writer: Writer, settings, ed, code, report, *, help_text: str, status: str | None = None,
                   summary: str | None = None) -> None:
    """Put `help_text` (and `status`) on the draft, only over the revision read; silent when nothing changes.

    The help is one of the bot's own comments, so it never changes the approved body. A person's edit
    made meanwhile wins: the next run writes the help again.
    """
    if writer.dry_run:    # the help describes what was done; a dry run does nothing, so not even read
        return
    wiki = ctx.wikis[code]
    ws = ctx.settings.wikis[code]
    title = settings.wikis[code].title("draft_page", ed.id)
    page = wiki.read_pages([title])[title]
    if not page.exists or writer.refusal(code, page) is not None or nl.draft_status(page.text) is None:
        return
    new_text = nl.set_help(page.text, help_text)
    if status is not None:
        new_text = nl.set_status(new_text, status)
    if new_text == page.text:
        return
    stored = ctx.store.get(NS_EDITION, _edition_key(code, ed), {})
    try:
        outcome = writer.edit(code, page, new_text,
                              summary or messages.msg(ws.language, "newsletter-summary-help", ed.id), merge_ok=False)
    except (EditConflict, TargetError, UncertainWriteError) as exc:
        log.info("wiki %s page %r: help text not updated (%s); the next run tries again", code, title, exc,
                 extra={"job": JOB})
        return
    if not outcome.saved:
        return
    revid = outcome.revid
    if stored.get("draft_revid") == page.revid:
        # Still only the bot's own text: a later draft run may regenerate it.
        ctx.store.put(NS_EDITION, _edition_key(code, ed), {**ctx.store.get(NS_EDITION, _edition_key(code, ed), {}),
                                                           "draft_revid": revid})
    report.saved.append((code, title, revid))


def _guard(ctx, code, history, text: str, forced: bool) -> str | None:
    """Why this text may not be published without force: the reason's key, or None."""
    if forced:
        return None
    if nl.untouched(history, text, ctx.settings.wikis[code].username):
        return "untouched"
    if nl.says_nothing_happened(nl.draft_body(text), messages.nothing_happened_sentences()):
        return "nothing"
    return None


def _refuse(ctx, writer: Writer, settings, ed, code, report, reason_key: str, worker: bool, *,
            status: str | None = nl.DRAFT, **fmt) -> None:
    """One line in the CLI (English) and the same reason on the draft, in the wiki's language."""
    lang = ctx.settings.wikis[code].language
    title = settings.wikis[code].title("draft_page", ed.id)
    # The CLI line is the operator's: in the fallback language, like every other line the bot prints.
    reason = messages.msg(i18n.FALLBACK, "newsletter-refusal-" + reason_key, *fmt.values())
    line = (f"wiki {code} page {title!r}: not published: {reason} "
            f"Edit it and set it to ready again, or write 'status=ready force' on the wiki (or use --force).")
    (report.held if worker else report.problems).append(line)
    local = messages.msg(lang, "newsletter-refusal-" + reason_key, *fmt.values())
    _rewrite_draft(ctx, writer, settings, ed, code, report, status=status,
                   help_text=_help(ctx, settings, ed, code, "refused", reason=local),
                   summary=messages.msg(lang, "newsletter-summary-refused", ed.id, local)[:250])


def _send_time(ctx, settings, code, text: str, approving: nl.Revision) -> int | None:
    """When the approved edition goes out: `send=` in the marker, else the config's default after
    approval, else now. Raises nl.SendTimeError."""
    options = nl.marker_options(text)
    tz = ctx.settings.wikis[code].timezone
    if options.send:
        return nl.parse_send_time(options.send, tz)
    if settings.send_at is not None:
        return nl.next_default_send(nl.revision_epoch(approving.timestamp), settings.send_at, tz)
    return None
