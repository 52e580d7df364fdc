"""Templates the community edits on-wiki: reading overrides, rendering with fallback, and the CLI checks.

`ambassador templates check` renders every file template and every configured
on-wiki override against sample data and prints the results;
`ambassador templates preview NAME --wiki cs` renders one, the override when the
wiki has one. Jobs use `read_overrides` and `render_document` so that a missing
override page means the file template, and a broken one means the file
template plus a reported problem.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from bot.domain.tasks import Task
from bot.errors import BotError, ConfigError
from bot.jobs.base import JobContext, JobReport
from bot.render.environment import TEMPLATE_DIR
from bot.render.overrides import TemplateOverrideError, check_source, extract_source

log = logging.getLogger(__name__)

JOB = "templates-check"


# -- used by jobs ------------------------------------------------------------------------------

def override_title(ctx: JobContext, code: str, document: str, markup: str = "wiki") -> str | None:
    section = ctx.settings.section("templates")
    return section.page(code, document, markup) if section else None


def read_overrides(ctx: JobContext, code: str, titles: list[str], *, also: list[str] = ()) -> dict:
    """Read override pages (and `also`, other pages the caller needs) in one batched request.

    Returns {title: PageState}. No request at all when there is nothing to read.
    """
    wanted = [t for t in list(titles) + list(also) if t]
    if not wanted:
        return {}
    return ctx.wikis[code].read_pages(wanted)


def override_source(states: dict, title: str | None) -> str | None:
    """The template text on an override page, or None (no override configured or no such page)."""
    if not title:
        return None
    page = states.get(title)
    if page is None or not page.exists:
        log.info("on-wiki template %r does not exist; using the file template", title)
        return None
    return extract_source(page.text)


def render_document(ctx: JobContext, code: str, document: str, lang: str, markup: str, *,
                    override: str | None, override_title: str | None, problems: list[str], **context) -> str:
    """Render with the on-wiki override when there is one; on its failure, the file template.

    The failure is appended to `problems` once (jobs render the same override many times).
    """
    if override is not None:
        try:
            return ctx.renderer.render(document, lang, markup, override_source=override, **context)
        except TemplateOverrideError as exc:
            # The detail goes to the log only: an error message can quote the template's data
            # (a private task's number, say), and problems end up on a public status page.
            line = (f"wiki {code}: on-wiki template {override_title!r} ({document}) cannot be used "
                    f"({type(exc).__name__}, details in the bot's log); used the file template instead")
            if line not in problems:
                problems.append(line)
                log.warning("%s: %s", line, exc)
    return ctx.renderer.render(document, lang, markup, **context)


# -- sample data for check and preview ----------------------------------------------------------

def _status_table_sample(ctx: JobContext, code: str | None, lang: str, markup: str) -> dict:
    tz = ctx.settings.wikis[code].timezone if code else "UTC"
    rows = [
        Task(id=101, phid="PHID-TASK-101", title="Zlepšit nápovědu pro nováčky [[odkaz]] {{šablona}}",
             status="progress", priority=80, date_modified=1795500000, view_policy="public", owner="alice"),
        Task(id=102, phid="PHID-TASK-102", title="신규 사용자 환영 메시지", status="resolved", priority=50,
             date_modified=1795400000, view_policy="public"),
        Task(id=103, phid="PHID-TASK-103", title="Mentor dashboard: '''bold''' ~~~~", status="open",
             priority=25, date_modified=1795300000, view_policy="public", owner="bob"),
    ]
    return {"rows": rows, "tz": tz}


def _weekly_report_sample(ctx: JobContext, code: str | None, lang: str, markup: str) -> dict:
    from bot.jobs.weekly_report import sample_context
    return sample_context(ctx, code, lang, markup)


# Document -> function(ctx, wiki code or None, lang, markup) -> template context.
# Jobs with their own documents add theirs here; a document without sample data is
# checked for syntax only.
SAMPLES: dict[str, Callable[[JobContext, str | None, str, str], dict]] = {
    "status_table": _status_table_sample,
    "weekly_report": _weekly_report_sample,
}


def _file_templates() -> list[tuple[str, str, str, Path]]:
    out = []
    for path in sorted(TEMPLATE_DIR.glob("*.j2")):
        parts = path.name.split(".")
        if len(parts) == 4:
            out.append((parts[0], parts[1], parts[2], path))
    return out


def _languages(document: str, markup: str) -> list[str]:
    return [lang for doc, lang, m, _ in _file_templates() if doc == document and m == markup]


def _split_name(name: str) -> tuple[str, str]:
    document, _, markup = name.partition(".")
    return document, markup or "wiki"


# -- ambassador templates check -------------------------------------------------------------------

def check(ctx: JobContext) -> JobReport:
    """Render every file template and every on-wiki override against sample data; print each result."""
    report = JobReport(JOB)
    for document, lang, markup, path in _file_templates():
        label = f"templates/{path.name}"
        sample = SAMPLES.get(document)
        try:
            if sample is None:
                ctx.renderer._envs[markup].get_template(path.name)  # syntax only
                ctx.out.write(f"== {label}: syntax OK (no sample data for {document!r}) ==\n\n")
            else:
                code = next((c for c, w in ctx.settings.wikis.items() if w.language == lang), None)
                text = ctx.renderer.render(document, lang, markup, **sample(ctx, code, lang, markup))
                ctx.out.write(f"== {label} ==\n{text}\n")
            report.unchanged += 1
        except Exception as exc:  # a broken file template is what this command exists to find
            report.problems.append(f"{label}: {type(exc).__name__}: {' '.join(str(exc).split())}")
    section = ctx.settings.section("templates")
    for code, names in (section.pages.items() if section else ()):
        if not names:
            continue
        try:
            states = read_overrides(ctx, code, list(names.values()))
        except BotError as exc:
            report.problems.append(f"wiki {code}: cannot read the on-wiki templates: {exc}")
            continue
        lang = ctx.settings.wikis[code].language
        for name, title in names.items():
            document, markup = _split_name(name)
            label = f"wiki {code} page {title!r} ({name})"
            source = override_source(states, title)
            if source is None:
                report.held.append(f"{label}: the page does not exist; the file template is used")
                continue
            try:
                sample = SAMPLES.get(document)
                if sample is None:
                    check_source(source)
                    ctx.out.write(f"== {label}: syntax OK (no sample data for {document!r}) ==\n\n")
                else:
                    text = ctx.renderer.render(document, lang, markup, override_source=source,
                                               **sample(ctx, code, lang, markup))
                    ctx.out.write(f"== {label} ==\n{text}\n")
                report.unchanged += 1
            except TemplateOverrideError as exc:
                report.problems.append(f"{label}: {exc}; the file template is used instead")
    return report


# -- ambassador templates preview NAME --wiki cs -------------------------------------------------

def preview(ctx: JobContext, name: str, wiki: str) -> str:
    """`name` (e.g. status_table, weekly_report.remarkup) as `wiki` would get it, with sample data."""
    document, markup = _split_name(name)
    if wiki not in ctx.settings.wikis:
        raise ConfigError(f"unknown wiki {wiki!r} (configured: {', '.join(ctx.settings.wikis)})")
    if markup not in ("wiki", "remarkup") or not _languages(document, markup):
        known = sorted({f"{d}" if m == "wiki" else f"{d}.{m}" for d, _, m, _ in _file_templates()})
        raise ConfigError(f"unknown template {name!r} (known: {', '.join(known)})")
    sample = SAMPLES.get(document)
    if sample is None:
        raise BotError(f"no sample data for {document!r}; `ambassador templates check` checks its syntax")
    lang = ctx.settings.wikis[wiki].language
    if lang not in _languages(document, markup):
        lang = "en"
    context = sample(ctx, wiki, lang, markup)
    title = override_title(ctx, wiki, document, markup)
    source = override_source(read_overrides(ctx, wiki, [title]), title) if title else None
    if source is not None:
        # Raises TemplateOverrideError: a preview shows why the override is not used.
        return ctx.renderer.render(document, lang, markup, override_source=source, **context)
    return ctx.renderer.render(document, lang, markup, **context)
