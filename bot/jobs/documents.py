"""On-wiki template overrides, as the jobs use them: reading them, and rendering a document
with its override or, when that is missing, untrusted or broken, the file template.

A missing override page means the file template; a broken one means the file template plus
a reported problem. An override page is anyone's to edit unless the wiki protects it, so it
is used only when the wiki edit-protects it at a level `templates.protection_levels` names,
or its last revision is by a user `templates.template_editors` lists; otherwise the file
template is used and that is reported. Whatever the source, the rendering is checked before
it is written (bot.render.overrides.check_output). An override that fails or is slow is
remembered in the state store by page and revision and not rendered again, and override
rendering has a CPU budget per cycle (`templates.cpu_budget_seconds`).

`ambassador templates check` and `preview` are in templates_check.py; both it and the jobs
that write documents (weekly_report/, status_sync.py) import this module.
"""
from __future__ import annotations

import logging
import time

from bot.errors import TargetError
from bot.jobs.base import JobContext
from bot.render.overrides import CATEGORY_NAMES, TemplateOverrideError, check_output, extract_source

log = logging.getLogger(__name__)

NS_FAILED = "template-override-failed"     # "<wiki>:<page>@<revid>" -> {"reason": one line}
# An override whose one rendering takes more CPU than this is remembered as failed (slow).
SLOW_SECONDS = 1.0


def override_title(ctx: JobContext, code: str, document: str, markup: str = "wiki") -> str | None:
    section = ctx.settings.templates
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
    section = ctx.settings.templates
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
    section = ctx.settings.templates
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
        if key:
            ctx.store.put(NS_FAILED, key, {"reason": str(exc)})
        if _report(problems, line):
            log.warning("%s: %s", line, exc)
    return text


def _report(problems: list[str], line: str) -> bool:
    if line in problems:
        return False
    problems.append(line)
    return True
