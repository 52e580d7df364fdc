"""Reads from one wiki, batched: page states, delivery targets, users, histories, revisions, contributions.

Every read goes through `WikiSession.api`; titles and names are sent 50 (or 500
with `apihighlimits`) a request and continued, never one request per page.
"""
from __future__ import annotations

from typing import Any, Iterable

from bot.adapters.wiki_pages import PageState, RecentChange, _canonical_user, _pages_from_query, _revision_dict
from bot.adapters.wiki_session import WikiSession


class WikiReads(WikiSession):
    """The batched reads of `WikiClient`."""

    @property
    def batch_size(self) -> int:
        return 500 if self.site.has_right("apihighlimits") else 50

    def read_pages(self, titles: Iterable[str]) -> dict[str, PageState]:
        """Current text and revision of many pages, 50 (or 500) titles a request.

        The result is keyed by the titles as given, so callers need not know how the
        wiki normalises them. Redirects are reported, not followed.
        """
        titles = list(dict.fromkeys(titles))
        found: dict[str, PageState] = {}
        for start in range(0, len(titles), self.batch_size):
            chunk = titles[start:start + self.batch_size]
            data = self.api(action="query", prop="revisions|info", rvprop="ids|timestamp|user|content",
                            rvslots="main", inprop="protection", titles="|".join(chunk), curtimestamp=1)
            found.update(_pages_from_query(data, chunk))
        return found

    def recent_changes(self, since: str | None, *, namespaces: Iterable[int] = (), limit: int = 500) -> list[RecentChange]:
        """Edits and page creations since `since` (inclusive), oldest first, one request per 500."""
        params: dict[str, Any] = {"action": "query", "list": "recentchanges", "rcdir": "newer", "rclimit": limit,
                                  "rcprop": "ids|title|user|timestamp|comment|flags", "rctype": "edit|new"}
        if since:
            params["rcstart"] = since
        if namespaces:
            params["rcnamespace"] = "|".join(str(n) for n in sorted(set(namespaces)))
        changes: list[RecentChange] = []
        while True:
            data = self.api(**params)
            for rc in data.get("query", {}).get("recentchanges", []):
                changes.append(RecentChange(rc["rcid"], rc["title"], rc["ns"], rc.get("revid", 0), rc.get("old_revid", 0),
                                            rc.get("user", ""), rc["timestamp"], rc["type"], rc.get("comment", ""),
                                            bool(rc.get("bot"))))
            cont = data.get("continue")
            if not cont:
                return changes
            params.update(cont)

    def server_time(self) -> str:
        return self.api(action="query", curtimestamp=1)["curtimestamp"]

    # -- newsletters: delivery targets and page history ------------------------------------
    def read_targets(self, titles: Iterable[str], *, category: str | None = None) -> dict[str, dict]:
        """Delivery targets read the way MassMessage sees them, 50 (or 500) titles a request.

        Redirects are followed (one level, as MediaWiki does). Keyed by the asked
        title; each value: `title` (final, normalised), `ns` (namespace number,
        None for an invalid title), `exists`, `invalid` (a reason or None),
        `redirected` (bool), `double_redirect`, `text`, `revid`, `in_category`
        (member of `category`, the opt-out category, if given).
        """
        titles = list(dict.fromkeys(titles))
        found: dict[str, dict] = {}
        cat = None
        if category:
            cat = category if ":" in category else f"Category:{category}"
        for start in range(0, len(titles), self.batch_size):
            chunk = titles[start:start + self.batch_size]
            params: dict[str, Any] = {"action": "query", "prop": "revisions|info" + ("|categories" if cat else ""),
                                      "rvprop": "ids|content", "rvslots": "main", "redirects": 1,
                                      "titles": "|".join(chunk)}
            if cat:
                params.update(clcategories=cat, cllimit="max")
            pages: dict[str, dict] = {}
            normalized: dict[str, str] = {}
            redirects: dict[str, str] = {}
            while True:
                data = self.api(**params)
                query = data.get("query", {})
                normalized.update({n["from"]: n["to"] for n in query.get("normalized", [])})
                redirects.update({r["from"]: r["to"] for r in query.get("redirects", [])})
                for p in query.get("pages", []):
                    merged = pages.setdefault(p["title"], {})
                    for k, v in p.items():
                        if k in ("revisions", "categories") and k in merged:
                            merged[k] = merged[k] + v
                        else:
                            merged[k] = v
                cont = data.get("continue")
                if not cont:
                    break
                params.update(cont)
            for asked in chunk:
                title = normalized.get(asked, asked)
                final = redirects.get(title, title)
                p = pages.get(final) or {"title": final, "invalid": True, "invalidreason": "not in the answer"}
                revs = p.get("revisions") or []
                found[asked] = {
                    "title": p.get("title", final),
                    "ns": p.get("ns"),
                    "exists": not p.get("missing") and not p.get("invalid") and bool(revs),
                    "invalid": (p.get("invalidreason") or "invalid title") if p.get("invalid") else None,
                    "redirected": final != title,
                    "double_redirect": bool(p.get("redirect")),
                    "text": revs[0]["slots"]["main"].get("content", "") if revs else "",
                    "revid": revs[0]["revid"] if revs else 0,
                    "in_category": bool(p.get("categories")),
                }
        return found

    def users_exist(self, names: Iterable[str]) -> set[str]:
        """Which of these user names are registered accounts, 50 (or 500) names a request.

        Returns the names as given. An unknown name, an IP address or a name that
        is not a valid user name is left out.
        """
        names = list(dict.fromkeys(n for n in names if n))
        found: set[str] = set()
        for start in range(0, len(names), self.batch_size):
            chunk = names[start:start + self.batch_size]
            # The answer spells each name canonically ("foo_bar" -> "Foo bar"); map it back.
            asked = {_canonical_user(n): n for n in chunk}
            data = self.api(action="query", list="users", ususers="|".join(chunk))
            for user in data.get("query", {}).get("users", []):
                if user.get("userid") and not user.get("missing") and not user.get("invalid"):
                    name = asked.get(_canonical_user(user.get("name", "")))
                    if name is not None:
                        found.add(name)
        return found

    def page_history(self, title: str, *, limit: int = 50, content: bool = False) -> tuple[list[dict], bool]:
        """Newest revisions first: dicts with revid, user, timestamp, comment (and text).

        Returns (revisions, complete) where `complete` says the list reaches the
        page's first revision.
        """
        params: dict[str, Any] = {"action": "query", "prop": "revisions", "titles": title,
                                  "rvprop": "ids|user|timestamp|comment" + ("|content" if content else ""),
                                  "rvlimit": min(limit, 50 if content else 500)}
        if content:
            params["rvslots"] = "main"
        revisions: list[dict] = []
        while True:
            data = self.api(**params)
            pages = data.get("query", {}).get("pages", [])
            for rev in (pages[0].get("revisions", []) if pages else []):
                revisions.append({"revid": rev["revid"], "user": rev.get("user", ""), "timestamp": rev["timestamp"],
                                  "comment": rev.get("comment", ""),
                                  "text": rev.get("slots", {}).get("main", {}).get("content", "") if content else ""})
            cont = data.get("continue")
            if not cont:
                return revisions, True
            if len(revisions) >= limit:
                return revisions, False
            params.update(cont)


    # -- weekly reports: a user's edits in a period ------------------------------------------
    def user_contributions(self, users: Iterable[str], start: str, end: str) -> list:
        """Edits by `users` (up to 50 names per request) from `start` to `end` inclusive, oldest first.

        `start`/`end` are API timestamps (2026-11-16T23:00:00Z). One request per 500
        edits (5000 with apihighlimits), continued; never one request per edit.
        """
        from bot.domain.weekly import Contribution, parse_mw_timestamp

        names = list(dict.fromkeys(u for u in users if u))
        out: list = []
        for first in range(0, len(names), 50):
            params: dict[str, Any] = {"action": "query", "list": "usercontribs", "ucuser": "|".join(names[first:first + 50]),
                                      "ucstart": start, "ucend": end, "ucdir": "newer", "uclimit": "max",
                                      "ucprop": "ids|title|timestamp|comment|sizediff|flags"}
            while True:
                data = self.api(**params)
                for c in data.get("query", {}).get("usercontribs", []):
                    out.append(Contribution(user=c.get("user", ""), revid=int(c["revid"]), title=c["title"],
                                            ns=int(c["ns"]), timestamp=parse_mw_timestamp(c["timestamp"]),
                                            comment="" if c.get("commenthidden") else c.get("comment", ""),
                                            sizediff=int(c.get("sizediff") or 0), new=bool(c.get("new")),
                                            minor=bool(c.get("minor"))))
                cont = data.get("continue")
                if not cont:
                    break
                params.update(cont)
        return out

    # -- weekly report: newcomer pulse ----------------------------------------------------------
    def _continued(self, key: str, params: dict[str, Any]) -> list[dict]:
        out: list[dict] = []
        while True:
            data = self.api(**params)
            out.extend(data.get("query", {}).get(key, []))
            cont = data.get("continue")
            if not cont:
                return out
            params = {**params, **cont}

    def new_accounts(self, start: str, end: str) -> list[dict]:
        """Accounts created from `start` to `end` (API timestamps, inclusive): [{"user", "timestamp"}], continued."""
        rows = self._continued("logevents", {"action": "query", "list": "logevents", "letype": "newusers",
                                             "lestart": start, "leend": end, "ledir": "newer", "lelimit": "max",
                                             "leprop": "user|timestamp|type"})
        return [{"user": r.get("user", ""), "timestamp": r["timestamp"]} for r in rows if r.get("user")]

    def contributions_with_tags(self, users: Iterable[str], start: str, end: str) -> list[dict]:
        """Edits by `users` (50 names a request) with their change tags: [{"user", "timestamp", "tags"}]."""
        names = list(dict.fromkeys(u for u in users if u))
        out: list[dict] = []
        for first in range(0, len(names), 50):
            out.extend(self._continued("usercontribs", {
                "action": "query", "list": "usercontribs", "ucuser": "|".join(names[first:first + 50]),
                "ucstart": start, "ucend": end, "ucdir": "newer", "uclimit": "max", "ucprop": "ids|timestamp|tags"}))
        return [{"user": c.get("user", ""), "timestamp": c["timestamp"], "tags": c.get("tags", [])} for c in out]

    def tagged_changes(self, tag: str, start: str, end: str) -> list[dict]:
        """Edits carrying change tag `tag` from `start` to `end` (recent changes): [{"user", "timestamp"}]."""
        rows = self._continued("recentchanges", {"action": "query", "list": "recentchanges", "rctag": tag,
                                                 "rcstart": start, "rcend": end, "rcdir": "newer",
                                                 "rclimit": "max", "rcprop": "user|timestamp|ids",
                                                 "rctype": "edit|new"})
        return [{"user": r.get("user", ""), "timestamp": r["timestamp"]} for r in rows]

    # -- feedback and mentions: revisions by id, histories since a time, DiscussionTools ---------
    def revisions_by_id(self, revids: Iterable[int]) -> dict[int, dict]:
        """Given revisions with their text, 50 a request (MediaWiki's limit with content).

        Each value: revid, parentid, title, user, timestamp, comment, text. Deleted
        or unknown revisions are left out.
        """
        revids = sorted({int(r) for r in revids if r})
        found: dict[int, dict] = {}
        for start in range(0, len(revids), 50):
            chunk = revids[start:start + 50]
            params: dict[str, Any] = {"action": "query", "prop": "revisions", "revids": "|".join(map(str, chunk)),
                                      "rvprop": "ids|user|timestamp|comment|content", "rvslots": "main"}
            while True:
                data = self.api(**params)
                for page in data.get("query", {}).get("pages", []):
                    for rev in page.get("revisions", []):
                        found[rev["revid"]] = _revision_dict(rev, page.get("title", ""))
                cont = data.get("continue")
                if not cont:
                    break
                params.update(cont)
        return found

    def revisions_since(self, title: str, since: str, *, content: bool = True, limit: int = 5000) -> list[dict]:
        """A page's revisions at or after `since` (ISO time), oldest first, with text.

        Used to catch up when recent changes no longer reach back far enough.
        """
        params: dict[str, Any] = {"action": "query", "prop": "revisions", "titles": title, "rvdir": "newer",
                                  "rvstart": since, "rvlimit": 50 if content else 500,
                                  "rvprop": "ids|user|timestamp|comment" + ("|content" if content else "")}
        if content:
            params["rvslots"] = "main"
        revisions: list[dict] = []
        while len(revisions) < limit:
            data = self.api(**params)
            for page in data.get("query", {}).get("pages", []):
                for rev in page.get("revisions", []):
                    revisions.append(_revision_dict(rev, page.get("title", title)))
            cont = data.get("continue")
            if not cont:
                break
            params.update(cont)
        return revisions

    def revisions_in_namespaces(self, since: str, namespaces: Iterable[int]) -> list[RecentChange]:
        """Every revision in these namespaces at or after `since`, oldest first (no text).

        `list=allrevisions` reads page histories, so it reaches back past the
        30 days that recent changes keep.
        """
        params: dict[str, Any] = {"action": "query", "list": "allrevisions", "arvdir": "newer", "arvstart": since,
                                  "arvlimit": 500, "arvprop": "ids|user|timestamp|comment",
                                  "arvnamespace": "|".join(str(n) for n in sorted(set(namespaces)))}
        out: list[RecentChange] = []
        while True:
            data = self.api(**params)
            for page in data.get("query", {}).get("allrevisions", []):
                for rev in page.get("revisions", []):
                    out.append(RecentChange(0, page["title"], page.get("ns", 0), rev["revid"], rev.get("parentid", 0),
                                            rev.get("user", ""), rev["timestamp"], "edit", rev.get("comment", ""), False))
            cont = data.get("continue")
            if not cont:
                out.sort(key=lambda r: (r.timestamp, r.revid))
                return out
            params.update(cont)

    def discussion_items(self, title: str, revid: int | None = None) -> list[dict]:
        """DiscussionTools' thread items (`prop=threaditemshtml`) of a page or one of its revisions."""
        params: dict[str, Any] = {"action": "discussiontoolspageinfo", "page": title, "prop": "threaditemshtml"}
        if revid:
            params["oldid"] = revid
        return self.api(**params).get("discussiontoolspageinfo", {}).get("threaditemshtml", [])
