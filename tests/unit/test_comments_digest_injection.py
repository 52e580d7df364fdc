"""Hostile comment text, authors and headings cannot create mentions, references, embeds or formatting."""
from __future__ import annotations

import io
from types import SimpleNamespace

import mwparserfromhell
from hypothesis import given, settings, strategies as st

from bot.domain.comments import Comment
from bot.jobs import feedback
from bot.render.environment import Markup, Renderer
from bot.render.escape import wikitext_inline
from tests.fakes import FakeWiki
from tests.unit.test_escape import REMARKUP_PAYLOADS, assert_remarkup_inert

WIKI_PAYLOADS = ["{{subst:Foo}}", "[[Category:X]]", "~~~~", "<ref>x</ref>", "__NOINDEX__", "[https://e.x x]",
                 "<!-- ambassador-bot:key=zzz -->", "\n== H ==\n", "'''b'''", "|}", "{|"]
hostile = st.lists(st.sampled_from(REMARKUP_PAYLOADS + WIKI_PAYLOADS) | st.text(max_size=20), max_size=5).map("".join)
CONF = SimpleNamespace(max_quote_chars=120)


def ctx():
    return SimpleNamespace(wikis={"cs": FakeWiki()}, renderer=Renderer(), out=io.StringIO(),
                           settings=SimpleNamespace(phabricator=SimpleNamespace(language="en")))


def entry(text, author, section, n=0):
    c = Comment(f"c-x-{n}", author or "x", "2026-11-24T06:15:00Z", section, text, 2, None, True, None)
    item = {"wiki": "cs", "title": "Wikipedie:Growth", "kind": "edit", "comment": c.to_json(), "revid": 5, "task": 3}
    return feedback.digest_entry(ctx(), CONF, f"cs:c-x-{n}:abc", item, "en")


def digest_body(rendered: str) -> str:
    # Drop our own marker line and the permalinks, which are ours; the rest must be inert.
    lines = [ln for ln in rendered.splitlines() if not ln.startswith(feedback.MARKER_PREFIX)]
    return "\n".join(ln.split(" ([[ http")[0] for ln in lines if "[[ http" not in ln or not ln.startswith("(Short"))


@settings(max_examples=150, deadline=None)
@given(text=hostile, author=hostile, section=hostile)
def test_remarkup_digest_is_inert(text, author, section):
    out = feedback.render_digest(ctx(), CONF, [entry(text, author, section)])
    for line in digest_body(out).splitlines():
        if line.startswith(">"):
            assert_remarkup_inert(line, quote=True)
        elif line:
            assert_remarkup_inert(line.replace("**", ""))
    assert out.count("\n>") >= 1


def structure(text):
    code = mwparserfromhell.parse(text)
    return ([str(t) for t in code.filter_templates()], sorted(str(link.title) for link in code.filter_wikilinks()),
            len(code.filter_external_links()), [str(c) for c in code.filter_comments()],
            [str(h) for h in code.filter_headings()])


@settings(max_examples=150, deadline=None)
@given(text=hostile, author=hostile, section=hostile, lang=st.sampled_from(["cs", "ko", "en"]))
def test_wiki_digest_structure_does_not_depend_on_text(text, author, section, lang):
    def render(t, a, s):
        e = entry(t, a, s)
        e["text_wiki"] = Markup(wikitext_inline(e["text"], max_chars=CONF.max_quote_chars))
        e["task_link"] = Markup("[[phab:T3|T3]]")
        e["stars"] = Markup("")
        return Renderer().render("digest", lang, "wiki", comments=[e], heading="Wiki", wiki_code=Markup("cs"),
                                 threads=[{"title": e["title"], "section": e["section"], "comments": [e]}])
    got = render(text, author, section)
    assert structure(got) == structure(render("x" * len(text), "y", "z"))  # same length: same cut, same link
    assert "~~~" not in got and "__NOINDEX__" not in got
