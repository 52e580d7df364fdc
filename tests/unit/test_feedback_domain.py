"""The feedback job's pure decisions (bot/domain/feedback.py): keys, digest batches, threads, problems."""
from __future__ import annotations

from bot.domain.comments import Comment, text_hash
from bot.domain.feedback import (PHAB_POST, WIKI_POST, comment_key, delivered, digest_batches, digest_threads,
                                 due_replies, known_key, page_problem, reply_threads, seen_key,
                                 template_comments_missing, unsigned_key, wiki_problem)
from bot.domain.problems import PAGE, WIKI
from bot.domain.replies import reply_post_key


def comment(cid="c1", author="Anna", ts="2026-11-24T10:00:00Z", section="Ideas", text="Please add a filter.",
            **kw) -> Comment:
    return Comment(cid, author, ts, section, text, **kw)


def item(cid="c1", ts="2026-11-24T10:00:00Z", task=7, digest=None, section="Ideas", title="Talk:Growth",
         signed=True) -> dict:
    return {"wiki": "cs", "title": title, "kind": "new", "task": task, "digest": digest,
            "comment": comment(cid, ts=ts, section=section, signed=signed).to_json()}


# -- keys: stored in the state store, so their form is part of exactly-once --------------------------

def test_comment_key_names_wiki_page_id_and_a_short_text_hash():
    c = comment()
    assert comment_key("cs", "talk:Growth_ideas", c) == f"cs:Talk:Growth ideas:c1:{text_hash(c.text)[:10]}"


def test_an_edited_comment_gets_a_new_key_and_whitespace_does_not_make_one():
    c = comment()
    assert comment_key("cs", "P", c) != comment_key("cs", "P", comment(text="Please add two filters."))
    assert comment_key("cs", "P", c) == comment_key("cs", "P", comment(text="Please  add a\nfilter."))


def test_the_same_id_on_two_pages_is_two_comments():
    assert comment_key("cs", "P1", comment()) != comment_key("cs", "P2", comment())


def test_unsigned_key_is_page_section_and_full_text_hash():
    assert unsigned_key("cs", "p_x", "Ideas", "words") == f"cs:P x:Ideas:{text_hash('words')}"


def test_seen_key_and_known_key():
    assert seen_key("cs", "talk:a_b", "c1") == "cs:Talk:a b:c1"
    # Known across pages: a moved section has the same author, time and text on another page.
    assert known_key("cs", comment(cid="x")) == known_key("cs", comment(cid="y", section="Archive"))
    assert known_key("cs", comment()) == f"cs:Anna|2026-11-24T10:00:00Z|{text_hash('Please add a filter.')}"


# -- which comments go into which digest -----------------------------------------------------------

def test_digest_batches_leave_out_what_each_target_has_and_keep_time_order():
    queue = {"k2": item("c2", ts="2026-11-24T11:00:00Z", digest=["cs", "Digest"]),
             "k1": item("c1", ts="2026-11-24T10:00:00Z", digest=["cs", "Digest"]),
             "k3": item("c3", ts="2026-11-24T09:00:00Z", task=8),
             "k0": item("c0", ts="2026-11-24T10:00:00Z", task=8, digest=["cs", "Digest"])}
    posted = {PHAB_POST + "k3", WIKI_POST + "k0"}
    by_task, by_digest = digest_batches(queue, posted.__contains__)
    assert {t: [k for k, _ in items] for t, items in by_task.items()} == {7: ["k1", "k2"], 8: ["k0"]}
    assert {d: [k for k, _ in items] for d, items in by_digest.items()} == {("cs", "Digest"): ["k1", "k2"]}


def test_a_comment_is_delivered_once_every_target_has_it():
    plain, with_page = item(), item(digest=["cs", "Digest"])
    reply = reply_post_key(plain)
    assert not delivered("k", plain, set().__contains__, wants_reply=False)
    assert delivered("k", plain, {PHAB_POST + "k"}.__contains__, wants_reply=False)
    assert not delivered("k", with_page, {PHAB_POST + "k"}.__contains__, wants_reply=False)
    assert delivered("k", with_page, {PHAB_POST + "k", WIKI_POST + "k"}.__contains__, wants_reply=False)
    assert not delivered("k", plain, {PHAB_POST + "k"}.__contains__, wants_reply=True)
    assert delivered("k", plain, {PHAB_POST + "k", reply}.__contains__, wants_reply=True)


