"""Issue 17 item 6: a page title becomes a link or URL in one place (bot/render/escape.py).

Whatever a title holds, the result is exactly one wikilink to exactly that title (as
MediaWiki normalises it), or a clear UnsafeTitle error; never a behaviour switch, a
signature, a second link or a crash.
"""
from __future__ import annotations

import html
import re
import io
import urllib.parse

import mwparserfromhell
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.domain.weekly import Contribution
from bot.jobs import weekly_report
from bot.jobs.base import JobContext
from bot.render.escape import UnsafeTitle, normal_title, strip_invisible, title_problem, title_url, wikilink
from bot.store import MemoryStore
from tests.unit.test_weekly_report_job import MON, NOW, REPORT_PAGE, ContribWiki, FakeConduit, settings as report_settings
from tests.fakes import FakeWikiSettings

INDEX = "https://cs.wikipedia.org/w/index.php"
# Every code point, lone surrogates included.
any_char = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
surrogate = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=())
hostile = st.text(alphabet=st.one_of(any_char, surrogate, st.sampled_from(list("#<>[]|{}~_:&;'=!*%\n\t "))), max_size=40)
plain = st.text(alphabet=st.characters(categories=("L", "N"), exclude_characters="\ufffd"), min_size=1, max_size=30)


def only_link(text: str) -> mwparserfromhell.nodes.Wikilink:
    code = mwparserfromhell.parse(text)
    assert len(code.nodes) == 1 and isinstance(code.nodes[0], mwparserfromhell.nodes.Wikilink), text
    link = code.nodes[0]
    assert not link.title.filter_templates() and not link.title.filter_wikilinks()
    assert link.text is not None and not link.text.filter_templates() and not link.text.filter_wikilinks()
    assert not link.text.filter_tags() and not link.title.filter_tags()
    return link


def check_link(title: str) -> None:
    try:
        out = wikilink(title)
    except UnsafeTitle as exc:
        assert "\n" not in str(exc) and title_problem(title)
        return
    name = normal_title(title)
    link = only_link(out)
    assert html.unescape(str(link.title)) == ":" + name        # exactly the intended target
    assert html.unescape(str(link.text)) == strip_invisible(name) != ""
    for bad in ("__", "~~~", "{{", "\n", "<", "''"):
        assert bad not in out
    assert out.count("[[") == 1 and out.count("]]") == 1 and out.count("|") == 1
    url = title_url(INDEX, title)
    assert url.startswith(INDEX + "?title=") and url.isascii() and not any(c in url for c in " []<>|{}\"'~\n")
    assert urllib.parse.unquote(url[len(INDEX) + 7:]) == name.replace(" ", "_")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile)
@example("__NOINDEX__")
@example("a\ud800b")
@example("Foo~~~~")
@example("Kategorie:Smazat")
@example("Soubor:X.png")
@example("A]]B[[C")
@example("x{{subst:y}}")
@example("ISBN 1234567890")
@example("https://evil.example/")
@example("It''s '''bold'''")
def test_any_title_gives_one_link_to_itself_or_a_clear_error(title):
    check_link(title)


@settings(max_examples=200, deadline=None)
@given(plain, plain)
def test_ordinary_titles_always_link(ns, name):
    title = f"{ns}:{name}"
    out = wikilink(title)          # never refused
    assert html.unescape(str(only_link(out).title)) == ":" + normal_title(title)


@pytest.mark.parametrize("title,problem", [
    ("a\ud800b", "surrogate"), ("A~~~~", "~~~"), ("A|B", "'|'"), ("A#B", "'#'"), ("A\nB", "U+000A"),
    ("A%41", "%41"), ("A&amp;B", "&amp;"), ("", "empty"), ("  _ ", "empty"), ("../x", "relative"),
    ("x" * 300, "longer than 255"),
])
def test_unsafe_titles_are_refused_with_the_reason(title, problem):
    with pytest.raises(UnsafeTitle, match=re.escape(problem)):
        wikilink(title)
    with pytest.raises(UnsafeTitle):
        title_url(INDEX, title)


def test_behaviour_switch_in_a_title_does_not_reach_the_wikitext():
    out = wikilink("__NOINDEX__ and __NOTOC__")
    assert "__" not in out and out == "[[:NOINDEX and NOTOC|NOINDEX and NOTOC]]"


def test_surrogate_title_is_an_error_not_a_crash_in_quote():
    with pytest.raises(UnsafeTitle):
        title_url(INDEX, "Bad\udc80")


# -- the weekly report, which used to put raw titles into [[:…|…]] and URLs --------------------------

def report_world(titles):
    contribs = [Contribution("Jana", i + 1, t, 0, MON + 3600 + i, "", 10) for i, t in enumerate(titles)]
    wiki = ContribWiki(contribs, settings=FakeWikiSettings(), pages={REPORT_PAGE: "Přehledy.\n"})
    ctx = JobContext(settings=report_settings({"page": {"wiki": "cs", "title": REPORT_PAGE}}), store=MemoryStore(),
                     phab=FakeConduit(), wikis={"cs": wiki}, out=io.StringIO(), clock=lambda: NOW)
    return ctx, wiki


def test_weekly_report_title_with_noindex_makes_no_behaviour_switch():
    ctx, wiki = report_world(["__NOINDEX__", "Článek"])
    report = weekly_report.run(ctx)
    assert report.problems == []
    (_, _, text, _), = wiki.sections
    assert "__" not in text and "[[:NOINDEX|NOINDEX]]" in text
    links = [str(link.title) for link in mwparserfromhell.parse(text).filter_wikilinks()]
    assert ":NOINDEX" in links and ":Článek" in links


def test_weekly_report_survives_a_lone_surrogate_and_markup_in_titles():
    ctx, wiki = report_world(["Bad\ud800title", "X]] [[Kategorie:Spam", "Y~~~~"])
    for dest_task in (False, True):
        report = weekly_report.run(ctx)
        assert report.problems == []
    (_, _, text, _), = wiki.sections
    code = mwparserfromhell.parse(text)
    assert not code.filter_templates()
    assert all(not str(link.title).startswith("Kategorie") for link in code.filter_wikilinks())
    assert "~~~" not in text and "\ud800" not in text
    text.encode("utf-8")        # no surrogate reaches the wiki


def test_weekly_report_on_a_task_links_pages_by_url():
    ctx, wiki = report_world(["Nápověda:Úvod", "Bad\ud800"])
    ctx.settings = report_settings()
    report = weekly_report.run(ctx)
    assert report.problems == []
    (_, text), = ctx.phab.comments
    assert "[[ http://127.0.0.1:2/w/index.php?title=N%C3%A1pov%C4%9Bda:%C3%9Avod | " in text
    text.encode("utf-8")
