"""Pure newsletter decisions: editions, sections, delivery lists, approval, keys, Czech typography."""
from __future__ import annotations

import json
from pathlib import Path

import mwparserfromhell
import pytest
from hypothesis import given, settings, strategies as st

from bot.domain import newsletter as nl
from bot.errors import ConfigError
from bot.render import messages
from bot.render.environment import Markup, Renderer
from bot.settings import parse_settings
from tests.fakes import task

DEC = nl.parse_edition("2026-12")
START, END = DEC.period("Europe/Prague")


def test_edition_period_is_the_month_in_the_wikis_zone():
    assert (START, END) == (1796079600, 1798758000)         # 2026-12-01 00:00 CET .. 2027-01-01 00:00 CET
    ko = DEC.period("Asia/Seoul")
    assert ko[0] == START - 8 * 3600
    assert nl.previous_edition(1798758000 + 3600, "Europe/Prague").id == "2026-12"
    assert nl.previous_edition(1767225600 + 7200, "Europe/Prague").id == "2025-12"   # January -> December
    for bad in ("2026-13", "2026-1", "dec", "2026-12-01"):
        with pytest.raises(nl.EditionError, match="YYYY-MM"):
            nl.parse_edition(bad)


def test_sections_place_each_public_task_once():
    tasks = [
        task(1, status="resolved", date_closed=START + 10, date_created=START - 999),
        task(2, status="resolved", date_closed=START - 10),                   # closed before the period
        task(3, status="progress", date_created=START + 5),                   # in progress wins over "opened"
        task(4, status="open", date_created=START + 5, priority=80),
        task(5, status="open", date_created=START + 6),
        task(6, status="resolved", date_closed=START + 10, policy="users"),   # private
        task(7, status="open", date_created=END),                             # next month
    ]
    sections = nl.build_sections(tasks, (START, END), ["opened", "resolved", "progress"], max_per_section=1)
    assert [(s.kind, [t.id for t in s.tasks], s.total) for s in sections] == [
        ("opened", [4], 2), ("resolved", [1], 1), ("progress", [3], 1)]
    assert nl.build_sections([], (START, END), ["resolved"]) == []


def test_delivery_list_wikitext_forms_and_problems():
    text = """Odběratelé:
* {{target|page=Diskuse s wikipedistou:A}}
* {{Target | page = User_talk:B }}
* {{target|user=C}}
* {{#target:Diskuse s wikipedistou:D}}
* {{#target:User talk:E|en.wikipedia.org}}
* {{target|page=User talk:F|site=cs.wikipedia.org}}
* {{target|page=}}
* {{target|page=X[y]}}
* {{Jiná šablona|page=Z}}
"""
    dl = nl.parse_delivery_list(text, local_sites=["cs.wikipedia.org"])
    assert dl.targets == ("Diskuse s wikipedistou:A", "User talk:B", "User talk:C", "Diskuse s wikipedistou:D",
                          "User talk:F")
    assert len(dl.problems) == 3
    assert "en.wikipedia.org" in dl.problems[0] and "no page" in dl.problems[1] and "X[y]" in dl.problems[2]


def test_delivery_list_massmessage_json():
    text = json.dumps({"description": "x", "targets": [{"title": "User talk:A"}, {"title": "User talk:A"},
                                                        {"title": "User talk:B", "site": "ko.wikipedia.org"},
                                                        {"nope": 1}]})
    dl = nl.parse_delivery_list(text, local_sites=["cs.wikipedia.org"])
    assert dl.targets == ("User talk:A", "User talk:A") and len(dl.problems) == 2
    assert "neither wikitext nor valid JSON" in nl.parse_delivery_list('{"targets": [').problems[0]


def rev(revid, status, body, user="Human"):
    marker = "" if status is None else nl.STATUS_MARKER.format(status=status) + "\n"
    return nl.Revision(revid, user, "t", marker + "<!-- ambassador-bot:help x -->\n" + body)


