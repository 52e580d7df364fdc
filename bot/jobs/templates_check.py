"""The CLI checks of the templates the community edits on-wiki.

`ambassador templates check` renders every file template and every configured
on-wiki override against sample data and prints the results;
`ambassador templates preview NAME --wiki cs` renders one, the override when the
wiki has one. How the jobs read and trust overrides and render with fallback is
bot/jobs/documents.py.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from bot import i18n
from bot.domain.tasks import Task
from bot.errors import BotError, ConfigError
from bot.jobs import weekly_report
from bot.jobs.base import JobContext, JobReport
from bot.jobs.documents import category_names, override_source, override_title, read_overrides, untrusted
from bot.render import messages
from bot.render.environment import GENERIC_DIR, TEMPLATE_DIR
from bot.render.overrides import TemplateOverrideError, check_output, check_source

JOB = "templates-check"


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
    return weekly_report.sample_context(ctx, code, lang, markup)


# Document -> function(ctx, wiki code or None, lang, markup) -> template context.
# Jobs with their own documents add theirs here; a document without sample data is
# checked for syntax only.
SAMPLES: dict[str, Callable[[JobContext, str | None, str, str], dict]] = {
    "status_table": _status_table_sample,
    "weekly_report": _weekly_report_sample,
}


def _file_templates() -> list[tuple[str, str, str, Path]]:
    """(document, language, markup, file) for every language a file template serves: a language's own
    `<document>.<lang>.<markup>.j2`, else the message-keyed `<document>.<markup>.j2` of bot/i18n/templates."""
    out = []
    for path in sorted(TEMPLATE_DIR.glob("*.j2")):
        parts = path.name.split(".")
        if len(parts) == 4:
            out.append((parts[0], parts[1], parts[2], path))
    own = {(d, lang, m) for d, lang, m, _ in out}
    for path in sorted(GENERIC_DIR.glob("*.j2")):
        parts = path.name.split(".")
        if len(parts) == 3:
            out.extend((parts[0], lang, parts[1], path) for lang in messages.languages()
                       if (parts[0], lang, parts[1]) not in own)
    return out


def _label(path: Path, lang: str) -> str:
    if path.parent == GENERIC_DIR:
        return f"bot/i18n/templates/{path.name} ({lang})"
    return f"templates/{path.name}"


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
        label = _label(path, lang)
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
    section = ctx.settings.templates
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
            why = untrusted(ctx, code, source)
            if why:
                report.problems.append(f"{label}: {why}; the file template is used instead")
                continue
            try:
                sample = SAMPLES.get(document)
                if sample is None:
                    check_source(source)
                    ctx.out.write(f"== {label}: syntax OK (no sample data for {document!r}) ==\n\n")
                else:
                    text = _checked_render(ctx, code, document, lang, markup, source, sample(ctx, code, lang, markup))
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
        lang = i18n.FALLBACK     # the renderer's own fallback for a language without this template
    context = sample(ctx, wiki, lang, markup)
    title = override_title(ctx, wiki, document, markup)
    source = override_source(read_overrides(ctx, wiki, [title]), title) if title else None
    if source is not None:
        # Raises TemplateOverrideError: a preview shows why the override is not used.
        why = untrusted(ctx, wiki, source)
        if why:
            raise TemplateOverrideError(f"{title!r} is not used: {why}")
        return _checked_render(ctx, wiki, document, lang, markup, source, context)
    return ctx.renderer.render(document, lang, markup, **context)


def _checked_render(ctx: JobContext, code: str, document: str, lang: str, markup: str, source: str,
                    context: dict) -> str:
    """An override's rendering of `context`, checked against the file template's (raises TemplateOverrideError)."""
    text = ctx.renderer.render(document, lang, markup, override_source=source, **context)
    check_output(text, markup, ctx.renderer.render(document, lang, markup, **context),
                 category_names=category_names(ctx, code))
    return text
