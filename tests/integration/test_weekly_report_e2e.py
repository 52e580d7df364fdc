"""Weekly check-in report end to end: edits on the local cs wiki, comments on the real local Phorge."""
from __future__ import annotations

import io
import time

import pytest

from bot.jobs import weekly_report
from bot.jobs.registry import build_context
from bot.settings import parse_settings
from bot.store import MemoryStore
from tests.integration.helpers import config_data, set_secrets

pytestmark = pytest.mark.integration
REPORT_PAGE = "Wikipedista:OtherUser/Týdenní přehled"


@pytest.fixture
def world(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch):
    cs = wikis.wikis["cs"]
    admin, human = wikis.api("cs", cs.admin), wikis.api("cs", cs.human)
    admin.edit("Diskuse:Růst nováčků", "Úvod diskuse.", "založení")
    human.edit("Růst nováčků", "První verze článku.", "nový článek")
    human.edit("Růst nováčků", "První verze článku, rozšířená.", "rozšíření")
    human.edit("Diskuse:Růst nováčků", "Co myslíte? ~~~~", "", section="new", sectiontitle="Mentoring")

    manager_task = conduit.create_task("Weekly check-ins: OtherUser", author="bob")
    own = conduit.create_task("Vylepšit uvítání nováčků", author="alice")
    other = conduit.create_task("Mentor dashboard", author="bob")
    closing = conduit.create_task("Opravit odkaz", author="bob")
    secret = conduit.create_task("Security: token leak", author="bob", view_policy="users")
    conduit.update_task(other, actor="alice", comment="Souhlasím.")
    conduit.update_task(other, actor="alice", comment="Ještě jedna poznámka.")
    conduit.update_task(own, actor="alice", comment="Podrobnosti.")
    conduit.update_task(secret, actor="alice", comment="Reprodukováno.")
    conduit.update_task(closing, actor="alice", status="resolved")

    data = config_data(wikis, conduit, tmp_path, pywikibot_dir, codes=("cs",), tables=[])
    data["reports"] = {"week": "last_complete", "ambassadors": [{"id": "other", "name": "Other User", "wikis": {"cs": "OtherUser"},
                                        "phabricator": "alice", "task": f"T{manager_task}",
                                        "page": {"wiki": "cs", "title": REPORT_PAGE}, "language": "en"}]}
    set_secrets(monkeypatch, wikis, conduit, codes=("cs",))
    ctx = build_context(parse_settings(data, tmp_path / "test.yaml"))
    ctx.out = io.StringIO()
    # A week from now, "last week" is this week: everything above falls inside it.
    ctx.clock = lambda: time.time() + 7 * 86400
    ids = {"manager": manager_task, "own": own, "other": other, "closing": closing, "secret": secret}
    return ctx, conduit, human, ids


def test_weekly_report_counts_and_is_posted_once(world):
    ctx, conduit, human, ids = world
    report = weekly_report.run(ctx)
    assert report.problems == [] and len(report.saved) == 2

    comment, = [c for c in conduit.comments(ids["manager"]) if c["author"] != "bob"]
    text = comment["text"].replace("\u2060", "")
    assert "3 edits on 2 pages; 1 created" in text
    assert "| Růst nováčků ]]: 2 edits, new page" in text and "| Diskuse:Růst nováčků ]]: 1 edit" in text
    assert "Mentoring" in text                                             # the discussion's section
    assert "- Created: 1" in text and f"T{ids['own']} Vylepšit uvítání nováčků" in text
    assert "- Commented on: 3 (4 comments)" in text
    assert f"T{ids['other']} Mentor dashboard: 2 comments" in text
    assert f"T{ids['secret']}" in text and "Security" not in text           # number only: Phabricator checks access
    assert "- Closed: 1" in text and f"T{ids['closing']} Opravit odkaz" in text

    page = human.page_text(REPORT_PAGE)
    assert "3 edits on 2 pages" in page and "[[:Růst nováčků|Růst nováčků]]: 2 edits, new page" in page
    assert "* Commented on: 2 (3 comments)" in page
    assert f"T{ids['secret']}" not in page and "Security" not in page      # nothing private on a wiki
    assert "<!-- ambassador-bot:key=weekly:other:" in page

    # Rerun: nothing new anywhere, and no request either.
    revs = len(human.revisions(REPORT_PAGE))
    requests = ctx.phab.request_count + ctx.wikis["cs"].request_count
    report = weekly_report.run(ctx)
    assert report.saved == [] and report.unchanged == 1
    assert len(conduit.comments(ids["manager"])) == 1 and len(human.revisions(REPORT_PAGE)) == revs
    assert ctx.phab.request_count + ctx.wikis["cs"].request_count == requests


