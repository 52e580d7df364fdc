"""Who gets a newsletter edition: the delivery rules, decided from what the wiki said about each entry.

Pure: the job reads the subscriber list, the targets (one batched read), the accounts and the store,
and hands the answers in; these functions say which page each entry reaches, which entries are
unusable, which targets are already delivered, skipped or still to send, and what the report counts.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

from bot.domain import newsletter as nl

NS_USER_TALK = 3

# Why an entry reaches no page the bot may post to (the report's "why" column).
INVALID, DOUBLE_REDIRECT, NOT_TALK, NO_USER = "invalid", "double-redirect", "not-talk", "nouser"

# What to do with a target, in the order the rules are tried.
ALREADY = "already"          # the store has the delivery
ON_PAGE = "on-page"          # the page carries the message, the store lost the record: record it
OPTED_OUT = "optout"         # in the opt-out category: skipped
EXCLUDES_BOT = "nobots"      # {{nobots}}/{{bots}}: skipped
TO_SEND = "send"

REPORT_KINDS = ("delivered", "skipped", "failed", "interrupted", "pending")


@dataclass
class Target:
    """One page to post to, and every entry of the list that reaches it (itself, or via a redirect)."""
    title: str
    key: str
    text: str
    asked: list[str]
    exists: bool = True          # False: a missing talk page, created by the message
    ns: int | None = None


@dataclass(frozen=True)
class Unusable:
    """An entry of the list that names no page to deliver to."""
    asked: str
    why: str
    detail: str = ""


@dataclass
class Targets:
    unique: dict[str, Target] = field(default_factory=dict)     # normalised title -> target, in list order
    unusable: list[Unusable] = field(default_factory=list)      # in list order


def is_talk(ns) -> bool:
    return isinstance(ns, int) and ns > 0 and ns % 2 == 1


def user_of(title: str) -> str:
    """The account a user talk page belongs to: `Diskuse s wikipedistou:Jana/Archiv` -> `Jana`."""
    return title.split(":", 1)[-1].split("/", 1)[0]


def resolve_targets(asked_titles: Iterable[str], resolved: Mapping[str, dict], edition: str, code: str) -> Targets:
    """Each entry's page after redirects (`resolved`: the wiki's answer per entry); entries that reach the
    same page are one target, so a page listed twice or also reached through a redirect gets one message."""
    out = Targets()
    for asked in asked_titles:
        r = resolved[asked]
        if r["invalid"]:
            out.unusable.append(Unusable(asked, INVALID, str(r["invalid"])))
        elif r["double_redirect"]:
            out.unusable.append(Unusable(asked, DOUBLE_REDIRECT, r["title"]))
        elif not r["exists"] and not is_talk(r["ns"]):
            out.unusable.append(Unusable(asked, NOT_TALK))
        else:
            final = nl.normal_title(r["title"])
            if final in out.unique:
                out.unique[final].asked.append(asked)
            else:
                out.unique[final] = Target(r["title"], nl.delivery_key(edition, code, r["title"]), r["text"],
                                           [asked], exists=r["exists"], ns=r["ns"])
    return out


def redirect_from(target: Target) -> str | None:
    """The first entry that reached the target through a redirect (what the report shows), or None."""
    return next((a for a in target.asked if nl.normal_title(a) != nl.normal_title(target.title)), None)


def unborn_user_talk(unique: Mapping[str, Target], delivered: Collection[str]) -> dict[str, Target]:
    """Missing user talk pages not delivered yet: MassMessage's rule creates them only for an existing account."""
    return {final: t for final, t in unique.items() if not t.exists and t.ns == NS_USER_TALK and t.key not in delivered}


def without_account(unborn: Mapping[str, Target], existing_users: Collection[str]) -> dict[str, Target]:
    """Of `unborn`, those whose account does not exist ("skipnouser"): skipped, the page is not created."""
    return {final: t for final, t in unborn.items() if user_of(t.title) not in existing_users}