def test_replies_are_due_once_the_task_has_the_comment_one_per_comment_and_task():
    queue = {"a-old": item("c1", ts="2026-11-24T10:00:00Z"), "a-edit": item("c1", ts="2026-11-24T10:00:00Z"),
             "b": item("c2", ts="2026-11-24T11:00:00Z"), "c": item("c3", ts="2026-11-24T12:00:00Z"),
             "d": item("c4", title="Talk:Other")}
    posted = {PHAB_POST + k for k in ("a-old", "a-edit", "c", "d")} | {reply_post_key(queue["c"])}
    due = due_replies(queue, lambda i: i["title"] == "Talk:Growth", posted.__contains__, would_post={"b"})
    # The edit of c1 is the same reply as its first text; c2 would be posted by a dry run; c3 is replied.
    assert [i["comment"]["id"] for i in due.values()] == ["c1", "c2"]
    assert due_replies(queue, lambda i: True, set().__contains__, set()) == {}


# -- threads ----------------------------------------------------------------------------------------

def entry(c: Comment, wiki="cs", title="Talk:Growth") -> dict:
    return {"wiki": wiki, "wiki_name": wiki.upper(), "title": title, "section": c.section, "comment": c}


def test_digest_threads_put_replies_after_their_parent_and_pages_by_first_comment():
    root = comment("r", ts="2026-11-24T10:00:00Z")
    later_root = comment("s", ts="2026-11-24T10:30:00Z")
    answer = comment("a", ts="2026-11-24T11:00:00Z", level=2, parent="r")
    other_page = comment("o", ts="2026-11-24T09:00:00Z", section="Bugs")
    other_wiki = comment("k", ts="2026-11-24T08:00:00Z")
    entries = [entry(answer), entry(later_root), entry(root), entry(other_page, title="Talk:Bugs"),
               entry(other_wiki, wiki="ko")]
    groups = digest_threads(entries)
    assert [(g["wiki"], g["title"], [e["comment"].id for e in g["comments"]]) for g in groups] == [
        ("cs", "Talk:Bugs", ["o"]), ("cs", "Talk:Growth", ["r", "a", "s"]), ("ko", "Talk:Growth", ["k"])]
    assert [e["depth"] for e in groups[1]["comments"]] == [0, 1, 0]


def test_reply_threads_are_in_page_order_of_their_first_comment():
    items = [item("b2", ts="2026-11-24T12:00:00Z", section="B"), item("a1", ts="2026-11-24T11:00:00Z", section="A"),
             item("b1", ts="2026-11-24T10:00:00Z", section="B"), item("b1", ts="2026-11-24T10:00:00Z", section="B",
                                                                      task=3)]
    threads = reply_threads(items)
    assert [[(i["comment"]["id"], i["task"]) for i in t] for t in threads] == [
        [("b1", 3), ("b1", 7), ("b2", 7)], [("a1", 7)]]


def test_template_comments_discussiontools_lacks_are_added_never_more_than_it_lacks():
    by_template = comment("wt-id", by_template=True)
    # DiscussionTools renders the template: it has the comment under its own id.
    assert template_comments_missing([comment("dt-id")], [by_template]) == []
    assert template_comments_missing([], [by_template]) == [by_template]
    twin = comment("wt-id-2", by_template=True)
    assert template_comments_missing([comment("dt-id")], [by_template, twin]) == [by_template]
    # A signed comment DiscussionTools lacks is its own business (a page it does not read as discussion).
    assert template_comments_missing([], [comment("signed")]) == []


# -- problems ---------------------------------------------------------------------------------------

def test_a_reason_that_already_names_the_wiki_is_told_once():
    reason = "wiki cs: 12. 12. 2026 cannot tell the day from the month; its comments wait"
    problem = page_problem("cs", "Wikipedie:Pod lípou", reason, "will retry next cycle")
    assert problem == ("wiki cs page 'Wikipedie:Pod lípou': 12. 12. 2026 cannot tell the day from the month; "
                       "its comments wait; will retry next cycle")
    assert (problem.wiki, problem.target, problem.kind) == ("cs", "Wikipedie:Pod lípou", PAGE)
    whole = wiki_problem("cs", reason, "will retry next cycle")
    assert whole.count("wiki cs") == 1 and (whole.wiki, whole.target, whole.kind) == ("cs", None, WIKI)


def test_a_reason_naming_another_wiki_or_none_is_kept_whole():
    assert page_problem("cs", "P", "wiki ko: down", "later") == "wiki cs page 'P': wiki ko: down; later"
    assert wiki_problem("cs", "timeout", "later") == "wiki cs: timeout; later"