def test_lost_record_does_not_post_twice(world):
    """A crash after posting but before recording: the markers on the targets stop a second post."""
    ctx, conduit, human, ids = world
    weekly_report.run(ctx)
    revs = len(human.revisions(REPORT_PAGE))
    ctx.store = MemoryStore()
    report = weekly_report.run(ctx)
    assert report.saved == [] and report.unchanged == 2 and report.problems == []
    assert len(conduit.comments(ids["manager"])) == 1 and len(human.revisions(REPORT_PAGE)) == revs


def test_dry_run_prints_the_report(world):
    ctx, conduit, human, ids = world
    ctx.dry_run = True
    report = weekly_report.run(ctx)
    assert len(report.would_save) == 2 and conduit.comments(ids["manager"]) == []
    assert human.page_text(REPORT_PAGE) is None
    assert "3 edits on 2 pages" in ctx.out.getvalue().replace("\u2060", "")


# -- the week so far: updated in place, pending, plans, time, newcomers -------------------------------

PLANS_PAGE = "Wikipedista:OtherUser/Plány"
DRAFT_PAGE = "Wikipedie:Growth/Zpravodaj/{edition}"
QUESTION_TAG = "help-panel-question"


def _create_account(wikis, code, name):
    from sandbox.mediawiki import ApiClient
    client = ApiClient(wikis.wikis[code].api_url)
    token = client.token("createaccount")
    data = client.post(action="createaccount", username=name, password="Pw-" + name + "-12345678",
                       retype="Pw-" + name + "-12345678", createreturnurl="http://127.0.0.1/",
                       createtoken=token)
    assert data["createaccount"]["status"] == "PASS", data
    from sandbox.mediawiki import WikiAccount
    return wikis.api(code, WikiAccount(name, "Pw-" + name + "-12345678"))


def _week_log_users(api, start):
    data = api.get(action="query", list="logevents", letype="newusers", lestart=start, ledir="newer",
                   lelimit="max", leprop="user")
    return {e["user"] for e in data["query"]["logevents"]}


def _tags(api, user):
    data = api.get(action="query", list="usercontribs", ucuser=user, uclimit="max", ucprop="ids|tags")
    return [c.get("tags", []) for c in data["query"]["usercontribs"]]


