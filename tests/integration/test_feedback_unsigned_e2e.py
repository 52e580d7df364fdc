"""Unsigned feedback end to end on the real local cs wiki: an edit of an unsigned comment goes to the
Conduit sandbox once, marked as an edit of the original, and {{Nepodepsáno|User|time}} names the author."""
from __future__ import annotations

import io
import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.adapters.wiki_facts import wiki_facts
from bot.domain.comments import comments_from_threaditems, parse_comments
from bot.jobs import feedback
from bot.jobs.registry import build_context
from bot.settings import parse_settings
from tests.integration.helpers import config_data, set_secrets

pytestmark = pytest.mark.integration

PROJECT = "Wikipedie:Growth/Zpětná vazba"            # DiscussionTools does not read it: the wikitext path
TALK = "Diskuse k Wikipedii:Growth/Zpětná vazba"     # a talk page: the DiscussionTools path
CODES = ("cs", "ko", "en")
# One comment's line of the digest (under its thread's heading `**Czech Wikipedia / page / section**`).
HEADER = re.compile(r"^(?:↳ )*\*\*(?P<author>[^*]+)\*\*(?:, in reply to [^,]+)?(?P<unsigned> \(unsigned\))?, "
                    r"(?P<time>\d{1,2} \w+ \d{4}, \d\d:\d\d CES?T)(?P<edited>, \*\*edited\*\*)?", re.M)


@pytest.fixture
def world(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch):
    project = conduit.create_project("Growth-Team", "growth-team")
    task = conduit.create_task("Feedback", projects=[project])
    human = wikis.api("cs", wikis.wikis["cs"].human)       # OtherUser, an ordinary account

    def start(title):
        human.edit(title, "Sem pište.\n\n== Starší ==\nStarý komentář. ~~~~\n", "založení")
        set_secrets(monkeypatch, wikis, conduit, CODES)
        data = config_data(wikis, conduit, tmp_path, pywikibot_dir, codes=CODES, tables=[])
        data["feedback"] = {"pages": [{"wiki": "cs", "title": title, "task": task}]}
        ctx = build_context(parse_settings(data, tmp_path / "test.yaml"))
        ctx.out = io.StringIO()
        assert feedback.run(ctx).problems == []        # first cycle: the baseline
        return ctx

    return start, conduit, human, task


def headers(conduit, task):
    # The escaper breaks markup with invisible word joiners; read the comments as a person sees them.
    texts = [c["text"].replace("\u2060", "") for c in conduit.comments(task)]
    return [[m.groupdict() for m in HEADER.finditer(t)] for t in texts], texts


def cs_signature_time(now: datetime) -> str:
    local = now.astimezone(ZoneInfo("Europe/Prague"))
    return f"{local.day}. {local.month}. {local.year}, {local:%H:%M} ({'CEST' if local.dst() else 'CET'})"


@pytest.mark.parametrize("title", [PROJECT, TALK], ids=["wikitext", "discussiontools"])
def test_unsigned_edit_forwarded_once_as_edit_and_unsigned_template_names_the_author(world, title):
    start, conduit, human, task = world
    ctx = start(title)

    def append(text):
        human.edit(title, human.page_text(title).rstrip("\n") + "\n" + text, "komentář")

    append("\n== Nápad ==\nChtěl bych filtr podle data.\n")
    assert feedback.run(ctx).problems == []
    [[first]], _ = headers(conduit, task)
    assert (first["author"], first["unsigned"], first["edited"]) == ("OtherUser", " (unsigned)", None)

    # The same user edits the comment: exactly one more comment, an edit of the original.
    human.edit(title, human.page_text(title).replace("podle data.", "podle data a autora."), "oprava")
    assert feedback.run(ctx).problems == []
    got, texts = headers(conduit, task)
    assert len(got) == 2
    [[edit]] = got[1:]
    assert (edit["author"], edit["unsigned"], edit["edited"]) == ("OtherUser", " (unsigned)", ", **edited**")
    assert edit["time"] == first["time"] and "podle data a autora." in texts[1]
    # One comment id on the page, carrying both texts: the edit went out under the original's identity.
    seen = {k: v for k, v in ctx.store.items(feedback.NS_SEEN).items() if v}
    assert len(seen) == 1 and len(next(iter(seen.values()))) == 2

    report = feedback.run(ctx)                          # a rerun posts nothing
    assert report.saved == [] and report.problems == [] and len(conduit.comments(task)) == 2

    # {{Nepodepsáno|User|time}} (a red link here: the template need not exist) names the author.
    stamp = cs_signature_time(datetime.now(timezone.utc))
    append(f"\n== Třídění ==\nPřidejte třídění. {{{{Nepodepsáno|Alice|{stamp}}}}}\n")
    assert feedback.run(ctx).problems == []
    got, texts = headers(conduit, task)
    assert len(got) == 3
    [[alice]] = got[2:]
    assert (alice["author"], alice["unsigned"], alice["edited"]) == ("Alice", None, None)
    assert "Přidejte třídění." in texts[2] and "OtherUser" not in texts[2]

    if title == TALK:
        # DiscussionTools sees no signature in a template that renders none (a red link on this wiki), so
        # the two parsers differ on that comment only; the job takes it from the wikitext, same id.
        wiki = ctx.wikis["cs"]
        facts = wiki_facts(wiki)     # read from the live wiki
        from_wikitext, _ = parse_comments(human.page_text(title), facts)
        from_dt = comments_from_threaditems(wiki.discussion_items(title), facts)
        assert [c.author for c in from_wikitext if c.by_template] == ["Alice"]
        assert [c for c in from_wikitext if not c.by_template] == from_dt

    # A patroller marks the first comment, already forwarded, with a wrapped template after a dash:
    # nothing new was written, and no "</small>" is left over as the patroller's unsigned text.
    human.edit(title, human.page_text(title).replace(
        "podle data a autora.", "podle data a autora. <small>-- {{Unsigned|OtherUser}}</small>"), "označení")
    assert feedback.run(ctx).problems == []
    assert len(conduit.comments(task)) == 3