def opted_out(target: Target, resolved: Mapping[str, dict]) -> bool:
    """Whether any entry naming the target was in the opt-out category (a redirect's category counts too)."""
    return any(resolved[a]["in_category"] for a in target.asked)


def decide(target: Target, *, delivered: bool, edition: str, code: str, optout: bool,
           excludes_bot: Callable[[Target], bool]) -> str:
    """What to do with one target (ALREADY, ON_PAGE, OPTED_OUT, EXCLUDES_BOT or TO_SEND).

    `optout`: the wiki has an opt-out category and the target is in it. `excludes_bot` is asked last,
    and only when the earlier rules did not decide."""
    if delivered:
        return ALREADY
    if nl.has_key_marker(target.text, target.key) or nl.has_edition_marker(target.text, edition, code):
        return ON_PAGE
    if optout:
        return OPTED_OUT
    if excludes_bot(target):
        return EXCLUDES_BOT
    return TO_SEND


def created_meanwhile_as(state: Mapping, target: Target) -> str | None:
    """What a page missing at the read turned out to be when creating it failed ("articleexists"):
    "a redirect" or "a page deleted again" (no message then), or None when it is the target page itself."""
    if not state["exists"]:
        return "a page deleted again"
    if nl.normal_title(state["title"]) != nl.normal_title(target.title):
        return "a redirect"
    return None


def interrupted(todo: Iterable[Target], pending: Collection[str]) -> list[Target]:
    """Targets that were being written when the process died: their history is looked at before posting.
    A page that is still missing has no history; posting creates it only if it is still missing."""
    return [t for t in todo if t.key in pending and t.exists]


def run_page_due(number: int, every: int) -> bool:
    """Whether the emergency-stop page is read again before delivery number `number` (0-based)."""
    return bool(number) and number % every == 0


def report_rows(records: Mapping[str, dict], posts: Mapping[str, tuple[str, object]], failed: Mapping[str, dict],
                pending: Collection[str]) -> tuple[list[dict], dict]:
    """Every entry of the delivery list with its outcome, and the counts.

    `records`: what became of each entry (by key), `posts`: the recorded deliveries (key -> (target,
    revision)), `failed`: the failures to retry (key -> error, why), `pending`: keys being written."""
    rows = [_row(key, records.get(key), posts.get(key), failed.get(key), key in pending)
            for key in set(records) | set(posts)]
    rows.sort(key=lambda r: (r["kind"] != "failed", r["kind"] != "interrupted", nl.normal_title(r["title"])))
    counts = {k: sum(r["kind"] == k for r in rows) for k in REPORT_KINDS}
    counts["created"] = sum(r["created"] for r in rows if r["kind"] == "delivered")
    counts["redirected"] = sum(bool(r["redirect_from"]) for r in rows if r["kind"] == "delivered")
    counts["total"] = len(rows) - counts["skipped"]
    return rows, counts


def _row(key: str, record: dict | None, post: tuple[str, object] | None, failure: dict | None,
         pending: bool) -> dict:
    rec = record or {"title": post[0].split(":", 1)[-1]}
    row = {"title": rec.get("title", ""), "redirect_from": rec.get("redirect_from"), "created": False,
           "revid": None, "why": rec.get("why"), "detail": rec.get("detail") or "", "kind": "pending"}
    if post is not None:
        row.update(kind="delivered", revid=post[1], created=bool(rec.get("created")))
    elif pending:
        row["kind"] = "interrupted"
    elif failure is not None:
        row.update(kind="failed", detail=failure.get("error", ""), why=failure.get("why"))
        if row["why"] == "protected":
            row["kind"] = "skipped"
    elif rec.get("outcome") == "skipped":
        row["kind"] = "skipped"
    return row


def finished(counts: Mapping[str, int]) -> bool:
    """Whether nothing is left to deliver: no pending, failed or interrupted entry."""
    return counts["pending"] == 0 and counts["failed"] == 0 and counts["interrupted"] == 0
