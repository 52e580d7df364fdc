"""MediaWiki client over pywikibot.

pywikibot gives us login (BotPassword), tokens, the maxlag and ratelimited waits,
the edit throttle and one HTTP session per process. Reads and edits go through
`pywikibot.data.api.Request` with exactly the parameters we want, because two
defaults of the high-level `Page.save()` are wrong for this bot:

* it sends `basetimestamp` (one-second resolution): a human edit made in the same
  second as our read is silently overwritten. We send `baserevid` alone, plus
  `starttimestamp`, which MediaWiki checks exactly (../shared/mediawiki-notes.md).
* it reads pages one by one; we read up to 50 titles per request (500 with
  `apihighlimits`).

The client is built in layers, one module each: the connection and the read choke
point (`wiki_session.py`), the batched reads (`wiki_reads.py`), the writes
(`wiki_edits.py`), error translation (`wiki_errors.py`) and what a read returns
(`wiki_pages.py`). `WikiClient` below adds what the wiki says about itself and the account.
"""
from __future__ import annotations

from bot.adapters.wiki_edits import WikiEdits
from bot.adapters.wiki_errors import _first_line
from bot.adapters.wiki_pages import PageState, RecentChange
from bot.adapters.wiki_session import USER_CONFIG, pywikibot_module

__all__ = ["PageState", "RecentChange", "USER_CONFIG", "WikiClient", "pywikibot_module"]


class WikiClient(WikiEdits):
    """One wiki. Created cheaply; logs in on the first call that needs it."""

    # -- the account and the site ----------------------------------------------------
    def block_reason(self) -> str | None:
        """One request: why the bot's account is blocked from this whole wiki, or None.

        A partial block (some pages or namespaces) is not a reason to stop the
        wiki: writes to the blocked pages are refused one by one.
        """
        info = self.api(action="query", meta="userinfo", uiprop="blockinfo")["query"]["userinfo"]
        # Composite and system blocks have no block id; `blockedby` is there for every kind.
        blocked = any(info.get(k) is not None for k in ("blockid", "blockedby", "blockexpiry"))
        if not blocked or info.get("blockpartial"):
            self.blocked = None
        else:
            expiry = info.get("blockexpiry") or "infinity"
            self.blocked = (f"wiki {self.code}: the bot's account {info.get('name', self.settings.username)} is blocked "
                            f"by {info.get('blockedby', '?')} until {expiry} "
                            f"({_first_line(info.get('blockreason') or 'no reason given')})")
        return self.blocked

    def has_extension(self, name: str) -> bool:
        """Whether the wiki runs an extension; asked once per client."""
        cache = self.__dict__.setdefault("_extensions", None)
        if cache is None:
            data = self.api(action="query", meta="siteinfo", siprop="extensions")
            cache = {e.get("name", "") for e in data.get("query", {}).get("extensions", [])}
            self.__dict__["_extensions"] = cache
        return name in cache

    def deployed_code_info(self) -> tuple[dict, list[dict]]:
        """siteinfo's general part and extension list (with their `vcs-*` fields): one request, never cached here."""
        query = self.api(action="query", meta="siteinfo", siprop="general|extensions").get("query", {})
        return query.get("general", {}), query.get("extensions", [])

    def namespace_names(self, ns: int) -> set[str]:
        """Every name and alias of namespace `ns` here (e.g. Category, Kategorie), from pywikibot's siteinfo."""
        return {str(name) for name in self.site.namespaces[ns]}

    def rc_position(self) -> dict:
        """Where recent changes stand now: {timestamp, rcid} of the newest change (one request).

        A cursor started from this skips changes already made, even those in the
        same second, which a bare server time (rcid 0) would see again.
        """
        data = self.api(action="query", list="recentchanges", rclimit=1, rcprop="ids|timestamp", curtimestamp=1)
        rcs = data.get("query", {}).get("recentchanges", [])
        if rcs:
            return {"timestamp": rcs[0]["timestamp"], "rcid": rcs[0]["rcid"]}
        return {"timestamp": data["curtimestamp"], "rcid": 0}

    def index_url(self) -> str:
        """The wiki's index.php, for permalinks (`?title=Special:Diff/123`)."""
        api = self.settings.api_url
        return api[: -len("api.php")] + "index.php" if api.endswith("api.php") else api