@pytest.fixture
def so_far(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch):
    from bot.domain.weekly import mw_timestamp, report_week
    cs = wikis.wikis["cs"]
    admin, human = wikis.api("cs", cs.admin), wikis.api("cs", cs.human)
    week = report_week(time.time(), "Europe/Prague")
    if week.end - time.time() < 600:
        pytest.skip("too close to the end of the ISO week for a week-so-far test")
    known = _week_log_users(admin, mw_timestamp(week.start))
    human.edit("Růst nováčků", "První verze článku.", "nový článek")
    human.edit("Diskuse:Růst nováčků", "Co myslíte? ~~~~", "", section="new", sectiontitle="Mentoring")
    human.edit(PLANS_PAGE, "Úvod.\n== Plány ==\n* Uvítat nováčky na Potřebuji pomoc\n* Napsat zpravodaj\n"
                           "== Jiné ==\nnic", "plány")
    # Newcomers: two accounts; one edits twice (rolled back: mw-reverted) and asks a help-panel question.
    admin.post(action="managetags", operation="create", tag=QUESTION_TAG, reason="test", token=admin.csrf())
    first = _create_account(wikis, "cs", "Nováček Jedna")
    _create_account(wikis, "cs", "Nováček Dva")
    admin.edit("Pískoviště", "Základ.", "základ")
    first.edit("Pískoviště", "Základ. Pokus 1.", "pokus")
    first.edit("Pískoviště", "Základ. Pokus 2.", "pokus")
    first.edit("Diskuse:Pískoviště", "Jak se vkládá obrázek?", "dotaz", tags=QUESTION_TAG)
    admin.post(action="rollback", title="Pískoviště", user="Nováček Jedna", token=admin.token("rollback"))
    for _ in range(50):       # MediaWiki tags reverted edits in a job (RevertedTagUpdateJob)
        if sum("mw-reverted" in t for t in _tags(admin, "Nováček Jedna")) == 2:
            break
        wikis.maintenance("cs", "runJobs")
        time.sleep(0.1)
    assert sum("mw-reverted" in t for t in _tags(admin, "Nováček Jedna")) == 2

    manager_task = conduit.create_task("Weekly check-ins: OtherUser", author="bob")
    data = config_data(wikis, conduit, tmp_path, pywikibot_dir, codes=("cs",), tables=[])
    data["reports"] = {
        "language": "en",
        "newcomers": {"cs": {"question_tags": [QUESTION_TAG]}},
        "ambassadors": [{"id": "other", "name": "Other User", "wikis": {"cs": "OtherUser"},
                         "phabricator": "alice", "task": f"T{manager_task}",
                         "page": {"wiki": "cs", "title": REPORT_PAGE},
                         "plans": {"title": PLANS_PAGE, "section": "Plány"},
                         "time_spent": {"budget_hours": 8}}]}
    data["newsletters"] = {"projects": ["growth-team"], "wikis": {"cs": {
        "draft_page": DRAFT_PAGE, "page": "Wikipedie:Growth/Zpravodaj/Vydání/{edition}",
        "subscribers": "Wikipedie:Growth/Zpravodaj/Odběratelé"}}}
    set_secrets(monkeypatch, wikis, conduit, codes=("cs",))
    ctx = build_context(parse_settings(data, tmp_path / "test.yaml"))
    ctx.out = io.StringIO()
    return ctx, conduit, admin, human, manager_task, week, known


def _report_section(text):
    return text.split("== Týdenní přehled", 1)[1]


