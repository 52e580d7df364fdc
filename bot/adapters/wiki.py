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

pywikibot is configured entirely from our settings: we write a private
`user-config.py` into the bot's own pywikibot folder before the first import.
"""
from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from bot.errors import (AuthError, Blocked, ConfigError, EditConflict, NotFound, Protected, ServerError, TargetError,
                        TransientError, UncertainWriteError)
from bot.adapters.writes import write_method
from bot.settings import WikiSettings

log = logging.getLogger(__name__)
_setup_lock = threading.Lock()
_pywikibot = None

USER_CONFIG = """\
# Written by ambassador-bot; regenerated on every start. Edit the bot's YAML config instead.
password_file = {password_file!r}
put_throttle = 0
minthrottle = 0
maxthrottle = 60
write_maxlag = 5
max_retries = {max_retries}
retry_wait = {retry_wait}
retry_max = {retry_max}
noisysleep = 3600.0
console_encoding = 'utf-8'
user_agent_format = {user_agent!r}
socket_timeout = (6.05, 45)
"""


def pywikibot_module(workdir: Path, user_agent: str):
    """Import pywikibot once per process, configured from a private folder of ours."""
    global _pywikibot
    with _setup_lock:
        if _pywikibot is not None:
            return _pywikibot
        workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(workdir, 0o700)
        password_file = workdir / "passwords.py"
        if not password_file.exists():
            password_file.touch(mode=0o600)
        (workdir / "user-config.py").write_text(USER_CONFIG.format(
            password_file=str(password_file),
            max_retries=int(os.environ.get("AMBASSADOR_WIKI_MAX_RETRIES", 3)),
            retry_wait=int(os.environ.get("AMBASSADOR_WIKI_RETRY_WAIT", 2)),
            retry_max=int(os.environ.get("AMBASSADOR_WIKI_RETRY_MAX", 30)),
            user_agent=user_agent + " {pwb}",
        ), encoding="utf-8")
        if "pywikibot" not in sys.modules:
            os.environ["PYWIKIBOT_DIR"] = str(workdir)
        elif os.environ.get("PYWIKIBOT_DIR") != str(workdir):
            log.warning("pywikibot was imported before ambassador-bot configured it (PYWIKIBOT_DIR=%s)",
                        os.environ.get("PYWIKIBOT_DIR"))
        import pywikibot
        from pywikibot import config

        config.user_agent_format = user_agent + " {pwb}"
        config.password_file = str(password_file)
        _pywikibot = pywikibot
        return pywikibot


@dataclass(frozen=True)
class PageState:
    """A page as read: what an edit must be based on."""

    title: str                    # normalised title as the wiki spells it
    exists: bool
    text: str = ""
    revid: int = 0
    timestamp: str = ""
    start_timestamp: str = ""     # server time at the read, sent back as `starttimestamp`
    protected_edit: tuple[str, ...] = ()
    redirect_to: str | None = None
    user: str = ""                # author of the revision read ("" when hidden)


@dataclass(frozen=True)
class RecentChange:
    rcid: int
    title: str
    namespace: int
    revid: int
    old_revid: int
    user: str
    timestamp: str
    type: str
    comment: str
    bot: bool


class WikiClient:
    """One wiki. Created cheaply; logs in on the first call that needs it."""

    def __init__(self, settings: WikiSettings, user_agent: str, workdir: Path):
        self.settings = settings
        self.code = settings.code
        self._user_agent = user_agent
        self._workdir = workdir
        self._site = None
        self.request_count = 0
        self.edit_count = 0
        # Why the account cannot edit here, once a write was refused for a block or
        # block_reason() found one: later writes fail at once instead of being sent.
        self.blocked: str | None = None

    # -- set-up ----------------------------------------------------------------
    @property
    def family_name(self) -> str:
        # pywikibot makes an AutoFamily from a URL; the name must be unique per API URL.
        return "ab" + hashlib.sha1(self.settings.api_url.encode()).hexdigest()[:10]

    @property
    def site(self):
        if self._site is None:
            self._site = self._connect()
        return self._site

    def _connect(self):
        pywikibot = pywikibot_module(self._workdir, self._user_agent)
        from pywikibot import config
        from pywikibot.exceptions import APIError, NoUsernameError

        s = self.settings
        password = s.password()
        self._probe()
        name = self.family_name
        config.family_files[name] = s.api_url
        config.usernames.setdefault(name, {})[name] = s.username
        config.put_throttle = s.throttle_seconds
        config.write_maxlag = s.maxlag
        self._write_password(name, s, password)
        try:
            site = pywikibot.Site(name, name, user=s.username)
            site.login()
        except NoUsernameError as exc:
            raise AuthError(f"wiki {s.code} ({s.api_url}): login as {s.login_name} failed: {_first_line(exc)}") from None
        except APIError as exc:
            raise AuthError(f"wiki {s.code} ({s.api_url}): login failed: {exc.code}: {exc.info}") from None
        except Exception as exc:  # pywikibot raises many types while fetching siteinfo
            raise _transport_error(exc, f"wiki {s.code} ({s.api_url})") from None
        if not site.logged_in():
            raise AuthError(f"wiki {s.code} ({s.api_url}): login as {s.login_name} failed (check {s.password_env})")
        return site

    def _probe(self) -> None:
        """Fail fast on a wrong URL or a server that is down.

        pywikibot retries a refused connection with growing waits; a typo in
        `api_url` should be one clear line within seconds, not minutes of retries.
        """
        import requests

        where = f"wiki {self.code} ({self.settings.api_url})"
        try:
            response = requests.get(self.settings.api_url, params={"action": "query", "meta": "siteinfo",
                                                                   "format": "json"},
                                    headers={"User-Agent": self._user_agent}, timeout=15)
        except requests.ConnectionError as exc:
            raise TransientError(f"{where}: cannot connect ({_first_line(exc.__class__.__name__)})") from None
        except requests.RequestException as exc:
            raise TransientError(f"{where}: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise TransientError(f"{where}: server error HTTP {response.status_code}")
        try:
            response.json()["query"]["general"]
        except (ValueError, KeyError, TypeError):
            raise ConfigError(f"{where}: this URL does not answer like a MediaWiki api.php "
                              f"(HTTP {response.status_code})") from None

    def _write_password(self, family: str, s: WikiSettings, password: str) -> None:
        from pywikibot import config

        path = Path(config.password_file)
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if f"'{family}'" not in ln]
        secret = f"BotPassword({s.botpassword_app!r}, {password!r})" if s.botpassword_app else repr(password)
        lines.append(f"({family!r}, {family!r}, {s.username!r}, {secret})")
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")

    # -- the choke point ---------------------------------------------------------
    @write_method(when="write")
    def api(self, *, write: bool = False, **params) -> dict:
        """One API request through pywikibot, errors translated."""
        site = self.site  # first: connecting configures pywikibot before anything imports it
        from pywikibot.data import api
        from pywikibot.exceptions import APIError

        where = f"wiki {self.code}"
        title = params.get("title")
        if title:
            where += f" page {title!r}"
        request = api.Request(site=site, parameters={"formatversion": 2, **params})
        self.request_count += 1
        try:
            return request.submit()
        except APIError as exc:
            other = exc.other if isinstance(getattr(exc, "other", None), dict) else {}
            raise _api_error(exc.code, exc.info, where, write, partial=_partial_block(other)) from None
        except Exception as exc:
            raise _transport_error(exc, where, write) from None

    @write_method
    def _write(self, params: dict[str, Any]) -> dict:
        """Send one write exactly once.

        pywikibot's Request resends a POST after a 5xx or a timeout, which would
        duplicate a `section=new` message. Here a write is retried only when the
        server said it did nothing (maxlag, ratelimited, readonly, badtoken);
        anything else whose outcome is unknown raises UncertainWriteError, and the
        caller looks at the page before trying again.
        """
        from pywikibot import config
        from pywikibot.comms import http

        site = self.site
        where = f"wiki {self.code}" + (f" page {params['title']!r}" if params.get("title") else "")
        if self.blocked:
            raise Blocked(f"{self.blocked}; nothing sent")
        data = {"format": "json", "formatversion": 2, "assert": "user", "maxlag": self.settings.maxlag, **params}
        for attempt in range(1, int(config.max_retries) + 2):
            try:
                data["token"] = site.tokens["csrf"]
            except KeyError as exc:
                # "Invalid token 'csrf' for user None": the server no longer knows our session (it was
                # restarted, or the cookie went with a killed process). Nothing was sent: log in again.
                if attempt > config.max_retries:
                    raise _transport_error(exc, where) from None
                _log_in_again(site, where, "session lost")
                continue
            except Exception as exc:  # pywikibot re-logs in here when its session expired; nothing was sent
                raise _transport_error(exc, where) from None
            site.throttle(write=True)
            self.request_count += 1
            try:
                response = http.request(site, uri=site.apipath(), method="POST", data=data)
                answer = response.json()
            except Exception as exc:
                if _refused_before_sending(exc):
                    raise TransientError(f"{where}: cannot reach the server ({_first_line(exc)})") from None
                raise UncertainWriteError(f"{where}: {type(exc).__name__}: {_first_line(exc)}; "
                                          f"the write may have happened") from None
            error = answer.get("error") if isinstance(answer, dict) else None
            if not error:
                if not isinstance(answer, dict):
                    raise UncertainWriteError(f"{where}: malformed answer; the write may have happened")
                return answer
            code, info = str(error.get("code", "")), str(error.get("info", ""))
            if code in ("assertuserfailed", "notloggedin") and attempt <= config.max_retries:
                # The session was lost (a server restart, a cookie file shared with a killed process):
                # `assert=user` made the server refuse before doing anything, so log in again and resend.
                _log_in_again(site, where, code)
                continue
            if code in ("maxlag", "ratelimited", "readonly", "badtoken") and attempt <= config.max_retries:
                if code == "badtoken":
                    site.tokens.clear()
                delay = min(float(config.retry_max), max(float(response.headers.get("Retry-After") or 0),
                                                         float(config.retry_wait) * attempt))
                log.info("%s: %s, waiting %.0fs before trying again", where, code, delay)
                _sleep(delay)
                continue
            if code == "maxlag":
                raise TransientError(f"{where}: database lag stayed above maxlag ({info}); try later")
            error = _api_error(code, info, where, True, partial=_partial_block(error))
            if isinstance(error, Blocked):
                self.blocked = str(error)
            raise error
        raise TransientError(f"{where}: gave up after {config.max_retries} retries")

    # -- reads --------------------------------------------------------------------
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

    # -- writes ---------------------------------------------------------------------
    @write_method
    def save(self, page: PageState, text: str, summary: str, *, minor: bool = False, merge_ok: bool = True) -> int:
        """Save `text` over exactly the revision that was read; returns the new revision id.

        Raises EditConflict when anyone saved the page after our read (even in the
        same second), Protected, Blocked, NotFound, TransientError (maxlag exhausted,
        5xx) or UncertainWriteError when the outcome is unknown.
        """
        params: dict[str, Any] = {"action": "edit", "title": page.title, "text": text, "summary": summary,
                                  "bot": 1, "starttimestamp": page.start_timestamp,
                                  "contentformat": "text/x-wiki", "contentmodel": "wikitext"}
        params["minor" if minor else "notminor"] = 1
        if page.exists:
            params["baserevid"] = page.revid
            params["nocreate"] = 1
        else:
            params["createonly"] = 1
        result = self._write(params)["edit"]
        if result.get("result") != "Success":
            raise TargetError(f"wiki {self.code} page {page.title!r}: edit refused: {_first_line(result)}",
                              code=str(result.get("code") or result.get("result")))
        self.edit_count += 1
        parent = result.get("oldrevid")
        if not merge_ok and page.exists and parent and int(parent) != page.revid:
            # MediaWiki merged our change into an edit made after our read: saved, but over
            # text the caller never saw. Callers that must not act on unseen text re-read.
            raise EditConflict(f"wiki {self.code} page {page.title!r}: saved as revision {result.get('newrevid')}, "
                               f"merged with revision {parent} made meanwhile", "merged",
                               saved_revid=int(result["newrevid"]))
        if not merge_ok and page.exists and result.get("nochange"):
            # Also a merge: an edit made meanwhile already holds our change (and maybe more).
            latest = self.read_pages([page.title])[page.title].revid
            if latest != page.revid:
                raise EditConflict(f"wiki {self.code} page {page.title!r}: revision {latest}, made meanwhile, "
                                   f"already had this change; nothing saved", "merged")
        return int(result.get("newrevid") or page.revid)

    @write_method
    def new_section(self, title: str, heading: str, text: str, summary: str, *, createonly: bool = False) -> int:
        """Append a section (`section=new`); a missing page is created with it.

        `createonly` is for a page that did not exist when it was read: if anyone
        created it since, the write is refused with NotFound (code `articleexists`)
        instead of adding to a page the caller has not looked at.
        """
        params: dict[str, Any] = {"action": "edit", "title": title, "section": "new", "sectiontitle": heading,
                                  "text": text, "summary": summary, "bot": 1, "notminor": 1}
        if createonly:
            params["createonly"] = 1
        result = self._write(params)["edit"]
        if result.get("result") != "Success":
            raise TargetError(f"wiki {self.code} page {title!r}: message refused: {_first_line(result)}")
        self.edit_count += 1
        return int(result["newrevid"])

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

    @write_method
    def discussiontools_add_comment(self, title: str, comment_id: str, wikitext: str, summary: str) -> int:
        """Reply under a comment through DiscussionTools (`paction=addcomment`); returns the new revision id.

        DiscussionTools applies the reply to the page's latest revision itself, so no
        human edit is overwritten; it places the reply after the comment's existing
        replies, one level deeper. A `~~~~` at the end is kept as the signature.
        Raises ServerError (code `discussiontools-commentid-notfound` when the
        comment is gone), Protected, Blocked, or UncertainWriteError.
        """
        answer = self._write({"action": "discussiontoolsedit", "paction": "addcomment", "page": title,
                              "commentid": comment_id, "wikitext": wikitext, "summary": summary,
                              "nocontent": 1})
        result = answer.get("discussiontoolsedit") or {}
        if result.get("result") != "success" or not result.get("newrevid"):
            raise TargetError(f"wiki {self.code} page {title!r}: reply refused: {_first_line(result)}",
                              code=str(result.get("result") or "refused"))
        self.edit_count += 1
        return int(result["newrevid"])


def _revision_dict(rev: dict, title: str) -> dict:
    return {"revid": rev["revid"], "parentid": rev.get("parentid", 0), "title": title, "user": rev.get("user", ""),
            "timestamp": rev["timestamp"], "comment": rev.get("comment", ""),
            "text": rev.get("slots", {}).get("main", {}).get("content", "")}

def _canonical_user(name: str) -> str:
    name = " ".join(name.replace("_", " ").split())
    return name[:1].upper() + name[1:]


def _sleep(seconds: float) -> None:
    import time
    time.sleep(seconds)


def _refused_before_sending(exc: Exception) -> bool:
    text = repr(exc)
    return any(s in text for s in ("Connection refused", "NewConnectionError", "Failed to resolve",
                                   "Name or service not known"))


def _pages_from_query(data: dict, asked: list[str]) -> dict[str, PageState]:
    query = data.get("query", {})
    start = data.get("curtimestamp", "")
    # Map each asked title through normalisation and redirects to the page entry.
    alias = {t: t for t in asked}
    for n in query.get("normalized", []):
        for k, v in alias.items():
            if v == n["from"]:
                alias[k] = n["to"]
    by_title = {p["title"]: p for p in query.get("pages", [])}
    states: dict[str, PageState] = {}
    for asked_title, title in alias.items():
        p = by_title.get(title)
        if p is None or p.get("invalid"):
            states[asked_title] = PageState(title=title, exists=False, start_timestamp=start)
            continue
        protection = tuple(x["level"] for x in p.get("protection", []) if x.get("type") == "edit")
        if p.get("missing"):
            states[asked_title] = PageState(title=title, exists=False, start_timestamp=start, protected_edit=protection)
            continue
        rev = p["revisions"][0]
        states[asked_title] = PageState(title=title, exists=True, text=rev["slots"]["main"]["content"],
                                        revid=rev["revid"], timestamp=rev["timestamp"], start_timestamp=start,
                                        protected_edit=protection,
                                        redirect_to=None, user=rev.get("user", ""))
    return states


_TRANSIENT_CODES = {"maxlag", "ratelimited", "readonly", "internal_api_error_DBQueryError",
                    "internal_api_error_DBConnectionError", "lockmanager-fail-conflict", "failed-save"}
_BLOCK_CODES = {"blocked", "autoblocked", "globalblocking-blockedtext", "globalblocking-ipblocked",
                "blockedfrommail", "sitewideblocked"}
_PROTECT_CODES = {"protectedpage", "cascadeprotected", "protectedtitle", "protectednamespace",
                  "protectednamespace-interface", "customcssprotected", "customjsprotected", "permissiondenied"}


def _partial_block(error: dict) -> bool:
    info = error.get("blockinfo")
    return isinstance(info, dict) and bool(info.get("blockpartial"))


def _api_error(code: str, info: str, where: str, write: bool, *, partial: bool = False) -> Exception:
    message = f"{where}: {code}: {_first_line(info)}"
    if code in _BLOCK_CODES and partial:
        # Blocked from some pages only (MediaWiki answers with the same code): this page fails, the wiki goes on.
        return TargetError(f"{message} (a partial block: this page only)", "partialblock")
    if code == "editconflict":
        return EditConflict(message, code)
    if code in _PROTECT_CODES:
        return Protected(message, code)
    if code in _BLOCK_CODES:
        return Blocked(message)
    if code in ("missingtitle", "nocreate-missing", "articleexists"):
        return NotFound(message, code)
    if code in ("assertuserfailed", "assertbotfailed", "notloggedin", "badtoken"):
        return AuthError(message)
    if code in _TRANSIENT_CODES or code.startswith("internal_api_error"):
        return TransientError(message)
    if code in ("abusefilter-disallowed", "abusefilter-warning", "spamblacklist", "titleblacklist-forbidden",
                "contenttoobig", "hookaborted"):
        return TargetError(message, code)
    return ServerError(message, code)


def _log_in_again(site, where: str, why: str) -> None:
    log.info("%s: %s, logging in again", where, why)
    try:
        site.tokens.clear()
        site._relogin()
    except Exception as exc:  # pywikibot's own errors; nothing was written
        raise _transport_error(exc, where) from None


def _transport_error(exc: Exception, where: str, write: bool = False) -> Exception:
    name = type(exc).__name__
    text = _first_line(exc)
    if name == "NoUsernameError":
        # An expired session whose re-login did not go through; the login itself worked at start.
        return TransientError(f"{where}: the wiki session expired and logging in again failed ({text}); "
                              f"try later")
    if name == "MaxlagTimeoutError":
        return TransientError(f"{where}: database lag stayed above maxlag; try later")
    if name in ("ServerError", "FatalServerError") or "50" in text[:40] and "Server" in name:
        return UncertainWriteError(f"{where}: server error: {text}") if write else TransientError(f"{where}: server error: {text}")
    if name in ("TimeoutError", "ReadTimeout", "ConnectionError", "ConnectTimeout", "RequestException",
                "ConnectionRefusedError") or "timed out" in text.lower() or "connection" in text.lower():
        if write:
            return UncertainWriteError(f"{where}: {name}: {text}")
        return TransientError(f"{where}: cannot reach the server ({name}: {text})")
    if isinstance(exc, (ConfigError, AuthError)):
        return exc
    return ServerError(f"{where}: {name}: {text}")


def _first_line(value: Any) -> str:
    text = str(value).strip().splitlines()
    return (text[0] if text else "")[:300]