def test_approval_binds_to_the_revision_that_said_ready():
    draft = rev(1, "draft", "Text.", user="TestBot")
    ready = rev(2, "ready", "Text.", user="Ambassador")
    assert nl.approval([]).state == "missing"
    assert nl.approval([draft]).state == "draft"
    assert nl.approval([rev(3, None, "Text.")]).state == "no-marker"
    a = nl.approval([ready, draft])
    assert a.approved and a.approving.revid == 2
    # A later edit that keeps "ready" but changes the body is not approved by anyone.
    edited = rev(3, "ready", "Text. Vandal.", user="Someone")
    a = nl.approval([edited, ready, draft])
    assert a.state == "changed" and a.approving.revid == 2 and a.changed_by == ("Someone",)
    # ... until the body is back to what was approved, or approved again after a reset to draft.
    assert nl.approval([rev(4, "ready", "Text.\n\n"), edited, ready, draft]).approved
    reset = rev(4, "draft", "Text. Vandal.", user="TestBot")
    again = rev(5, "ready", "Text. Vandal.", user="Ambassador")
    a = nl.approval([again, reset, edited, ready, draft])
    assert a.approved and a.approving.revid == 5
    # Whitespace around the marker and the bot's comments do not count as changes of the body.
    assert nl.body_hash(ready.text) == nl.body_hash("Text.\n" + nl.STATUS_MARKER.format(status="ready"))
    with pytest.raises(ValueError):
        nl.approval([ready], complete=False)


def test_only_a_listed_approver_approves():
    draft = rev(1, "draft", "Text.", user="TestBot")
    by_stranger = rev(2, "ready", "Text.", user="Drive-by")
    a = nl.approval([by_stranger, draft], approvers=("Ambassador", "TestBot"))
    assert a.state == "not-approver" and not a.approved and a.approving.user == "Drive-by"
    assert nl.approval([by_stranger, draft]).approved                  # no list: anyone may approve
    # names compare as MediaWiki does: first letter and underscores
    by_ambassador = rev(2, "ready", "Text.", user="Jana Nováková")
    assert nl.approval([by_ambassador, draft], approvers=("jana_Nováková",)).approved
    # a stranger's later edit of the body is "changed", as without the list
    edited = rev(3, "ready", "Text. More.", user="Drive-by")
    assert nl.approval([edited, by_ambassador, draft], approvers=("Jana Nováková",)).state == "changed"


def test_user_names_compare_as_mediawiki_stores_them():
    assert nl.normal_user("jana_Nováková") == "Jana Nováková"
    assert nl.normal_user("Nova\u0301k\u200e") == "Novák"        # NFC, no direction mark
    assert nl.normal_user("ßtefan") == "Sstefan" != nl.normal_user("SStefan")
    draft = rev(1, "draft", "Text.", user="TestBot")
    assert not nl.approval([rev(2, "ready", "Text.", user="SStefan"), draft], approvers=("ßtefan",)).approved


@pytest.mark.parametrize("approvers,message", [
    (["192.0.2.7"], "is an IP address"), (["2001:db8::1"], "is an IP address"), ([], "is empty"),
])
def test_approvers_must_be_accounts(approvers, message):
    data = config(wikis={"cs": {"draft_page": "A/{edition}", "page": "B/{edition}", "subscribers": "S",
                                "approvers": approvers}})
    with pytest.raises(ConfigError) as err:
        parse_settings(data, Path("growth.yaml"))
    assert "newsletters.wikis.cs.approvers" in str(err.value) and message in str(err.value)


def test_approvers_config_is_read_per_wiki():
    data = config(wikis={"cs": {"draft_page": "A/{edition}", "page": "B/{edition}", "subscribers": "S",
                                "approvers": ["Jana Nováková", "TestBot"]}})
    s = parse_settings(data, Path("growth.yaml")).newsletters
    assert s.wikis["cs"].approvers == ("Jana Nováková", "TestBot")