def test_week_so_far_is_updated_in_place_with_pending_plans_time_and_newcomers(so_far, wikis):
    from bot.domain import newsletter as nl
    from bot.domain.weekly import sessions
    from bot.jobs import newsletter
    ctx, conduit, admin, human, manager_task, week, known = so_far
    # Real pending state: a drafted newsletter edition (by the newsletter job) waiting for approval.
    conduit.create_project("Growth-Team", "growth-team")
    edition = time.strftime("%Y-%m", time.gmtime(week.start))
    newsletter.command(ctx, "draft", edition, ["cs"])
    draft = DRAFT_PAGE.format(edition=edition)
    assert nl.draft_status(human.page_text(draft)) == "draft"

    report = weekly_report.run(ctx)
    assert report.problems == [], report.problems
    assert len(report.saved) == 2
    page = human.page_text(REPORT_PAGE)
    title = f"{week.label[-2:].lstrip('0')}. týden {week.label[:4]}"
    assert page.count("== Týdenní přehled") == 1 and f"Týdenní přehled – {title}: Other User" in page
    assert ", zatím" in page                                           # the week so far, in Czech
    assert f"Zpravodaj {edition}: koncept, čeká na schválení" in page   # pending, from the real draft
    assert "* Uvítat nováčky na Potřebuji pomoc" in page and "* Napsat zpravodaj" in page and "nic" not in \
        page.split("Plány na příští týden", 1)[1]
    # Sessions from the real edit timestamps of OtherUser this week.
    stamps = [c.timestamp for c in ctx.wikis["cs"].user_contributions(["OtherUser"], _ts(week.start), _ts(time.time()))]
    expected = sessions(stamps)
    hours = round(sum(s["seconds"] for s in expected) / 3600, 1)
    assert f"asi {hours} h; relace aktivity: {len(expected)}; rozpočet: 8.0 h" in page
    # Newcomer pulse from the real log, contributions and tags.
    new_accounts = len((known - {"TestBot"}) | {"Nováček Jedna", "Nováček Dva"})
    assert f"* založené účty: {new_accounts} / 0" in page
    assert "* jejich editace: " in page and "revertováno: 2 / 0" in page
    assert "* dotazy (panely nápovědy a mentorství): 1 / 0" in page
    assert "newcomer pulse cs" in ctx.out.getvalue() and "requests" in ctx.out.getvalue()

    # The manager's comment: English, posted once for the week.
    comment, = [c for c in conduit.comments(manager_task) if c["author"] != "bob"]
    text = comment["text"].replace("\u2060", "")
    assert f"week {int(week.label[-2:])} of {week.label[:4]} (" in text and "), so far" in text
    assert f"Newsletter {edition}: draft, waits for approval" in text and "Time on the wiki" in text

    # More work and an approval with a send time: the same section changes, no second section or comment.
    human.edit("Růst nováčků", "První verze článku, rozšířená.", "rozšíření")
    text = human.page_text(draft)
    human.edit(draft, nl.set_status(text, nl.READY).replace("status=ready", "status=ready send=2030-01-05 09:00"),
               "schváleno")
    human.edit(REPORT_PAGE, human.page_text(REPORT_PAGE) + "\nOdpověď manažera pod přehledem.", "odpověď")
    report = weekly_report.run(ctx)
    assert report.problems == [] and len(report.saved) == 1
    page = human.page_text(REPORT_PAGE)
    assert page.count("== Týdenní přehled") == 1 and "Odpověď manažera pod přehledem." in page
    assert f"Zpravodaj {edition}: schváleno, naplánováno (2030-01-05 09&#58;00)" in page  # ":" escaped
    assert len([c for c in conduit.comments(manager_task) if c["author"] != "bob"]) == 1
    # Nothing changed: no edit.
    revs, before = len(human.revisions(REPORT_PAGE)), human.page_text(REPORT_PAGE)
    report = weekly_report.run(ctx)
    import difflib
    assert report.saved == [] and len(human.revisions(REPORT_PAGE)) == revs, "\n".join(
        difflib.unified_diff(before.splitlines(), human.page_text(REPORT_PAGE).splitlines(), lineterm=""))

    # Next week: the section gets the complete week once, and this week's plans show as last week's.
    human.edit(PLANS_PAGE, "Úvod.\n== Plány ==\n* Školení mentorů\n", "nové plány")
    ctx.clock = lambda: week.end + 3600
    report = weekly_report.run(ctx)
    assert report.problems == [], report.problems
    page = human.page_text(REPORT_PAGE)
    assert page.count("== Týdenní přehled") == 2
    old, new = page.split("== Týdenní přehled")[1:]
    assert ", zatím" not in old.split("\n", 1)[1].split("\n", 1)[0]
    assert "Plány na tento týden (z minulého týdne):\n* Uvítat nováčky" in new and "* Školení mentorů" in new
    assert ctx.store.has_post(f"weekly:other:{week.label}:cs:{REPORT_PAGE}")


def _ts(epoch):
    from bot.domain.weekly import mw_timestamp
    return mw_timestamp(epoch)
