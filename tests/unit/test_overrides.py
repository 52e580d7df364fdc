"""On-wiki template overrides: untrusted Jinja refused with a clear message, values always escaped."""
from __future__ import annotations

import dataclasses
import io
import time
from pathlib import Path

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from bot.jobs import documents, status_sync, templates_check
from bot.jobs.base import JobContext
from bot.render.environment import Markup, Renderer
from bot.render.overrides import TemplateOverrideError, extract_source, render_override, to_plain
from bot.settings import parse_settings
from bot.store import MemoryStore
from tests.fakes import FakePhab, FakeWiki, task
from tests.unit.test_status_table_injection import PAYLOADS, hostile, structure

CTX = {"rows": [{"id": 1, "title": "Úkol"}], "lang": "cs", "tz": "Europe/Prague"}


@pytest.mark.parametrize("source, message", [
    ("{{ ''.__class__.__mro__ }}", "a text value has no field '__class__'"),
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "has no field '__class__'"),
    ("{{ cycler.__init__.__globals__ }}", "'cycler' is undefined"),
    ("{{ joiner.__init__.__globals__.os }}", "'joiner' is undefined"),
    ("{{ rows.__class__ }}", "a list has no field '__class__'"),
    ("{{ rows[0].items() }}", "has no attribute 'items'"),
    ("{{ ''|attr('__class__') }}", "has no field '__class__'"),
    ("{{ 'x'.upper() }}", "a text value has no field 'upper'"),
    ("{{ '{0.__class__}'.format(1) }}", "a text value has no field 'format'"),
    ("{{ rows[0]|tasklink }}{{ self.__init__ }}", "has no field '__init__'"),
    ("{{ 3|plural('Locale', 'cs') }}", "unknown plural table 'Locale'"),
    ("{% include 'status_table.cs.wiki.j2' %}", "cannot include, import or extend"),
    ("{% for %}", "syntax error on line 1"),
    ("{{ missing }}", "undefined value: 'missing' is undefined"),
    ("{{ 'x' * 1000000000 }}", "would exceed"),
    ("{% for i in range(100000) %}{{ 'y' * 100 }}{% endfor %}", "output is longer than"),
    ("{{ 'x'|center(900000000) }}", "more memory than allowed"),
    ("{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f('ab') }}", "more memory than allowed"),
    ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "calls itself too deeply"),
    ("{{ 10 ** 100000 }}", "exponent 100000 is too large"),
])
def test_hostile_templates_are_refused_with_a_clear_message(source, message):
    with pytest.raises(TemplateOverrideError) as err:
        render_override(source, "wiki", CTX, timeout=5)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_loop_that_does_not_end_is_stopped_at_the_deadline():
    started = time.monotonic()
    with pytest.raises(TemplateOverrideError, match="took longer than 0.5 s"):
        render_override("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
                        "wiki", CTX, timeout=0.5)
    assert time.monotonic() - started < 3


def test_source_too_long_is_refused_before_rendering():
    with pytest.raises(TemplateOverrideError, match="the limit is 100000"):
        render_override("x" * 100_001, "wiki", CTX)


def test_good_override_reads_fields_loops_and_uses_our_filters():
    src = ("{% for t in rows %}{{ loop.index }}. {{ t|tasklink }} {{ t.title|upper }} "
           "{{ 5|plural('TASKS', lang) }} {{ t.status|status(lang) }} {{ 1795500000|date(lang, tz) }}\n{% endfor %}")
    rows = [{"id": 7, "title": "a [[b]]", "status": "open"}]
    out = render_override(src, "wiki", {**CTX, "rows": rows})
    assert out == "1. [[phab:T7|T7]] A &#91;&#91;B&#93;&#93; 5 úkolů otevřený 24.&nbsp;11.&nbsp;2026\n"
    assert render_override("{{ rows[0]|tasklink }} {{ rows[0].title }}", "remarkup", {"rows": rows}) == \
        "T7 \u2060a [\u2060[\u2060b]\u2060]\u2060"


def test_only_plain_data_reaches_an_override():
    plain = to_plain({"rows": [task(1)], "link": Markup("[[X]]"), "n": (1, 2)})
    assert plain["rows"][0]["id"] == 1 and type(plain["rows"][0]) is dict and plain["n"] == [1, 2]
    assert isinstance(plain["link"], Markup)
    with pytest.raises(TypeError):
        to_plain({"x": object()})