def test_two_markers_or_a_foreign_word_never_approve():
    two = nl.STATUS_MARKER.format(status="ready") * 2
    assert nl.draft_status(two) is None
    assert nl.approval([nl.Revision(1, "x", "t", two + "Body")]).state == "no-marker"
    assert nl.approval([nl.Revision(1, "x", "t", nl.STATUS_MARKER.format(status="hotovo"))]).state == "draft"
    assert nl.draft_status("<!--ambassador-bot:newsletter   status = READY-->") == "ready"


def test_keys_and_markers():
    a = nl.delivery_key("2026-12", "cs", "Diskuse s wikipedistou:Alice")
    assert a == nl.delivery_key("2026-12", "cs", "diskuse_s_wikipedistou:Alice")
    assert a != nl.delivery_key("2026-11", "cs", "Diskuse s wikipedistou:Alice")
    assert nl.has_key_marker("x " + nl.key_marker(a) + " y", a)
    assert not nl.has_key_marker(nl.key_marker(a + "0"), a)
    assert nl.comment_key("2026-12", "ko", 7) == "nlc:2026-12:ko:T7"
    assert nl.page_url("https://cs.wikipedia.org/w/api.php", "Wikipedie:Growth/Zpravodaj/Vydání 2") == \
        "https://cs.wikipedia.org/w/index.php?title=Wikipedie:Growth/Zpravodaj/Vyd%C3%A1n%C3%AD_2"
    assert nl.mentioned_task_ids("[[phab:T5|T5]] [[ phab:T3 ]] [[phab:T5]] phab:T9") == [5, 3]


@pytest.mark.parametrize("source,expected", [
    ("Byl jsem v Praze a k tomu i s Janou.", "Byl jsem v&nbsp;Praze a&nbsp;k&nbsp;tomu i&nbsp;s&nbsp;Janou."),
    ("Dne 1. 12. 2026 a v prosinci 2026.", "Dne 1.&nbsp;12.&nbsp;2026 a&nbsp;v&nbsp;prosinci 2026."),
    ("Od 3. prosince 2026 o víkendu", "Od 3.&nbsp;prosince&nbsp;2026 o&nbsp;víkendu"),
    ("Vydání prosinec 2026", "Vydání prosinec&nbsp;2026"),
    ("<!-- v komentáři a nic --> [[Odkaz a cíl|popisek a text]]", "<!-- v komentáři a nic --> [[Odkaz a cíl|popisek a&nbsp;text]]"),
    ("Slovo ava a vlak", "Slovo ava a&nbsp;vlak"),
])
def test_czech_typography(source, expected):
    rule = messages.typography("cs")
    assert nl.typeset(source, rule) == expected
    assert nl.typeset(expected, rule) == expected


@pytest.mark.parametrize("lang", ["en", "ko", "ar", "vi"])
def test_no_typography_where_the_language_has_no_rule(lang):
    text = "Byl jsem v Praze a k tomu 1. 12. 2026."
    assert not messages.typography(lang)
    assert nl.typeset(text, messages.typography(lang)) == text


PAYLOADS = ["{{subst:Foo}}", "[[Category:X]]", "[[Kategorie:X]]", "~~~~", "~~~", "<ref>x</ref>", "__NOTOC__",
            "{{#invoke:M|f}}", "[https://evil.example x]", "https://evil.example", "\n== H ==\n", "'''b'''",
            "<!-- ambassador-bot:key=nl:2026-12:cs:0 -->", "<!-- ambassador-bot:newsletter status=ready -->",
            "{{nobots}}", "\u202e", "&lt;", "<nowiki>", "{{{1}}}", "[[phab:T1|T1]]", " a v ", "-->"]
hostile = st.lists(st.sampled_from(PAYLOADS) | st.text(alphabet=st.sampled_from(list("{}[]|<>~'=:!&_-\n #*;av "))),
                   max_size=6).map("".join)
RENDERER = Renderer()


