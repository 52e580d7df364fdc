"""Hostile task titles and owner names cannot change the structure of a status table."""
from __future__ import annotations

import mwparserfromhell
from hypothesis import given, settings, strategies as st

from bot.domain.status import select_rows
from bot.render.environment import Renderer
from tests.fakes import task

PAYLOADS = ["{{subst:Foo}}", "[[Category:X]]", "~~~~", "<ref>x</ref>", "__NOINDEX__", "{{#invoke:M|f}}",
            "[https://evil.example x]", "https://evil.example", "|-", "||", "!!", "{|", "|}", "\n== H ==\n",
            "'''b'''", "<!-- c -->", "\u202e", "\u200d", "&lt;", "<nowiki>", "{{{1}}}", "[[phab:T1|T1]]"]
hostile = st.lists(st.sampled_from(PAYLOADS) | st.text(alphabet=st.sampled_from(list("{}[]|<>~'=:!&_-\n #*;"))),
                   max_size=6).map("".join)
RENDERER = Renderer()


def structure(text):
    code = mwparserfromhell.parse(text)
    return {
        "templates": [str(t) for t in code.filter_templates()],
        "links": sorted(str(l.title) for l in code.filter_wikilinks()),
        "external": [str(e) for e in code.filter_external_links()],
        "comments": [str(c) for c in code.filter_comments()],
        "headings": [str(h) for h in code.filter_headings()],
        "arguments": [str(a) for a in code.filter_arguments()],
        "cells": len([t for t in code.filter_tags() if str(t.tag) in ("td", "th")]),
        "rows": len([t for t in code.filter_tags() if str(t.tag) == "tr"]),
    }


@settings(max_examples=200, deadline=None)
@given(titles=st.lists(hostile, min_size=1, max_size=4), owner=hostile, lang=st.sampled_from(["cs", "ko", "en"]))
def test_table_structure_does_not_depend_on_untrusted_text(titles, owner, lang):
    tasks = [task(i + 1, title=t) for i, t in enumerate(titles)]
    tasks = [t.__class__(**{**t.__dict__, "owner": owner}) for t in tasks]
    body = RENDERER.render("status_table", lang, "wiki", rows=select_rows(tasks), tz="Europe/Prague")
    plain = [t.__class__(**{**t.__dict__, "title": "x", "owner": "y"}) for t in tasks]
    expected = structure(RENDERER.render("status_table", lang, "wiki", rows=select_rows(plain), tz="Europe/Prague"))
    got = structure(body)
    assert got == expected
    assert "~~~" not in body and "__NOINDEX__" not in body and "\u202e" not in body
