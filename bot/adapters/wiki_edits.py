"""Writes to one wiki: each sent exactly once, based on exactly the revision that was read.

`save` sends `baserevid` and `starttimestamp` (never the one-second `basetimestamp`);
`_write` retries only what the server said it did not do, and turns every other
unknown outcome into UncertainWriteError (see its docstring).
"""
from __future__ import annotations

import logging
from typing import Any

from bot.adapters.wiki_errors import _api_error, _first_line, _partial_block, _refused_before_sending, _transport_error
from bot.adapters.wiki_pages import PageState
from bot.adapters.wiki_reads import WikiReads
from bot.adapters.writes import write_method
from bot.errors import Blocked, EditConflict, TargetError, TransientError, UncertainWriteError

# The adapter's log lines kept the name they had when it was one module.
log = logging.getLogger("bot.adapters.wiki")

# Answers after which nothing was done, so the same write may be sent again (after a wait).
_WAIT_AND_RESEND = ("maxlag", "ratelimited", "readonly", "badtoken")
# Answers to `assert=user` when the session was lost: nothing was done, log in and resend.
_SESSION_LOST = ("assertuserfailed", "notloggedin")


class WikiEdits(WikiReads):
    """The writes of `WikiClient`; each one goes through `_write`."""

    # -- the one way a write is sent ----------------------------------------------------
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

        site = self.site
        where = f"wiki {self.code}" + (f" page {params['title']!r}" if params.get("title") else "")
        if self.blocked:
            raise Blocked(f"{self.blocked}; nothing sent")
        data = {"format": "json", "formatversion": 2, "assert": "user", "maxlag": self.settings.maxlag, **params}
        for attempt in range(1, int(config.max_retries) + 2):
            token = self._csrf_token(site, where, attempt)
            if token is None:
                continue
            data["token"] = token
            response, answer = self._post(site, data, where)
            error = answer.get("error")
            if not error:
                return answer
            if self._may_resend(site, error, response, where, attempt):
                continue
            raise self._refusal(error, where)
        raise TransientError(f"{where}: gave up after {config.max_retries} retries")

    def _csrf_token(self, site, where: str, attempt: int) -> str | None:
        """The edit token, or None when the session was lost and we logged in again (nothing was sent)."""
        from pywikibot import config

        try:
            return site.tokens["csrf"]
        except KeyError as exc:
            # "Invalid token 'csrf' for user None": the server no longer knows our session (it was
            # restarted, or the cookie went with a killed process). Nothing was sent: log in again.
            if attempt > config.max_retries:
                raise _transport_error(exc, where) from None
            _log_in_again(site, where, "session lost")
            return None
        except Exception as exc:  # pywikibot re-logs in here when its session expired; nothing was sent
            raise _transport_error(exc, where) from None

    @write_method
    def _post(self, site, data: dict[str, Any], where: str) -> tuple[Any, dict]:
        """One POST, never resent here: (the HTTP response, its JSON answer as a dict)."""
        from pywikibot.comms import http

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
        if not isinstance(answer, dict):
            raise UncertainWriteError(f"{where}: malformed answer; the write may have happened")
        return response, answer

    def _may_resend(self, site, error: dict, response, where: str, attempt: int) -> bool:
        """Whether the server refused before doing anything and the write may go again (after the wait or login)."""
        from pywikibot import config

        code = str(error.get("code", ""))
        if attempt > config.max_retries:
            return False
        if code in _SESSION_LOST:
            # The session was lost (a server restart, a cookie file shared with a killed process):
            # `assert=user` made the server refuse before doing anything, so log in again and resend.
            _log_in_again(site, where, code)
            return True
        if code in _WAIT_AND_RESEND:
            if code == "badtoken":
                site.tokens.clear()
            delay = min(float(config.retry_max), max(float(response.headers.get("Retry-After") or 0),
                                                     float(config.retry_wait) * attempt))
            log.info("%s: %s, waiting %.0fs before trying again", where, code, delay)
            _sleep(delay)
            return True
        return False

    def _refusal(self, error: dict, where: str) -> Exception:
        """The error to raise for an answer that refused the write; a block also stops later writes here."""
        code, info = str(error.get("code", "")), str(error.get("info", ""))
        if code == "maxlag":
            return TransientError(f"{where}: database lag stayed above maxlag ({info}); try later")
        refused = _api_error(code, info, where, True, partial=_partial_block(error))
        if isinstance(refused, Blocked):
            self.blocked = str(refused)
        return refused

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


def _sleep(seconds: float) -> None:
    import time
    time.sleep(seconds)


def _log_in_again(site, where: str, why: str) -> None:
    log.info("%s: %s, logging in again", where, why)
    try:
        site.tokens.clear()
        site._relogin()
    except Exception as exc:  # pywikibot's own errors; nothing was written
        raise _transport_error(exc, where) from None
