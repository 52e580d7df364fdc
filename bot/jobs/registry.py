"""The jobs by name, and how to build what they are given from the settings."""
from __future__ import annotations

import os
from pathlib import Path

from bot.settings import Settings

# Job name -> "module:function"; every function takes a JobContext and returns a JobReport.
JOBS = {
    "status-sync": "bot.jobs.status_sync:run",
    "feedback": "bot.jobs.feedback:run",
    "mentions": "bot.jobs.mentions:run",
    "weekly-report": "bot.jobs.weekly_report:run",
    "newsletter": "bot.jobs.newsletter:run",
}


def build_context(settings: Settings, *, dry_run: bool = False):
    from bot.adapters.phab import ConduitClient
    from bot.adapters.wiki import WikiClient
    from bot.jobs.base import JobContext
    from bot.store import open_store

    token = settings.phabricator.token()
    for wiki in settings.wikis.values():
        wiki.password()  # fail before any request when a secret is missing
    store = open_store(settings.state_url)
    phab = ConduitClient(settings.phabricator.url, token, settings.user_agent,
                         timeout=settings.phabricator.timeout, page_size=settings.phabricator.page_size)
    workdir = settings.pywikibot_dir or _default_pywikibot_dir(settings)
    wikis = {code: WikiClient(ws, settings.user_agent, workdir) for code, ws in settings.wikis.items()}
    return JobContext(settings=settings, store=store, phab=phab, wikis=wikis, dry_run=dry_run)


def _default_pywikibot_dir(settings: Settings) -> Path:
    if settings.state_url.startswith("sqlite:///"):
        return Path(settings.state_url[len("sqlite:///"):]).parent / "pywikibot"
    return Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "ambassador-bot" / "pywikibot"


def job_function(name: str):
    import importlib

    module_name, func_name = JOBS[name].split(":")
    return getattr(importlib.import_module(module_name), func_name)


def run_job(name: str, ctx):
    from bot.jobs.writer import run_guarded

    return run_guarded(job_function(name), ctx)


def check_settings(settings: Settings) -> None:
    """Raise ConfigError for what the settings cannot check themselves, sitting below the layers
    that know it: a newsletter's name is printed as it is into wikitext headings and Remarkup
    task comments, so it must be plain text that neither markup would read as anything but text."""
    from bot.errors import ConfigError
    from bot.render.escape import BREAKER, remarkup_inline, wikitext_inline

    for lang, name in (settings.newsletters.names if settings.newsletters else {}).items():
        plain = remarkup_inline(name).strip(BREAKER) == name and wikitext_inline(name) == name
        if not plain or len(name) > 100:
            raise ConfigError(f"{settings.path}: newsletters.names.{lang}: must be plain text of at most 100 characters "
                              f"(letters, digits, spaces, . , -); {name[:40]!r} would be read as Remarkup or "
                              f"wikitext markup")


# -- `ambassador check-config --online` ------------------------------------------------------------

class _ReadOnly:
    """An adapter that refuses every method marked `@write_method`: the online check writes nothing."""

    def __init__(self, target):
        self._target = target

    def __getattr__(self, name):
        from bot.adapters.writes import write_kind

        from bot.adapters.phab import ConduitClient
        from bot.adapters.wiki import WikiClient
        from bot.adapters.writes import ALWAYS, write_methods

        value = getattr(self._target, name)
        # marked on the adapter's class, or (a double) on the real adapter classes by name
        kind = write_kind(self._target, name) or {**write_methods(WikiClient), **write_methods(ConduitClient)}.get(name)
        if kind is None or not callable(value):
            return value

        def refused(*args, **kwargs):
            if kind != ALWAYS and not kwargs.get(kind):      # a read through a `write=` choke point
                return value(*args, **kwargs)
            raise RuntimeError(f"check-config --online must not write ({name})")
        return refused


