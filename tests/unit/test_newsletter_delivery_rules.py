"""The newsletter's delivery rules (bot/domain/delivery.py), without any wiki: the answers the wiki would
give are plain dicts, as `WikiClient.read_targets` returns them."""
from __future__ import annotations

import pytest

from bot.domain import delivery
from bot.domain import newsletter as nl

ED, CODE = "2026-11", "cs"


def page(title, *, exists=True, ns=3, text="", in_category=False, invalid=None, double_redirect=False):
    return {"title": title, "exists": exists, "ns": ns, "text": text, "in_category": in_category,
            "invalid": invalid, "double_redirect": double_redirect}


def target(title="Diskuse s uživatelem:Jana", *, text="", exists=True, ns=3, asked=None):
    return delivery.Target(title, nl.delivery_key(ED, CODE, title), text, asked or [title], exists=exists, ns=ns)


def test_each_entry_reaches_its_page_and_an_entry_reaching_the_same_page_again_joins_it():
    resolved = {
        "Diskuse s uživatelem:Jana": page("Diskuse s uživatelem:Jana"),
        "Diskuse_s_uživatelem:Jana": page("Diskuse s uživatelem:Jana"),
        "Diskuse s uživatelem:Jana (stará)": page("Diskuse s uživatelem:Jana"),       # a redirect to it
        "Diskuse s uživatelem:Petr": page("Diskuse s uživatelem:Petr", exists=False),
    }
    found = delivery.resolve_targets(list(resolved), resolved, ED, CODE)
    assert list(found.unique) == ["Diskuse s uživatelem:Jana", "Diskuse s uživatelem:Petr"]
    jana = found.unique["Diskuse s uživatelem:Jana"]
    assert jana.asked == ["Diskuse s uživatelem:Jana", "Diskuse_s_uživatelem:Jana", "Diskuse s uživatelem:Jana (stará)"]
    assert jana.key == nl.delivery_key(ED, CODE, "Diskuse s uživatelem:Jana")
    assert delivery.redirect_from(jana) == "Diskuse s uživatelem:Jana (stará)"
    petr = found.unique["Diskuse s uživatelem:Petr"]
    assert (petr.exists, petr.ns, delivery.redirect_from(petr)) == (False, 3, None)
    assert found.unusable == []


def test_unusable_entries_say_why_in_list_order():
    resolved = {
        "Bad|title": page("Bad|title", exists=False, ns=None, invalid="contains '|'"),
        "Uživatel:Loop": page("Uživatel:Other redirect", double_redirect=True),
        "Nonexistent article": page("Nonexistent article", exists=False, ns=0),
        "Diskuse:Existing topic": page("Diskuse:Existing topic", ns=1),
        "Existing article": page("Existing article", ns=0),          # an existing page of any namespace is fine
    }
    found = delivery.resolve_targets(list(resolved), resolved, ED, CODE)
    assert found.unusable == [
        delivery.Unusable("Bad|title", delivery.INVALID, "contains '|'"),
        delivery.Unusable("Uživatel:Loop", delivery.DOUBLE_REDIRECT, "Uživatel:Other redirect"),
        delivery.Unusable("Nonexistent article", delivery.NOT_TALK),
    ]
    assert list(found.unique) == ["Diskuse:Existing topic", "Existing article"]


@pytest.mark.parametrize("ns, talk", [(1, True), (3, True), (5, True), (0, False), (2, False), (-1, False),
                                      (None, False)])
def test_only_odd_positive_namespaces_are_talk(ns, talk):
    assert delivery.is_talk(ns) is talk


def test_the_account_of_a_user_talk_page_and_its_subpages():
    assert delivery.user_of("Diskuse s wikipedistou:Jana/Archiv") == "Jana"
    assert delivery.user_of("User talk:A:B") == "A:B"


def test_missing_user_talk_pages_are_created_only_for_existing_accounts():
    unique = {
        "a": target("Diskuse s uživatelem:Jana", exists=False),
        "b": target("Diskuse s uživatelem:Nikdo", exists=False),
        "c": target("Diskuse s uživatelem:Petr"),                  # exists: no account look-up
        "d": target("Diskuse:Téma", exists=False, ns=1),          # not a user's: created as MassMessage does
        "e": target("Diskuse s uživatelem:Hotovo", exists=False),  # delivered already: nothing to ask
    }
    unborn = delivery.unborn_user_talk(unique, delivered={unique["e"].key})
    assert list(unborn) == ["a", "b"]
    assert list(delivery.without_account(unborn, existing_users={"Jana"})) == ["b"]


def test_opted_out_when_any_entry_naming_the_page_is_in_the_category():
    t = target(asked=["Diskuse s uživatelem:Jana", "Diskuse s uživatelem:Jana (stará)"])
    resolved = {"Diskuse s uživatelem:Jana": page("Diskuse s uživatelem:Jana"),
                "Diskuse s uživatelem:Jana (stará)": page("Diskuse s uživatelem:Jana", in_category=True)}
    assert delivery.opted_out(t, resolved)
    resolved["Diskuse s uživatelem:Jana (stará)"]["in_category"] = False
    assert not delivery.opted_out(t, resolved)


def decide(t, *, delivered=False, optout=False, nobots=False, asked=None):
    asked = asked if asked is not None else []
    return delivery.decide(t, delivered=delivered, edition=ED, code=CODE, optout=optout,
                           excludes_bot=lambda x: asked.append(x.title) or nobots)


