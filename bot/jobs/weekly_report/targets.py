"""Where a weekly report goes and which weeks are due: destinations, keys, the store's namespaces."""
from __future__ import annotations

from dataclasses import dataclass

from bot.domain.weekly import post_time, previous_week, report_week, week_bounds
from bot.jobs.base import JobContext
from bot.settings.reports import Ambassador

JOB = "weekly-report"
DOCUMENT = "weekly_report"
NS_USERS = "phab-user-phids"     # Phabricator username -> PHID
NS_SECTION = "weekly-section"    # "<id>:<week>:<wiki>:<title>" -> {"hash", "revid"}: a week-so-far section written
NS_PLANS = "weekly-plans"        # "<id>:<week>" -> the plans text read during that week's report
# Other jobs' store namespaces this report reads (their owners: newsletter.py, feedback.py, mentions.py,
# status_report.py); spelled here so that reading them never needs to import those jobs' internals.
NS_NL_EDITION = "newsletter-edition"
NS_NL_PENDING = "newsletter-pending"
NS_NL_FAILED = "newsletter-failed"
NS_NL_SCHEDULE = "newsletter-schedule"
NS_PARKED = {"feedback": ("fb-parked", "fb-queue"), "mention": ("mention-parked", "mention-queue")}
NS_RUNS = "run-report"


@dataclass(frozen=True)
class _Destination:
    kind: str                 # "task" or "page"
    key: str
    wiki: str | None = None   # page: the wiki; task: None
    title: str = ""           # page title, or "T123"
    task: int = 0

    @property
    def markup(self) -> str:
        return "wiki" if self.kind == "page" else "remarkup"


def _section_key(amb: Ambassador, label: str, dest: _Destination) -> str:
    return f"{amb.id}:{label}:{dest.wiki}:{dest.title}"


def _due(ctx: JobContext, section, amb: Ambassador, now: float) -> list[tuple[str, list[_Destination]]]:
    """(week label, destinations) still to write for `amb` at `now`."""
    tz = _tz(ctx, amb.home_wiki)
    out = []
    if section.week == "last_complete":
        label = previous_week(now, tz).label
        pending = [d for d in _destinations(amb, label) if not ctx.store.has_post(d.key)]
        if pending:
            out.append((label, pending))
        return out
    # The week that just ended: its section, written while it ran, gets the complete week once.
    last = previous_week(now, tz).label
    closing = [d for d in _destinations(amb, last) if d.kind == "page" and not ctx.store.has_post(d.key)
               and ctx.store.get(NS_SECTION, _section_key(amb, last, d)) is not None]
    if closing:
        out.append((last, closing))
    week = report_week(now, tz, "so_far")
    if now >= post_time(week, amb.post_at):
        pending = [d for d in _destinations(amb, week.label) if not ctx.store.has_post(d.key)]
        if pending:
            out.append((week.label, pending))
    return out


def _tz(ctx: JobContext, code: str | None) -> str:
    return ctx.settings.wikis[code].timezone if code else "UTC"


def _destinations(amb: Ambassador, label: str) -> list[_Destination]:
    out = []
    if amb.task is not None:
        out.append(_Destination("task", f"weekly:{amb.id}:{label}:T{amb.task}", title=f"T{amb.task}", task=amb.task))
    if amb.page is not None:
        code, title = amb.page
        out.append(_Destination("page", f"weekly:{amb.id}:{label}:{code}:{title}", wiki=code, title=title))
    return out


def _closing(ctx: JobContext, amb: Ambassador, label: str, now: float) -> bool:
    return now >= week_bounds(label, _tz(ctx, amb.home_wiki)).end


def _lang(ctx: JobContext, amb: Ambassador, dest: _Destination) -> str:
    """The manager's language on Phabricator, the ambassador's on the wiki page."""
    if dest.kind == "task":
        section = ctx.settings.reports
        return section.language if section else ctx.settings.phabricator.language
    return amb.language