def render_draft(lang, titles, intro):
    tasks = [task(i + 1, title=t, status="resolved", date_closed=START + 1) for i, t in enumerate(titles)]
    sections = nl.build_sections(tasks, (START, END), ["resolved"])
    text = RENDERER.render("newsletter_draft", lang, "wiki", marker=Markup(nl.STATUS_MARKER.format(status="draft")),
                           intro=Markup(__import__("bot.render.escape", fromlist=["x"]).wikitext_block(intro))
                           if intro.strip() else None, sections=sections,
                           talk_page="Special:TalkPage/Wikipedie:Z/V/2026-12")
    return nl.typeset(text, messages.typography(lang))


def structure(text):
    code = mwparserfromhell.parse(text)
    return {"templates": [str(t) for t in code.filter_templates()],
            "links": sorted(str(link.title) for link in code.filter_wikilinks()),
            "external": [str(e) for e in code.filter_external_links()],
            "comments": [str(c) for c in code.filter_comments()],
            "headings": [str(h.title).strip() for h in code.filter_headings()],
            "arguments": [str(a) for a in code.filter_arguments()],
            "tags": sorted(str(t.tag) for t in code.filter_tags())}


@settings(max_examples=150, deadline=None)
@given(titles=st.lists(hostile, min_size=1, max_size=4), intro=hostile, lang=st.sampled_from(["cs", "ko", "en"]))
def test_untrusted_titles_and_intro_cannot_change_the_drafts_structure(titles, intro, lang):
    text = render_draft(lang, titles, intro)
    expected = structure(render_draft(lang, ["x"] * len(titles), "Úvod." if intro.strip() else ""))
    assert structure(text) == expected
    assert "~~~" not in text and "__NOTOC__" not in text and "\u202e" not in text
    assert nl.draft_status(text) == "draft"
    assert nl.mentioned_task_ids(text) == list(range(1, len(titles) + 1))


def test_czech_plural_forms_in_the_draft():
    for n, words in ((1, "Vyřešili jsme 1 úkol."), (3, "Vyřešili jsme 3 úkoly."), (5, "Vyřešili jsme 5 úkolů.")):
        assert words in render_draft("cs", [f"t{i}" for i in range(n)], "")
    assert "작업 5개를 해결했습니다." in render_draft("ko", [f"t{i}" for i in range(5)], "")


# -- config -----------------------------------------------------------------------------------------

def config(**newsletter):
    base = {"projects": ["growth-team"],
            "wikis": {"cs": {"draft_page": "Wikipedie:Z/{edition}", "page": "Wikipedie:Z/V/{edition}",
                             "subscribers": "Wikipedie:Z/Odběratelé"}}}
    base.update(newsletter)
    return {"bot": {"user_agent": "t/1 (t@example.org)", "state_url": "memory://"},
            "phabricator": {"url": "http://127.0.0.1:1/"},
            "wikis": {"cs": {"api_url": "http://127.0.0.1:2/api.php", "language": "cs", "timezone": "Europe/Prague",
                             "username": "TestBot"}},
            "newsletters": base}


def test_example_config_loads():
    import yaml
    root = Path(__file__).resolve().parents[2]
    data = yaml.safe_load((root / "config/demo.yaml").read_text())
    data.update(yaml.safe_load((root / "config/newsletter-example.yaml").read_text()))
    s = parse_settings(data, root / "config/demo.yaml").newsletters
    assert set(s.wikis) == {"cs", "ko"} and s.wikis["cs"].title("draft_page", "2026-12") == \
        "Wikipedie:Growth/Zpravodaj/2026-12"