def test_the_rules_are_tried_in_order_and_nobots_is_asked_last():
    fresh = target()
    asked: list[str] = []
    assert decide(fresh, delivered=True, optout=True, nobots=True, asked=asked) == delivery.ALREADY
    on_page = target(text="Ahoj\n" + nl.key_marker(fresh.key))
    assert decide(on_page, optout=True, nobots=True, asked=asked) == delivery.ON_PAGE
    assert decide(fresh, optout=True, nobots=True, asked=asked) == delivery.OPTED_OUT
    assert asked == []
    assert decide(fresh, nobots=True, asked=asked) == delivery.EXCLUDES_BOT
    assert decide(fresh, asked=asked) == delivery.TO_SEND
    assert asked == [fresh.title, fresh.title]


def test_a_copy_of_this_edition_under_the_pages_old_name_counts_as_on_the_page():
    old = target("Diskuse s uživatelem:Jana (starý účet)")
    moved = target(text="== Zpravodaj ==\n" + nl.key_marker(old.key))
    assert decide(moved) == delivery.ON_PAGE
    other_edition = target(text=nl.key_marker(nl.delivery_key("2026-10", CODE, old.title)))
    other_wiki = target(text=nl.key_marker(nl.delivery_key(ED, "vi", old.title)))
    assert decide(other_edition) == decide(other_wiki) == delivery.TO_SEND


def test_interrupted_writes_are_only_those_pending_on_an_existing_page():
    a, b, c = target("A"), target("B"), target("C", exists=False)
    assert delivery.interrupted([a, b, c], pending={a.key, c.key}) == [a]


@pytest.mark.parametrize("number, due", [(0, False), (1, False), (24, False), (25, True), (26, False), (50, True)])
def test_the_run_page_is_read_again_every_25_deliveries(number, due):
    assert delivery.run_page_due(number, 25) is due


def test_report_rows_and_counts():
    records = {
        "k-delivered": {"title": "Diskuse s uživatelem:Jana", "redirect_from": "Diskuse s uživatelem:J",
                        "created": True, "outcome": "delivered"},
        "k-skipped": {"title": "Diskuse s uživatelem:Opt", "outcome": "skipped", "why": "optout"},
        "k-failed": {"title": "Diskuse s uživatelem:Zamčeno", "outcome": "pending"},
        "k-protected": {"title": "Diskuse s uživatelem:Chráněno", "outcome": "pending"},
        "k-interrupted": {"title": "Diskuse s uživatelem:Spadlo", "outcome": "pending"},
        "k-pending": {"title": "Diskuse s uživatelem:Čeká", "outcome": "pending"},
        "nlx-invalid": {"title": "Bad|title", "outcome": "skipped", "why": "invalid", "detail": "contains '|'"},
    }
    posts = {"k-delivered": ("cs:Diskuse s uživatelem:Jana", 101),
             "k-unrecorded": ("cs:Diskuse s uživatelem:Bez záznamu", 102)}   # the record was lost, the post not
    failed = {"k-failed": {"error": "abuse filter", "why": None},
              "k-protected": {"error": "protected", "why": "protected"}}
    rows, counts = delivery.report_rows(records, posts, failed, pending={"k-interrupted"})
    by_title = {r["title"]: r for r in rows}
    assert [r["kind"] for r in rows[:2]] == ["failed", "interrupted"]
    assert by_title["Diskuse s uživatelem:Jana"] == {
        "title": "Diskuse s uživatelem:Jana", "redirect_from": "Diskuse s uživatelem:J", "created": True,
        "revid": 101, "why": None, "detail": "", "kind": "delivered"}
    assert by_title["Diskuse s uživatelem:Bez záznamu"]["kind"] == "delivered"
    assert by_title["Diskuse s uživatelem:Bez záznamu"]["revid"] == 102
    assert by_title["Diskuse s uživatelem:Zamčeno"]["detail"] == "abuse filter"
    assert by_title["Diskuse s uživatelem:Chráněno"]["kind"] == "skipped"
    assert by_title["Bad|title"]["detail"] == "contains '|'"
    assert counts == {"delivered": 2, "skipped": 3, "failed": 1, "interrupted": 1, "pending": 1, "created": 1,
                      "redirected": 1, "total": 5}
    assert not delivery.finished(counts)


@pytest.mark.parametrize("left, done", [({}, True), ({"pending": 1}, False), ({"failed": 1}, False),
                                        ({"interrupted": 1}, False), ({"skipped": 4}, True)])
def test_finished_when_nothing_is_left_to_deliver(left, done):
    counts = {"delivered": 3, "skipped": 0, "failed": 0, "interrupted": 0, "pending": 0, **left}
    assert delivery.finished(counts) is done


def test_a_page_created_since_the_read_is_posted_to_only_if_it_is_the_target_itself():
    t = target("Diskuse s uživatelem:Nová", exists=False)
    assert delivery.created_meanwhile_as(page("Diskuse s uživatelem:Nová"), t) is None
    assert delivery.created_meanwhile_as(page("Diskuse_s_uživatelem:Nová"), t) is None
    assert delivery.created_meanwhile_as(page("Diskuse s uživatelem:Jinam"), t) == "a redirect"
    assert delivery.created_meanwhile_as(page("Diskuse s uživatelem:Nová", exists=False), t) == "a page deleted again"
