"""On-wiki template overrides end to end: the community's template on the real cs wiki drives the status table."""
from __future__ import annotations

import io

import pytest

from bot.jobs import status_sync, templates_check
from bot.jobs.registry import build_context
from bot.settings import parse_settings
from tests.integration.helpers import BEGIN, END, STATUS_PAGES, config_data, page_with_markers, set_secrets

pytestmark = pytest.mark.integration
CS = STATUS_PAGES["cs"]
TEMPLATE = "Wikipedista:TestBot/šablony/status_table"
OVERRIDE = """Šablona tabulky (upravují ambasadoři):
<syntaxhighlight lang="jinja">
{% for t in rows %}
* {{ t|tasklink }} – {{ t.title }} ({{ t.status|status(lang) }})
{% endfor %}
</syntaxhighlight>"""


@pytest.fixture
def world(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch):
    project = conduit.create_project("Growth-Team", "growth-team")
    ids = [conduit.create_task("Zlepšit nápovědu [[odkaz]]", projects=[project], priority="high"),
           conduit.create_task("Uvítání", projects=[project], status="resolved")]
    human = wikis.api("cs", wikis.wikis["cs"].human)
    human.edit(CS, page_with_markers(), "stránka pro tabulku")
    data = config_data(wikis, conduit, tmp_path, pywikibot_dir, codes=("cs",))
    data["templates"] = {"cs": {"status_table": TEMPLATE}}
    set_secrets(monkeypatch, wikis, conduit, codes=("cs",))
    ctx = build_context(parse_settings(data, tmp_path / "test.yaml"))
    ctx.out = io.StringIO()
    return ctx, human, ids


@pytest.fixture
def admin(wikis):
    return wikis.api("cs", wikis.wikis["cs"].admin)


def region(text):
    return text.split(BEGIN)[1].split(END)[0]


def test_override_changes_the_next_table_and_a_broken_one_falls_back(world, admin, caplog):
    ctx, human, ids = world
    report = status_sync.run(ctx)                       # no override page yet: the file template
    assert report.problems == [] and "{| class=\"wikitable" in region(human.page_text(CS))

    human.edit(TEMPLATE, OVERRIDE, "vlastní podoba tabulky")
    admin.protect(TEMPLATE)                             # an administrator vouches for it
    report = status_sync.run(ctx)
    assert report.problems == [] and len(report.saved) == 1
    body = region(human.page_text(CS))
    assert "wikitable" not in body
    assert f"* [[phab:T{ids[0]}|T{ids[0]}]] – Zlepšit nápovědu &#91;&#91;odkaz&#93;&#93; (otevřený)" in body
    assert f"* [[phab:T{ids[1]}|T{ids[1]}]] – Uvítání (vyřešený)" in body
    assert status_sync.run(ctx).saved == []              # stable: same override, same data, no edit

    admin.edit(TEMPLATE, "{{ ''.__class__.__mro__[1].__subclasses__() }}", "pokus")
    report = status_sync.run(ctx)
    assert len(report.saved) == 1 and "{| class=\"wikitable" in region(human.page_text(CS))
    assert len(report.problems) == 1 and TEMPLATE in report.problems[0]
    assert "used the file template instead" in report.problems[0]
    # the detail may quote the template's data: the log has it, the (public) problem line does not
    assert "has no field '__class__'" not in report.problems[0]
    assert any("has no field '__class__'" in r.getMessage() for r in caplog.records)


def test_templates_check_and_preview_read_the_wiki(world, admin):
    ctx, human, ids = world
    human.edit(TEMPLATE, OVERRIDE, "vlastní podoba tabulky")
    admin.protect(TEMPLATE)
    report = templates_check.check(ctx)
    assert report.problems == []
    assert f"== wiki cs page {TEMPLATE!r} (status_table) ==" in ctx.out.getvalue()
    assert "* [[phab:T101|T101]] – Zlepšit nápovědu pro nováčky" in templates_check.preview(ctx, "status_table", "cs")
    admin.edit(TEMPLATE, "{% for t in rows %}{{ t.title }}", "rozbito")
    report = templates_check.check(ctx)
    assert len(report.problems) == 1 and "syntax error on line 1" in report.problems[0]


def test_an_unprotected_override_by_a_stranger_is_not_used_and_a_protected_one_is(world, admin):
    """Issue 17: the override page is a user subpage anyone may edit; the bot uses it only once the wiki protects it."""
    ctx, human, ids = world
    hostile = OVERRIDE.replace("{% endfor %}", "{% endfor %}\n[[Kategorie:Podvržená]] ~~{{ '' }}~~")
    human.edit(TEMPLATE, OVERRIDE, "vlastní podoba tabulky")     # a stranger: not protected, not a template editor
    report = status_sync.run(ctx)
    body = region(human.page_text(CS))
    assert "{| class=\"wikitable" in body and f"* [[phab:T{ids[0]}|T{ids[0]}]] –" not in body
    assert len(report.problems) == 1 and TEMPLATE in report.problems[0]
    assert "not edit-protected" in report.problems[0] and "used the file template instead" in report.problems[0]

    admin.protect(TEMPLATE)                                      # read back with inprop=protection: used now
    report = status_sync.run(ctx)
    assert report.problems == [] and len(report.saved) == 1
    assert f"* [[phab:T{ids[0]}|T{ids[0]}]] – Zlepšit nápovědu" in region(human.page_text(CS))

    admin.edit(TEMPLATE, hostile, "chráněná, ale podvržená")  # protected, but what it renders is still checked
    report = status_sync.run(ctx)
    text = human.page_text(CS)
    assert "Podvržená" not in text and "~~~" not in text and "{| class=\"wikitable" in region(text)
    assert len(report.problems) == 1 and "cannot be used" in report.problems[0]
    assert status_sync.run(ctx).saved == []                      # remembered: not rendered again, no flapping