def test_override_page_may_wrap_the_template_as_code():
    assert extract_source('Návod.\n<syntaxhighlight lang="jinja">\n{{ x }}\n</syntaxhighlight>') == "{{ x }}\n"
    assert extract_source("<pre>{{ x }}</pre>") == "{{ x }}" and extract_source("{{ x }}") == "{{ x }}"


@hsettings(max_examples=40, deadline=None)
@given(values=st.lists(hostile | st.sampled_from(PAYLOADS), min_size=1, max_size=4))
def test_every_inserted_value_is_escaped(values):
    src = "{% for v in values %}\n* {{ v }} / {{ v|lower }} / {{ v ~ '!' }}{% endfor %}\n"
    out = render_override(src, "wiki", {"values": values})
    expected = render_override(src, "wiki", {"values": ["x"] * len(values)})
    assert structure(out) == structure(expected)


# -- hooked into status-sync ---------------------------------------------------------------------

BEGIN = "<!-- ambassador-bot:status growth-current begin -->"
END = "<!-- ambassador-bot:status growth-current end -->"
PAGE = "Wikipedie:Growth/Stav"
TEMPLATE_PAGE = "Wikipedista:TestBot/šablony/status_table"


class ProtectingWiki(FakeWiki):
    """FakeWiki whose reads say what `read_pages` says on a real wiki: edit protection and the last author."""

    def __init__(self, *a, **kw):
        self.levels: dict[str, tuple[str, ...]] = {}
        super().__init__(*a, **kw)

    def read_pages(self, titles):
        states = super().read_pages(titles)
        return {t: dataclasses.replace(p, protected_edit=self.levels.get(t, ()),
                                       user=self.pages[t][-1][1] if p.exists else "")
                for t, p in states.items()}


def make_ctx(templates=True, pages=None, protect=("sysop",), trust=None, tables=1):
    data = {
        "bot": {"user_agent": "test/1 (test@example.org)", "state_url": "memory://"},
        "phabricator": {"url": "http://127.0.0.1:1/"},
        "wikis": {"cs": {"api_url": "http://127.0.0.1:2/api.php", "language": "cs", "timezone": "Europe/Prague",
                         "username": "TestBot"}},
        "status_tables": [{"id": "growth-current", "query": {"projects": ["growth-team"]}, "pages": {"cs": PAGE}}],
    }
    for i in range(1, tables):
        data["status_tables"].append({"id": f"t{i}", "query": {"projects": ["growth-team"]},
                                      "pages": {"cs": f"{PAGE}/{i}"}})
    if templates:
        data["templates"] = {"cs": {"status_table": TEMPLATE_PAGE}, **(trust or {})}
    more = {f"{PAGE}/{i}": f"<!-- ambassador-bot:status t{i} begin -->\n<!-- ambassador-bot:status t{i} end -->\n"
            for i in range(1, tables)}
    wiki = ProtectingWiki(pages={PAGE: f"Úvod.\n{BEGIN}\n{END}\n", **more, **(pages or {})})
    if protect:
        wiki.levels[TEMPLATE_PAGE] = tuple(protect)
    ctx = JobContext(settings=parse_settings(data, Path("t.yaml")), store=MemoryStore(),
                     phab=FakePhab([task(1, "První <b>"), task(2, "Druhý")]), wikis={"cs": wiki}, out=io.StringIO())
    return ctx, wiki


def test_override_changes_the_table_and_costs_one_read():
    ctx, wiki = make_ctx(pages={TEMPLATE_PAGE: "<pre>{% for t in rows %}\n* {{ t|tasklink }}: {{ t.title }}\n"
                                               "{% endfor %}</pre>"})
    report = status_sync.run(ctx)
    assert report.problems == [] and len(report.saved) == 1
    assert "* [[phab:T1|T1]]: První &lt;b&gt;\n* [[phab:T2|T2]]: Druhý" in wiki.text(PAGE)
    assert [TEMPLATE_PAGE] in wiki.reads
    reads = len(wiki.reads)
    assert status_sync.run(ctx).saved == [] and len(wiki.reads) == reads + 1     # only the template page


def test_broken_override_falls_back_to_the_file_template_and_is_reported():
    ctx, wiki = make_ctx(pages={TEMPLATE_PAGE: "{{ ''.__class__.__mro__ }}"})
    report = status_sync.run(ctx)
    assert len(report.saved) == 1 and "{| class=\"wikitable sortable\"" in wiki.text(PAGE)
    assert len(report.problems) == 1
    assert report.problems[0].startswith(f"wiki cs: on-wiki template {TEMPLATE_PAGE!r} (status_table) cannot be used")
    assert "used the file template instead" in report.problems[0]