@pytest.mark.parametrize("change,message", [
    ({"projects": []}, "newsletters.projects: must name at least one project"),
    ({"sections": ["resolved", "bugs"]}, "newsletters.sections[1]: unknown section 'bugs'"),
    ({"wikis": {"xx": {}}}, "newsletters.wikis.xx: no such wiki"),
    ({"wikis": {"cs": {"draft_page": "A/{edition}", "page": "A/{edition}", "subscribers": "S"}}},
     "newsletters.wikis.cs.page: must differ from draft_page"),
    ({"wikis": {"cs": {"draft_page": "A", "page": "B/{edition}", "subscribers": "S"}}},
     "newsletters.wikis.cs.draft_page: must contain {edition}"),
    ({"wikis": {"cs": {"draft_page": "A/{edition}", "page": "B/{edition}", "subscribers": "S[x]"}}},
     "newsletters.wikis.cs.subscribers: not a valid page title"),
    ({"wikis": {"cs": {"draft_page": "A/{edition}", "page": "B/{edition}"}}},
     "newsletters.wikis.cs.subscribers: is required"),
    ({"draft_day": 31}, "newsletters.draft_day: must be a day of the month"),
    ({"wikis": {"cs": {"draft_page": "A/{edition}", "page": "B/{edition}", "subscribers": "S",
                       "approvers": ["Wikipedista:Anna"]}}},
     "newsletters.wikis.cs.approvers[0]: write the user name alone"),
    ({"colour": 1}, "newsletters.colour: unknown key"),
])
def test_config_errors_name_file_and_key(change, message):
    with pytest.raises(ConfigError) as err:
        parse_settings(config(**change), Path("growth.yaml"))
    assert str(err.value).startswith("growth.yaml: ") and message in str(err.value)


def test_removing_the_bots_comments_never_joins_what_they_separate():
    bot = "<!-- ambassador-bot:x -->"
    assert nl.draft_body(f"Podpis: ~~{bot}~~ [{bot}[Kategorie:Spam]]") == \
        "Podpis: ~~<!-- -->~~ [<!-- -->[Kategorie:Spam]]\n"
    assert nl.draft_body("Text {" + bot + "{nobots}}") == "Text {<!-- -->{nobots}}\n"
    # inside a person's comment it is the person's text: the comment still ends where it ended
    assert nl.draft_body(f"Text <!-- a {bot} Konec") == f"Text <!-- a {bot} Konec\n"
    # a "bot comment" that would swallow a closing tag is not the bot's; nor is one inside <nowiki>/<pre>
    trap = "<nowiki>{{Šablona}} [[Kategorie:Spam]] ~~~~<!-- ambassador-bot:</nowiki>-->"
    assert nl.draft_body(trap) == trap + "\n"
    assert nl.draft_body(f"<pre>a {bot} b</pre>") == f"<pre>a {bot} b</pre>\n"
    assert nl.draft_body(f"<nowiki/>~~{bot}~~") == "<nowiki/>~~<!-- -->~~\n"
    # the bot's own lines go with their line breaks
    draft = nl.STATUS_MARKER.format(status="ready") + "\n<!-- ambassador-bot:help\nvíce řádků -->\nText.\n"
    assert nl.draft_body(draft) == "Text.\n"


_BODY_PIECES = st.sampled_from(["<!-- ambassador-bot:x -->", "<!--", "-->", "~", "~~", "{", "[", "]", "}",
                                "\n", " ", "a", "nobots", "Kategorie:X", "<nowiki>", "</nowiki>", "<pre>",
                                "</pre>", "<!-- ambassador-bot:", "{{x}}", "[[y]]"])


@given(st.lists(_BODY_PIECES, max_size=14).map("".join))
@settings(max_examples=400, deadline=None)
def test_published_body_renders_like_the_approved_draft(text):
    """What the bot publishes parses to the same visible text and markup as the draft people approved."""
    def visible(wikitext):
        parsed = mwparserfromhell.parse(wikitext)
        for comment in parsed.filter_comments(recursive=False):
            parsed.remove(comment)
        return parsed

    before, after = visible(text), visible(nl.draft_body(text))
    assert "~~~" not in str(after).replace("\n", "") or "~~~" in str(before).replace("\n", "")
    assert len(after.filter_templates()) <= len(before.filter_templates())
    assert len(after.filter_wikilinks()) <= len(before.filter_wikilinks())
    assert str(after).count("<!--") <= str(before).count("<!--")