def named_pages(settings: Settings) -> dict[str, dict[str, str]]:
    """Every page the config names that must already exist: wiki -> {title: the config key}.

    Pages the bot creates itself (the run report, newsletter drafts and editions, digests)
    are left out; so are titles with an `{edition}` placeholder.
    """
    pages: dict[str, dict[str, str]] = {code: {} for code in settings.wikis}

    def add(code, title, key):
        if code in pages and title and "{" not in title:
            pages[code].setdefault(title, key)

    for code, wiki in settings.wikis.items():
        add(code, wiki.run_page, f"wikis.{code}.run_page")
    for table in settings.status_tables:
        for code, title in table.pages.items():
            add(code, title, f"status_tables[{table.id}].pages.{code}")
    feedback = settings.feedback
    for i, page in enumerate(getattr(feedback, "pages", ())):
        add(page.wiki, page.title, f"feedback.pages[{i}]")
    mentions = settings.mentions
    for code, titles in getattr(mentions, "pages", {}).items():
        for title in titles:
            add(code, title, f"mentions.pages.{code}")
    news = settings.newsletters
    for code, nw in getattr(news, "wikis", {}).items():
        for which in ("subscribers", "intro_page", "archive_page"):
            add(code, getattr(nw, which), f"newsletters.wikis.{code}.{which}")
    reports = settings.reports
    for amb in getattr(reports, "ambassadors", ()):
        if amb.plans:
            add(amb.plans[0], amb.plans[1], f"reports.ambassadors[{amb.id}].plans")
    templates = settings.templates
    for code, docs in getattr(templates, "pages", {}).items():
        for doc, title in docs.items():
            add(code, title, f"templates.{code}.{doc}")
    return pages


def named_tasks(settings: Settings) -> dict[int, str]:
    """Every task the config names: task id -> the config key."""
    tasks: dict[int, str] = {}
    feedback = settings.feedback
    for i, page in enumerate(getattr(feedback, "pages", ())):
        tasks.setdefault(page.task, f"feedback.pages[{i}].task")
    reports = settings.reports
    for amb in getattr(reports, "ambassadors", ()):
        if amb.task:
            tasks.setdefault(amb.task, f"reports.ambassadors[{amb.id}].task")
    return tasks


def check_online(settings: Settings) -> list[str]:
    """Log in everywhere and check every named page, task, project and user; one line per problem.

    Reads only: the adapters are wrapped so that any write raises. Returns [] when all is well.
    """
    from bot.errors import BotError

    ctx = build_context(settings)
    problems: list[str] = []
    try:
        phab = _ReadOnly(ctx.phab)
        problems += _check_phabricator(settings, phab)
        pages = named_pages(settings)
        for code, client in ctx.wikis.items():
            try:
                problems += _check_wiki(settings, code, _ReadOnly(client), pages[code])
            except BotError as exc:
                problems.append(" ".join(str(exc).split()))
    finally:
        ctx.store.close()
    return problems


def _check_phabricator(settings: Settings, phab) -> list[str]:
    from bot.errors import BotError

    where = f"phabricator ({settings.phabricator.url})"
    try:
        me = phab.whoami()
    except BotError as exc:
        return [f"{where}: user.whoami failed: {' '.join(str(exc).split())}"]
    problems = []
    projects = {p for t in settings.status_tables for p in t.query.projects}
    projects |= set(getattr(settings.newsletters, "projects", ()))
    try:
        phab.project_phids(sorted(projects))
    except BotError as exc:
        problems.append(f"{where}: {exc}")
    tasks = named_tasks(settings)
    if tasks:
        try:
            seen = {t.id for t in phab.search_tasks(task_ids=sorted(tasks))}
        except BotError as exc:
            return problems + [f"{where}: cannot look the tasks up: {exc}"]
        for task_id in sorted(set(tasks) - seen):
            problems.append(f"{tasks[task_id]}: T{task_id} does not exist or {me.username} "
                            f"may not see it")
    return problems


def _check_wiki(settings: Settings, code: str, wiki, pages: dict[str, str]) -> list[str]:
    """Logs in (a wrong BotPassword is an AuthError), then one batched read of the named pages."""
    problems = []
    userinfo = wiki.api(action="query", meta="userinfo").get("query", {}).get("userinfo", {})
    expected = settings.wikis[code].username
    if userinfo.get("anon") is not None or userinfo.get("name", "").replace("_", " ") != expected.replace("_", " "):
        problems.append(f"wiki {code}: logged in as {userinfo.get('name')!r}, not {expected!r}")
    for title, state in wiki.read_pages(list(pages)).items():
        if not state.exists:
            problems.append(f"wiki {code}: {pages[title]}: the page {title!r} does not exist")
    from bot.adapters.wiki_facts import signature_format_problem, wiki_facts
    # The signatures the feedback job reads: the configured format against what the wiki writes now.
    problem = signature_format_problem(wiki, wiki_facts(wiki))
    if problem:
        problems.append(problem)
    reports = settings.reports
    users = {name: f"reports.ambassadors[{amb.id}].wikis.{code}"
             for amb in getattr(reports, "ambassadors", ()) for c, name in amb.wikis.items() if c == code}
    if users:
        for name in sorted(set(users) - wiki.users_exist(users)):
            problems.append(f"wiki {code}: {users[name]}: no user named {name!r}")
    return problems