def test_missing_override_page_means_file_template_and_no_templates_section_no_read():
    ctx, wiki = make_ctx()
    assert status_sync.run(ctx).problems == [] and "wikitable" in wiki.text(PAGE)
    ctx, wiki = make_ctx(templates=False)
    status_sync.run(ctx)
    assert all(TEMPLATE_PAGE not in r for r in wiki.reads)


def test_renderer_without_override_is_unchanged():
    r = Renderer()
    rows = [task(1, "A")]
    assert r.render("status_table", "cs", "wiki", rows=rows, tz="UTC") == \
        r.render("status_table", "cs", "wiki", override_source=None, rows=rows, tz="UTC")


# -- ambassador templates check / preview ------------------------------------------------------

def test_check_renders_every_file_template_and_override():
    ctx, wiki = make_ctx(pages={TEMPLATE_PAGE: "{% for t in rows %}{{ t.nope }}{% endfor %}"})
    report = templates_check.check(ctx)
    out = ctx.out.getvalue()
    assert "== bot/i18n/templates/status_table.wiki.j2 (cs) ==" in out
    assert "== bot/i18n/templates/status_table.wiki.j2 (ar) ==" in out
    assert "== templates/weekly_report.en.remarkup.j2 ==" in out
    assert "[[phab:T101|T101]]" in out
    assert report.problems == [f"wiki cs page {TEMPLATE_PAGE!r} (status_table): undefined value: 'dict object' has "
                               f"no attribute 'nope'; the file template is used instead"]


def test_preview_uses_the_override_of_the_wiki():
    ctx, wiki = make_ctx(pages={TEMPLATE_PAGE: "Počet: {{ rows|length }}"})
    assert templates_check.preview(ctx, "status_table", "cs") == "Počet: 3"
    weekly = templates_check.preview(ctx, "weekly_report", "cs")
    assert "Okomentované úkoly: 1 (2 komentáře)" in weekly and "Security" not in weekly
    assert "\u2060" in templates_check.preview(ctx, "weekly_report.remarkup", "cs")
    with pytest.raises(Exception, match="unknown template 'nope'"):
        templates_check.preview(ctx, "nope", "cs")


def test_file_template_as_override_renders_byte_identically():
    """The sandbox offers the same filters and escaping: copying a file template on-wiki changes nothing."""
    r = Renderer()
    rows = [task(1, "A [[b]] {{c}}", owner="x|y"), task(2, "신규", status="resolved", priority=80)]
    source = (Path(__file__).resolve().parents[2] / "bot" / "i18n" / "templates" / "status_table.wiki.j2").read_text()
    for lang in ("cs", "ko", "en", "ar", "vi"):
        assert r.render("status_table", lang, "wiki", override_source=source, rows=rows, tz="Asia/Seoul") == \
            r.render("status_table", lang, "wiki", rows=rows, tz="Asia/Seoul")


# -- issue 17: who may write an override, and what its rendering may contain ------------------------

GOOD = "{% for t in rows %}\n* {{ t|tasklink }}: {{ t.title }}\n{% endfor %}"


def test_unprotected_override_by_a_stranger_is_not_used(monkeypatch):
    calls = count_renders(monkeypatch)
    ctx, wiki = make_ctx(pages={TEMPLATE_PAGE: GOOD}, protect=())
    report = status_sync.run(ctx)
    assert "{| class=\"wikitable" in wiki.text(PAGE) and "* [[phab:T1|T1]]:" not in wiki.text(PAGE)
    assert calls == []                                   # never rendered at all
    assert len(report.problems) == 1 and "\n" not in report.problems[0]
    assert report.problems[0].startswith(f"wiki cs: on-wiki template {TEMPLATE_PAGE!r} (status_table) cannot be used")
    assert "not edit-protected" in report.problems[0] and "used the file template instead" in report.problems[0]


def test_protection_at_a_level_the_config_does_not_name_is_not_enough():
    ctx, wiki = make_ctx(pages={TEMPLATE_PAGE: GOOD}, protect=("autoconfirmed",))
    report = status_sync.run(ctx)
    assert "wikitable" in wiki.text(PAGE) and "protected at autoconfirmed, not at sysop" in report.problems[0]
    ctx, wiki = make_ctx(pages={TEMPLATE_PAGE: GOOD}, protect=("templateeditor",),
                         trust={"protection_levels": ["sysop", "templateeditor"]})
    assert status_sync.run(ctx).problems == [] and "* [[phab:T1|T1]]: První" in wiki.text(PAGE)


