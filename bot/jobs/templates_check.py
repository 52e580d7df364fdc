"""Templates the community edits on-wiki: reading overrides, rendering with fallback, and the CLI checks.

`ambassador templates check` renders every file template and every configured
on-wiki override against sample data and prints the results;
`ambassador templates preview NAME --wiki cs` renders one, the override when the
wiki has one. Jobs use `read_overrides` and `render_document` so that a missing
override page means the file template, and a broken one means the file
template plus a reported problem.

An override page is anyone's to edit unless the wiki protects it, so it is used only
when the wiki edit-protects it at a level `templates.protection_levels` names, or its
last revision is by a user `templates.template_editors` lists; otherwise the file
template is used and that is reported. Whatever the source, the rendering is checked
before it is written (bot.render.overrides.check_output). An override that fails or is
slow is remembered in the state store by page and revision and not rendered again, and
override rendering has a CPU budget per cycle (`templates.cpu_budget_seconds`).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

from bot.domain.tasks import Task
from bot.errors import BotError, ConfigError, TargetError
from bot.jobs.base import JobContext, JobReport
from bot.render import messages
from bot.render.environment import GENERIC_DIR, TEMPLATE_DIR
from bot.render.overrides import (CATEGORY_NAMES, TemplateOverrideError, check_output, check_source,
                                  extract_source)

log = logging.getLogger(__name__)

JOB = "templates-check"
NS_FAILED = "template-override-failed"     # "<wiki>:<page>@<revid>" -> {"reason": one line}
# An override whose one rendering takes more CPU than this is remembered as failed (slow).
SLOW_SECONDS = 1.0


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


class Override(str):
    """The template text of an override page, with what decides whether the bot may use it."""

    title: str = ""
    revid: int = 0
    protected_edit: tuple[str, ...] = ()
    user: str = ""


def override_source(states: dict, title: str | None) -> Override | None:
    """The template text on an override page, or None (no override configured or no such page)."""
    if not title:
        return None
    page = states.get(title)
    if page is None or not page.exists:
        log.info("on-wiki template %r does not exist; using the file template", title)
        return None
    source = Override(extract_source(page.text))
    source.title, source.revid = title, page.revid
    source.protected_edit, source.user = tuple(page.protected_edit), getattr(page, "user", "") or ""
    return source


def untrusted(ctx: JobContext, code: str, override) -> str | None:
    """Why the bot may not use this override page (one line), or None when it may.

    Used: the wiki edit-protects the page at a level `templates.protection_levels` names,
    or its last revision is by a user `templates.template_editors` lists for the wiki.
    """
    section = ctx.settings.section("templates")
    levels = section.protection_levels if section else ("sysop",)
    editors = section.template_editors.get(code, frozenset()) if section else frozenset()
    protection = getattr(override, "protected_edit", ())
    user = _username(getattr(override, "user", "") or "")
    if set(protection) & set(levels) or (user and user in editors):
        return None
    where = f"protected at {'/'.join(protection)}" if protection else "not edit-protected"
    return (f"the page is {where}, not at {' or '.join(levels)}, and its last revision is not by a listed "
            f"template editor (templates.template_editors)")


def _username(name: str) -> str:
    name = " ".join(name.replace("_", " ").split())
    return name[:1].upper() + name[1:]


def _failed_key(code: str, override) -> str | None:
    revid = getattr(override, "revid", 0)
    return f"{code}:{override.title}@{revid}" if revid else None


def category_names(ctx: JobContext, code: str) -> frozenset[str]:
    """The wiki's names and aliases of the Category namespace (once per process), plus the usual ones."""
    key = f"category_names:{code}"
    if key not in ctx.memo:
        names = set(CATEGORY_NAMES)
        wiki = ctx.wikis.get(code) if isinstance(ctx.wikis, dict) else None
        if wiki is not None and hasattr(wiki, "namespace_names"):
            try:
                names |= set(wiki.namespace_names(14))
            except Exception as exc:  # siteinfo trouble: the usual names still hold
                log.warning("wiki %s: cannot read the Category namespace names: %s", code, exc)
        ctx.memo[key] = frozenset(names)
    return ctx.memo[key]


def _cycle(ctx: JobContext, problems: list[str]) -> dict:
    """Override bookkeeping of this job run (a run has one problems list): CPU spent so far."""
    cycle = ctx.memo.get("override_cycle")
    if cycle is None or cycle["problems"] is not problems:
        cycle = ctx.memo["override_cycle"] = {"problems": problems, "spent": 0.0, "failed": set()}
    return cycle


def _children_cpu() -> float:
    try:
        import resource
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime
    except (ImportError, OSError):
        return time.process_time()


def render_document(ctx: JobContext, code: str, document: str, lang: str, markup: str, *,
                    override: str | None, override_title: str | None, problems: list[str], **context) -> str:
    """Render with the on-wiki override when the bot may use it; otherwise, or on its failure, the file template.

    The override's rendering is checked against the file template's on the same data. A
    failure is appended to `problems` once (jobs render the same override many times),
    remembered by page and revision, and not rendered again.
    """
    text = ctx.renderer.render(document, lang, markup, **context)
    if markup == "wiki":
        try:
            check_output(text, markup, category_names=category_names(ctx, code))
        except TemplateOverrideError as exc:   # our own template and escaping: a bug, never written
            raise TargetError(f"wiki {code}: the file template {document}.{lang}.{markup} {exc}; not written") \
                from None
    if override is None:
        return text
    label = f"wiki {code}: on-wiki template {override_title!r} ({document}) cannot be used"
    why = untrusted(ctx, code, override)
    if why:
        if _report(problems, f"{label}: {why}; used the file template instead"):
            log.warning("%s: %s", label, why)
        return text
    key = _failed_key(code, override)
    cycle = _cycle(ctx, problems)
    if key in cycle["failed"]:
        return text                           # failed earlier in this cycle, already reported
    if key and ctx.store.get(NS_FAILED, key):
        _report(problems, f"{label} (revision {override.revid} failed before, details in the bot's log); "
                          f"used the file template instead")
        return text
    section = ctx.settings.section("templates")
    budget = section.cpu_budget_seconds if section else 5.0
    if cycle["spent"] >= budget:
        _report(problems, f"wiki {code}: on-wiki templates used {cycle['spent']:.1f} s of CPU this cycle "
                          f"(budget {budget:g} s, templates.cpu_budget_seconds); file templates for the rest "
                          f"of the cycle")
        return text
    before = _children_cpu()
    try:
        try:
            rendered = ctx.renderer.render(document, lang, markup, override_source=override, **context)
        finally:
            cost = max(_children_cpu() - before, 0.0)
            cycle["spent"] += cost
        if cost > SLOW_SECONDS:
            raise TemplateOverrideError(f"one rendering took {cost:.1f} s of CPU; the limit is {SLOW_SECONDS:g} s")
        check_output(rendered, markup, text, category_names=category_names(ctx, code))
        return rendered
    except TemplateOverrideError as exc:
        # The detail goes to the log only: an error message can quote the template's data
        # (a private task's number, say), and problems end up on a public status page.
        line = f"{label} ({type(exc).__name__}, details in the bot's log); used the file template instead"
        cycle["failed"].add(key)
        if key and not ctx.dry_run:
            ctx.store.put(NS_FAILED, key, {"reason": str(exc)})
        if _report(problems, line):
            log.warning("%s: %s", line, exc)
    return text


def _report(problems: list[str], line: str) -> bool:
    if line in problems:
        return False
    problems.append(line)
    return True


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
        lang = "en"
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
