"""Drafting an edition: the month's tasks into sections, the ambassador's intro, the draft page."""
from __future__ import annotations

import threading
from dataclasses import replace

from bot.domain import newsletter as nl
from bot.domain import publishing
from bot.errors import EditConflict, TargetError, UncertainWriteError
from bot.jobs.deployment_status import split_done
from bot.jobs.writer import NOBOTS, WOULD_SAVE, Writer
from bot.render import messages
from bot.render.environment import Markup
from bot.render.escape import wikitext_block, wikitext_inline
from bot.jobs.newsletter.approval import _help
from bot.jobs.newsletter.common import NS_EDITION, _check_run_page, _edition_key, _summary


def _draft(ctx, settings, ed, code, report, cache) -> None:
    nw = settings.wikis[code]
    title = nw.title("draft_page", ed.id)
    label = f"wiki {code} page {title!r}"
    stored = ctx.store.get(NS_EDITION, _edition_key(code, ed), {})
    if stored.get("frozen"):
        report.held.append(f"{label}: edition {ed.id} is already being published; the draft is not regenerated")
        return
    intro_title = nw.title("intro_page", ed.id)
    writer = Writer(ctx, report)
    states = ctx.wikis[code].read_pages([title] + ([intro_title] if intro_title else []) + writer.run_page_titles(code))
    stop = _check_run_page(writer, code, states)
    if stop:
        report.problems.append(stop)
        return
    text = _compose_draft(ctx, settings, ed, code, report, cache, states[intro_title] if intro_title else None)
    page = states[title]
    if writer.refusal(code, page) == NOBOTS:
        report.held.append(f"{label}: the page excludes the bot ({{{{nobots}}}}/{{{{bots}}}}); left alone")
        return
    verdict = publishing.redraft(exists=page.exists, text=page.text, revid=page.revid, new_text=text,
                                 drafted_revid=stored.get("draft_revid"))
    if verdict == publishing.SAME:
        if stored.get("draft_revid") != page.revid:
            # Our own save whose record was lost (crash, uncertain write): adopt it.
            ctx.store.put(NS_EDITION, _edition_key(code, ed), {**stored, "draft_revid": page.revid})
        report.unchanged += 1
    elif verdict == publishing.MARKED_READY:
        report.held.append(f"{label}: the draft is marked ready; not regenerated")
    elif verdict == publishing.EDITED:
        report.held.append(f"{label}: people edited the draft since the bot wrote it; not regenerated "
                           f"(move or delete the page to draft afresh)")
    else:
        _save_draft(ctx, writer, settings, ed, code, title, page, text, stored, report)


def _compose_draft(ctx, settings, ed, code, report, cache, intro_page) -> str:
    """The draft's text: the period's tasks in sections, the ambassador's intro, the help and the marker."""
    ws = ctx.settings.wikis[code]
    period = ed.period(ws.timezone)
    tasks = _period_tasks(ctx, settings, period[0], cache)
    sections = nl.build_sections(tasks, period, settings.sections, resolved_statuses=settings.resolved_statuses,
                                 progress_statuses=settings.progress_statuses,
                                 max_per_section=settings.max_tasks_per_section)
    with cache["lock"]:     # deployment.newsletters: live vs merged-but-not-yet-live (docs/deployment.md)
        sections = split_done(ctx, code, sections, report.problems)
    intro = None
    if intro_page is not None and intro_page.exists and intro_page.text.strip():
        # The ambassador's text is shown as text: it cannot add templates, links or signatures.
        intro = Markup(wikitext_block(intro_page.text.strip()))
    return _typeset_draft(ctx, ws.language, sections, marker=Markup(nl.STATUS_MARKER.format(status=nl.DRAFT)),
                          intro=intro, help=Markup(_help(ctx, settings, ed, code, "draft")),
                          talk_page=_talk_page(settings, ed, code))


def _save_draft(ctx, writer: Writer, settings, ed, code, title: str, page, text: str, stored: dict, report) -> None:
    label = f"wiki {code} page {title!r}"
    lang = ctx.settings.wikis[code].language
    key = f"nld:{ed.id}:{code}:{nl.body_hash(text)}:{page.revid}"
    try:
        # merge_ok=False: a draft merged with a person's edit is theirs now, never regenerated over
        outcome = writer.edit(code, page, text, _summary("draft", lang, ed, settings), key=key, merge_ok=False)
    except EditConflict:
        report.held.append(f"{label}: edited while the bot was drafting; left to the people editing it")
        return
    except UncertainWriteError as exc:
        report.problems.append(f"{label}: {exc}; run draft again to check")
        return
    except TargetError as exc:
        report.problems.append(str(exc))
        return
    if outcome.status == WOULD_SAVE:
        return
    ctx.store.put(NS_EDITION, _edition_key(code, ed), {**stored, "draft_revid": outcome.revid})
    report.saved.append((code, title, outcome.revid))


def _period_tasks(ctx, settings, since: int, cache: dict):
    """Tasks of the configured projects modified since `since`, plus those in progress now."""
    with cache.setdefault("lock", threading.Lock()):
        return _period_tasks_locked(ctx, settings, since, cache)


def _period_tasks_locked(ctx, settings, since: int, cache: dict):
    key = ("tasks", since)
    if key in cache:
        return cache[key]
    phids = ctx.phab.project_phids(settings.projects)
    tasks = {}
    # Conduit's `projects` constraint is an AND; one query per project gives the union.
    for slug in settings.projects:
        for t in ctx.phab.search_tasks(projects=[phids[slug]], modified_start=since):
            tasks[t.id] = t
        for t in ctx.phab.search_tasks(projects=[phids[slug]], statuses=settings.progress_statuses):
            tasks[t.id] = t
    cache[key] = list(tasks.values())
    return cache[key]


def _talk_page(settings, ed, code) -> str:
    """Where readers discuss the newsletter: the talk page of its archive (its home), else of the edition.

    Special:TalkPage (MediaWiki 1.40+) finds the talk namespace on every wiki and in every language."""
    nw = settings.wikis[code]
    return "Special:TalkPage/" + (nw.title("archive_page", ed.id) or nw.title("page", ed.id))


def _typeset_draft(ctx, lang: str, sections, **values) -> str:
    """The draft, with the language's typography applied to the bot's and the ambassador's words only.

    Task titles are the team's words, often English ("add a Korean FAQ link"): they are rendered as
    placeholders, the text is typeset, and then the titles go in, escaped as the template would."""
    rule = messages.typography(lang)
    if not rule:
        return ctx.renderer.render("newsletter_draft", lang, "wiki", sections=sections, **values)
    titles: dict[str, str] = {}

    def hide(task):
        token = f"\ufffc{len(titles)}\ufffc"
        titles[token] = task.title
        return replace(task, title=Markup(token))

    hidden = [replace(s, tasks=tuple(hide(t) for t in s.tasks)) for s in sections]
    text = nl.typeset(ctx.renderer.render("newsletter_draft", lang, "wiki", sections=hidden, **values), rule)
    for token, title in titles.items():
        text = text.replace(token, wikitext_inline(title))
    return text