def test_override_whose_last_revision_is_by_a_listed_template_editor_is_used():
    trust = {"template_editors": {"cs": ["Jana_Nováková"]}}
    ctx, wiki = make_ctx(pages={TEMPLATE_PAGE: GOOD}, protect=(), trust=trust)
    wiki.edit(TEMPLATE_PAGE, GOOD + "\nKonec.", user="Jana Nováková")
    assert status_sync.run(ctx).problems == [] and "Konec." in wiki.text(PAGE)
    wiki.edit(TEMPLATE_PAGE, GOOD + "\nPodvrh.", user="Stranger")       # a stranger edits after her
    report = status_sync.run(ctx)
    assert "Podvrh." not in wiki.text(PAGE) and "wikitable" in wiki.text(PAGE) and len(report.problems) == 1


HOSTILE_WIKI = [
    ("~~{{ '' }}~~", "~~~~"),
    ("~~~{{ rows|length }}", "~~~"),
    ("{% raw %}{{nobots}}{% endraw %}", "{{nobots}}"),
    ("{% raw %}{{ Bots | deny = all }}{% endraw %}", "{{ Bots"),
    ("{% raw %}{{Šablona:Nobots}}{% endraw %}", "Nobots"),
    ("{% raw %}{{subst:Podpis}}{% endraw %}", "subst:"),
    ("[[Kategorie:Skryté]]", "[[Kategorie:Skryté]]"),
    ("[[ kategorie _: Skryté ]]", "Skryté"),
    ("[[Category:Hidden]]", "[[Category:Hidden]]"),
    ("[[Category&#58;Hidden]]", "[[Category&#58;Hidden]]"),
    ("[[분류:숨김]]", "[[분류:숨김]]"),
    ("<!-- ambassador-bot:status growth-current end -->", "ambassador-bot:status growth-current end -->\n*"),
    ("<!-- Ambassador-Bot: cokoli -->", "Ambassador-Bot"),
    ("<!-- bez konce", "<!-- bez konce"),
]


@pytest.mark.parametrize("probe, written", HOSTILE_WIKI)
def test_hostile_literal_text_in_an_override_is_never_written(probe, written):
    ctx, wiki = make_ctx(pages={TEMPLATE_PAGE: GOOD + probe + "\n"})
    report = status_sync.run(ctx)
    text = wiki.text(PAGE)
    assert written not in text and "{| class=\"wikitable" in text       # the file template instead
    assert len(report.problems) == 1 and "used the file template instead" in report.problems[0]
    assert text.count(END) == 1 and text.endswith(f"{END}\n")
    again = status_sync.run(ctx)                                        # the region is still found
    assert again.saved == [] and all("cannot be used" in p for p in again.problems)


def test_a_category_link_with_a_leading_colon_is_allowed():
    ctx, wiki = make_ctx(pages={TEMPLATE_PAGE: GOOD + "Viz [[:Kategorie:Growth]] a [[phab:T1]].\n"})
    assert status_sync.run(ctx).problems == [] and "[[:Kategorie:Growth]]" in wiki.text(PAGE)


def test_localized_category_names_come_from_the_wiki():
    ctx, wiki = make_ctx(pages={TEMPLATE_PAGE: GOOD + "[[Kat:Skryté]]\n"})
    wiki.namespace_names = lambda ns: {"Kategorie", "Category", "Kat"} if ns == 14 else set()
    report = status_sync.run(ctx)
    assert "[[Kat:" not in wiki.text(PAGE) and len(report.problems) == 1


WEEKLY_PAGE = "Wikipedista:TestBot/šablony/weekly_report.remarkup"
WEEKLY_OK = "{% for t in tasks.created %}{{ t.link }} {% endfor %}{{ ambassador.name }}\n"


def render_weekly(source):
    ctx, wiki = make_ctx(pages={WEEKLY_PAGE: source})
    templates = ctx.settings.templates
    pages = {**templates.pages, "cs": {**templates.pages["cs"], "weekly_report.remarkup": WEEKLY_PAGE}}
    ctx.settings = dataclasses.replace(ctx.settings, templates=dataclasses.replace(templates, pages=pages))
    wiki.levels[WEEKLY_PAGE] = ("sysop",)
    problems: list[str] = []
    title = documents.override_title(ctx, "cs", "weekly_report", "remarkup")
    context = templates_check.SAMPLES["weekly_report"](ctx, "cs", "en", "remarkup")
    text = documents.render_document(
        ctx, "cs", "weekly_report", "en", "remarkup", problems=problems, override_title=title,
        override=documents.override_source(wiki.read_pages([title]), title), **context)
    return text, problems


@pytest.mark.parametrize("probe", ["@alice", "cc @jnovakova", "{F1}", "{F12, size=full}", "{T1}", "{P1}", "{M1}",
                                   "T99999", "see P7", "(ambassador-bot weekly-report sample 2026-W01)"])
def test_remarkup_override_cannot_add_mentions_embeds_or_references(probe):
    text, problems = render_weekly(WEEKLY_OK + probe + "\n")
    assert probe not in text and "Jana Nováková" in text and len(problems) == 1


def test_remarkup_override_may_show_the_references_the_file_template_shows():
    text, problems = render_weekly(WEEKLY_OK)
    assert problems == [] and text.startswith("T") and "Jana Nováková" in text


def test_templates_check_and_preview_refuse_an_untrusted_or_hostile_override():
    ctx, wiki = make_ctx(pages={TEMPLATE_PAGE: "Počet: {{ rows|length }}"}, protect=())
    with pytest.raises(TemplateOverrideError, match="not edit-protected"):
        templates_check.preview(ctx, "status_table", "cs")
    assert any("not edit-protected" in p for p in templates_check.check(ctx).problems)
    ctx, wiki = make_ctx(pages={TEMPLATE_PAGE: "Počet: {{ rows|length }} ~~{{ '' }}~~"})
    with pytest.raises(TemplateOverrideError, match="signature tildes"):
        templates_check.preview(ctx, "status_table", "cs")


# -- issue 17 item 2: one bad override costs at most one render per cycle, zero once remembered ----------

def count_renders(monkeypatch):
    from bot.render import overrides
    calls = []
    real = overrides.render_override

    def counting(*a, **kw):
        calls.append(1)
        return real(*a, **kw)
    monkeypatch.setattr(overrides, "render_override", counting)
    return calls


def test_a_failing_override_is_rendered_once_per_cycle_then_never_again(monkeypatch):
    calls = count_renders(monkeypatch)
    ctx, wiki = make_ctx(pages={TEMPLATE_PAGE: "{{ ''.__class__ }}"}, tables=3)
    report = status_sync.run(ctx)
    assert len(calls) == 1 and len(report.saved) == 3 and len(report.problems) == 1
    status_sync.run(ctx)
    assert len(calls) == 1                                            # remembered for this revision
    wiki.edit(TEMPLATE_PAGE, GOOD, user="Admin")                      # a new revision is tried again
    assert status_sync.run(ctx).problems == [] and len(calls) == 4    # good: once per table
    assert "* [[phab:T1|T1]]: První" in wiki.text(f"{PAGE}/2")


def test_a_slow_override_is_remembered_and_not_rendered_again(monkeypatch):
    calls = count_renders(monkeypatch)
    monkeypatch.setattr(documents, "SLOW_SECONDS", 0.03)
    slow = "{% for a in range(3000) %}{% for b in range(600) %}{% endfor %}{% endfor %}" + GOOD
    ctx, wiki = make_ctx(pages={TEMPLATE_PAGE: slow}, tables=3)
    report = status_sync.run(ctx)
    assert len(calls) == 1 and "wikitable" in wiki.text(PAGE) and len(report.problems) == 1
    status_sync.run(ctx)
    assert len(calls) == 1
    [(key, value)] = ctx.store.items(documents.NS_FAILED).items()
    assert key == f"cs:{TEMPLATE_PAGE}@{wiki.pages[TEMPLATE_PAGE][-1][0]}" and "s of CPU" in value["reason"]


def test_override_cpu_has_a_budget_per_cycle(monkeypatch):
    calls = count_renders(monkeypatch)
    busy = "{% for a in range(1000) %}{% for b in range(100) %}{% endfor %}{% endfor %}" + GOOD
    ctx, wiki = make_ctx(pages={TEMPLATE_PAGE: busy}, tables=3, trust={"cpu_budget_seconds": 0.001})
    report = status_sync.run(ctx)
    assert len(calls) == 1                                            # over budget after the first
    assert "* [[phab:T1|T1]]: První" in wiki.text(PAGE) and "wikitable" in wiki.text(f"{PAGE}/1")
    assert len(report.problems) == 1 and "budget 0.001 s" in report.problems[0]
    report = status_sync.run(ctx)                                     # a new cycle, a new budget
    assert len(calls) == 2 and report.saved == []
