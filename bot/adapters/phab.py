"""Conduit client over the `phabricator` package (python-phabricator 0.9.1).

The package builds the request body the way Conduit expects (`params` as JSON
with the token inside `__conduit__`), and we keep that; three of its habits we
replace (see ../shared/README.md, facts measured against a real Phorge):

* it retries POSTs after a read timeout, so a slow `maniphest.edit` could post
  the same comment four times: our one session mounts an adapter with no retries,
  and we retry reads ourselves while writes are sent exactly once;
* it opens a new HTTP session for every attribute access: we cache one resource
  per method and give all of them our single session;
* it sends `User-Agent: python-phabricator/1`, the kind Wikimedia blocks: our
  session overrides that header with the configured descriptive one.

Every call goes through `ConduitClient.call`, the one choke point where library
exceptions become the bot's error types.
"""
from __future__ import annotations

import json
import logging
import re
import time
import urllib.parse
from dataclasses import replace
from typing import Any, Callable, Iterable

import phabricator
import requests
from requests.adapters import HTTPAdapter

from bot.adapters.writes import write_method
from bot.domain.tasks import UNKNOWN_POLICY, CommentVersion, PhabUser, Task, TaskComment, Transaction
from bot.errors import AuthError, ConfigError, PartialData, ServerError, TransientError, UncertainWriteError

log = logging.getLogger(__name__)

# python-phabricator reads ~/.arcrc at import; a stray one must not change our host or token.
phabricator.ARCRC = {}

AUTH_ERRORS = {"ERR-INVALID-AUTH", "ERR-INVALID-SESSION"}
# How long a Space's view policy is trusted. A task moving between Spaces is seen at once
# (its spacePHID is in the task); only an administrator changing a Space's own policy
# waits this long, and a Space the bot can no longer see is unknown, hence not public, at once.
SPACE_POLICY_SECONDS = 300.0


class _AgentSession(requests.Session):
    """A session whose User-Agent cannot be overridden per request."""

    def __init__(self, user_agent: str):
        super().__init__()
        self.user_agent = user_agent
        adapter = HTTPAdapter(max_retries=0)  # never let urllib3 resend a POST
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self.request_count = 0

    def request(self, method, url, headers=None, **kwargs):
        headers = dict(headers or {})
        headers["User-Agent"] = self.user_agent
        self.request_count += 1
        return super().request(method, url, headers=headers, **kwargs)


class ConduitClient:
    def __init__(self, url: str, token: str, user_agent: str, *, timeout: float = 20.0, page_size: int = 100,
                 read_attempts: int = 4, backoff: float = 1.0, sleep: Callable[[float], None] = time.sleep):
        if not token:
            raise ConfigError("missing Conduit token")
        self.url = url if url.endswith("/") else url + "/"
        self.page_size = page_size
        self.read_attempts = read_attempts
        self.backoff = backoff
        self._sleep = sleep
        self._token = token
        self._timeout = timeout
        self.session = _AgentSession(user_agent)
        self._api = phabricator.Phabricator(host=self.url + "api/", token=token, timeout=timeout)
        self._api.connect()  # with a token this only sets the __conduit__ field; no request
        self._resources: dict[str, phabricator.Resource] = {}
        self._space_policies: dict[str, tuple[float, str]] = {}
        self._clock = time.monotonic

    @property
    def request_count(self) -> int:
        return self.session.request_count

    def _resource(self, method: str) -> phabricator.Resource:
        resource = self._resources.get(method)
        if resource is None:
            app, _, endpoint = method.partition(".")
            # A non-empty interface skips the package's deep copy of its bundled method
            # list, which lacks transaction.search anyway.
            resource = phabricator.Resource(self._api, interface={"required": {}}, method=app, endpoint=endpoint)
            resource.session.close()
            resource.session = self.session
            self._resources[method] = resource
        return resource

    # -- the choke point -------------------------------------------------------------
    @write_method(when="write")
    def call(self, method: str, params: dict[str, Any] | None = None, *, write: bool = False) -> Any:
        """Call one Conduit method. Reads are retried with backoff; writes are sent once."""
        attempts = 1 if write else self.read_attempts
        for attempt in range(1, attempts + 1):
            try:
                return self._call_once(method, params or {}, write)
            except TransientError as exc:
                if write or attempt == attempts:
                    raise
                delay = exc.retry_after or self.backoff * 2 ** (attempt - 1)
                log.warning("conduit %s: %s; retry %d/%d in %.1fs", method, exc, attempt, attempts - 1, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")

    @write_method(when="write")
    def _call_once(self, method: str, params: dict, write: bool) -> Any:
        try:
            return self._call_raw(method, params, write)
        except (AuthError, ServerError, TransientError) as exc:
            # Phorge echoes a refused token in error_info; it must not reach a log.
            if self._token in str(exc):
                exc.args = (str(exc).replace(self._token, _redacted(self._token)),)
            raise

    @write_method(when="write")
    def _call_raw(self, method: str, params: dict, write: bool) -> Any:
        where = f"Conduit {method} at {self.url}"
        try:
            result = self._resource(method)(**params)
        except phabricator.APIError as exc:
            code, info = exc.code, exc.message if hasattr(exc, "message") else str(exc)
            if code in AUTH_ERRORS:
                raise AuthError(f"{where}: the token was refused ({code}: {info})") from None
            raise ServerError(f"{where}: {code}: {info}", code) from None
        except requests.exceptions.ConnectTimeout:
            raise TransientError(f"{where}: connection timed out") from None
        except requests.exceptions.ReadTimeout:
            if write:
                raise UncertainWriteError(f"{where}: no answer within the timeout; the write may have happened") from None
            raise TransientError(f"{where}: no answer within the timeout") from None
        except requests.exceptions.ConnectionError as exc:
            if write and not _refused_before_sending(exc):
                raise UncertainWriteError(f"{where}: connection lost; the write may have happened") from None
            raise TransientError(f"{where}: cannot connect ({_reason(exc)})") from None
        except requests.exceptions.HTTPError as exc:
            # python-phabricator raises this for any non-2xx; Conduit itself answers 200 even for errors.
            if write:
                raise UncertainWriteError(f"{where}: {exc}; the write may have happened") from None
            raise TransientError(f"{where}: {exc}") from None
        except (ValueError, KeyError, TypeError) as exc:  # not JSON, or JSON of the wrong shape
            if write:
                raise UncertainWriteError(f"{where}: malformed answer ({type(exc).__name__}); the write may have happened") from None
            raise TransientError(f"{where}: malformed answer ({type(exc).__name__}: {str(exc)[:80]})") from None
        except requests.exceptions.RequestException as exc:
            raise TransientError(f"{where}: {type(exc).__name__}") from None
        return _plain(result)

    # -- reads ---------------------------------------------------------------------
    def search_all(self, method: str, params: dict[str, Any]) -> list[dict]:
        """All results of a `*.search` method, following the cursor to the end.

        A failure on any page raises PartialData: callers never act on a partial list.
        """
        rows: list[dict] = []
        after = None
        pages = 0
        while True:
            page_params = dict(params, limit=self.page_size)
            if after is not None:
                page_params["after"] = after
            try:
                result = self.call(method, page_params)
                data, cursor = result["data"], result["cursor"]
                if not isinstance(data, list) or not isinstance(cursor, dict):
                    raise TypeError("data is not a list or cursor not an object")
            except (TransientError, KeyError, TypeError) as exc:
                raise PartialData(f"Conduit {method}: stopped after {pages} page(s) of results: {exc}") from None
            rows.extend(data)
            pages += 1
            after = cursor.get("after")
            if after is None:
                return rows

    def whoami(self) -> PhabUser:
        """The bot's own account (the token's)."""
        me = self.call("user.whoami")
        try:
            return PhabUser(phid=str(me["phid"]), username=str(me["userName"]))
        except (KeyError, TypeError) as exc:
            raise ServerError(f"user.whoami: the account has an unexpected shape ({type(exc).__name__}: {exc})") from None

    def project_phids(self, slugs: Iterable[str]) -> dict[str, str]:
        """Map project slugs (or exact names) to PHIDs; an unknown one is a config error."""
        slugs = sorted(set(slugs))
        if not slugs:
            return {}
        found: dict[str, str] = {}
        for row in self.search_all("project.search", {"constraints": {"slugs": slugs}}):
            for slug in row["fields"].get("slug") and [row["fields"]["slug"]] or []:
                found[slug] = row["phid"]
            found.setdefault(row["fields"].get("name", ""), row["phid"])
        missing = [s for s in slugs if s not in found and s.replace(" ", "_").lower() not in found]
        if missing:
            raise ConfigError(f"unknown Phabricator project(s) at {self.url}: {', '.join(missing)}")
        return {s: found.get(s) or found[s.replace(' ', '_').lower()] for s in slugs}

    def search_tasks(self, *, projects=(), task_ids=(), statuses=(), subtypes=(),
                     modified_start: int | None = None, authors=(), closers=(), subscribers=(),
                     created_start: int | None = None, created_end: int | None = None,
                     closed_start: int | None = None, closed_end: int | None = None) -> list[Task]:
        """Tasks matching every given constraint; user constraints take PHIDs, times are Unix seconds."""
        constraints: dict[str, Any] = {}
        if statuses:
            constraints["statuses"] = list(statuses)
        if projects:
            constraints["projects"] = list(projects)
        if task_ids:
            constraints["ids"] = sorted(task_ids)
        if subtypes:
            constraints["subtypes"] = list(subtypes)
        if authors:
            constraints["authorPHIDs"] = list(authors)
        if closers:
            constraints["closerPHIDs"] = list(closers)
        if subscribers:
            constraints["subscribers"] = list(subscribers)
        for key, value in (("modifiedStart", modified_start), ("createdStart", created_start),
                           ("createdEnd", created_end), ("closedStart", closed_start), ("closedEnd", closed_end)):
            if value is not None:
                constraints[key] = int(value)
        return self.find_tasks(constraints)

    def find_tasks(self, constraints: dict[str, Any]) -> list[Task]:
        """Every task matching `maniphest.search` constraints, with its Space's view policy."""
        rows = self.search_all("maniphest.search", {
            "constraints": constraints, "attachments": {"projects": True}, "order": "newest"})
        tasks = [task_from_conduit(r) for r in rows]
        policies = self.space_policies({t.space_phid for t in tasks if t.space_phid})
        return [replace(t, space_policy=policies.get(t.space_phid, UNKNOWN_POLICY)) if t.space_phid else t
                for t in tasks]

    def space_policies(self, phids: Iterable[str]) -> dict[str, str]:
        """For each Space, "public" if an anonymous reader may see it, else UNKNOWN_POLICY.

        Conduit has no `spaces.search`, and a task in a Space reports only its own
        policy, so the bot asks as the wiki's reader would: `phid.query` gives each
        Space's page, which is then fetched without credentials; a public Space shows
        its own page (titled with its monogram), any other answers with a login page.
        Remembered for SPACE_POLICY_SECONDS, so a quiet cycle asks nothing.
        """
        now = self._clock()
        wanted = sorted(set(phids))
        stale = [p for p in wanted if p not in self._space_policies or self._space_policies[p][0] < now]
        if stale:
            try:
                known = self.call("phid.query", {"phids": stale}) or {}
            except TransientError as exc:
                raise PartialData(f"Conduit phid.query: Spaces unknown: {exc}") from None
            for phid in stale:
                row = known.get(phid) if isinstance(known, dict) else None
                public = bool(row) and self._anonymous_sees(str(row.get("uri") or ""), str(row.get("fullName") or ""))
                self._space_policies[phid] = (now + SPACE_POLICY_SECONDS, "public" if public else UNKNOWN_POLICY)
        return {p: self._space_policies[p][1] for p in wanted}

    def _anonymous_sees(self, uri: str, full_name: str) -> bool:
        monogram = full_name.split(" ", 1)[0]
        path = urllib.parse.urlsplit(uri).path.lstrip("/")
        if not re.fullmatch(r"S\d+", monogram) or path != monogram:
            return False
        try:
            answer = self.session.get(self.url + path, allow_redirects=False, timeout=self._timeout,
                                      cookies={})
        except requests.RequestException as exc:
            raise PartialData(f"Phabricator {self.url}{path}: Space visibility unknown ({type(exc).__name__})") from None
        if answer.status_code >= 500:
            raise PartialData(f"Phabricator {self.url}{path}: Space visibility unknown (HTTP {answer.status_code})")
        title = re.search(r"<title>(.*?)</title>", answer.text[:20000], re.S)
        return answer.status_code == 200 and bool(title) and re.search(rf"\b{monogram}\b", title.group(1)) is not None

    def last_change_by_others(self, task_id: int, author_phid: str, *, look_back: int = 20) -> int | None:
        """Time of the newest transaction on the task not made by `author_phid` (the bot).

        The bot's own comments move a task's `dateModified`; what a table calls the last
        change must not. None when the last `look_back` transactions are all the bot's.
        """
        result = self.call("transaction.search", {"objectIdentifier": f"T{int(task_id)}", "limit": look_back})
        for row in result.get("data", []):     # newest first
            if row.get("authorPHID") != author_phid:
                return int(row["dateCreated"])
        return None

    def user_names(self, phids: Iterable[str]) -> dict[str, str]:
        phids = sorted({p for p in phids if p})
        names: dict[str, str] = {}
        for start in range(0, len(phids), self.page_size):
            chunk = phids[start:start + self.page_size]
            for row in self.search_all("user.search", {"constraints": {"phids": chunk}}):
                names[row["phid"]] = row["fields"]["username"]
        return names

    def users_by_name(self, usernames: Iterable[str]) -> list[PhabUser]:
        """The accounts with these usernames (as Phabricator spells them); unknown names are left out."""
        usernames = sorted({u for u in usernames if u})
        users: list[PhabUser] = []
        for start in range(0, len(usernames), self.page_size):
            chunk = usernames[start:start + self.page_size]
            for row in self.search_all("user.search", {"constraints": {"usernames": chunk}}):
                try:
                    users.append(PhabUser(phid=str(row["phid"]), username=str(row["fields"]["username"])))
                except (KeyError, TypeError) as exc:
                    raise ServerError(f"user.search: a user has an unexpected shape ({type(exc).__name__}: {exc})") from None
        return users

    def task_comments(self, task_id: int, *, author_phids: Iterable[str] = ()) -> list[TaskComment]:
        """The comment transactions on a task, newest first (removed ones marked `removed`)."""
        return comments_of(self.transactions(f"T{int(task_id)}", author_phids=author_phids))

    def transactions(self, object_id: str, *, author_phids=(), phids=()) -> list[Transaction]:
        """The object's history (a monogram or PHID), newest first, optionally only these authors' or PHIDs."""
        constraints: dict[str, Any] = {}
        if author_phids:
            constraints["authorPHIDs"] = list(author_phids)
        if phids:
            constraints["phids"] = list(phids)
        params: dict[str, Any] = {"objectIdentifier": object_id}
        if constraints:
            params["constraints"] = constraints
        return [transaction_from_conduit(r) for r in self.search_all("transaction.search", params)]

    # -- writes --------------------------------------------------------------------
    @write_method
    def comment(self, task_id: int, text: str) -> list[str]:
        """Add a comment; returns the new transaction PHIDs. Sent once, never retried here."""
        result = self.call("maniphest.edit", {
            "objectIdentifier": f"T{int(task_id)}",
            "transactions": [{"type": "comment", "value": text}],
        }, write=True)
        return [t["phid"] for t in result.get("transactions", [])]

    def close(self) -> None:
        self.session.close()


def task_from_conduit(row: dict) -> Task:
    try:
        f = row["fields"]
        return Task(
            id=int(row["id"]),
            phid=row["phid"],
            title=str(f["name"]),
            status=str(f["status"]["value"]),
            priority=int(f["priority"]["value"]),
            date_modified=int(f["dateModified"]),
            date_created=int(f.get("dateCreated") or 0),
            date_closed=f.get("dateClosed"),
            view_policy=str(f["policy"]["view"]),
            owner_phid=f.get("ownerPHID"),
            author_phid=f.get("authorPHID"),
            space_phid=f.get("spacePHID") or None,
            subtype=str(f.get("subtype") or "default"),
            projects=tuple(row.get("attachments", {}).get("projects", {}).get("projectPHIDs", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ServerError(f"maniphest.search: a task has an unexpected shape ({type(exc).__name__}: {exc})") from None


def transaction_from_conduit(row: dict) -> Transaction:
    """A `transaction.search` row; fields a row may lack (a comment-less type has no comments) get defaults."""
    try:
        versions = tuple(CommentVersion(text=str((v.get("content") or {}).get("raw") or ""),
                                        removed=bool(v.get("removed")))
                         for v in row.get("comments") or ())
        return Transaction(
            phid=str(row["phid"]),
            type=row.get("type"),
            author_phid=row.get("authorPHID"),
            object_phid=row.get("objectPHID"),
            date_created=int(row.get("dateCreated") or 0),
            versions=versions,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ServerError(f"transaction.search: a transaction has an unexpected shape "
                          f"({type(exc).__name__}: {exc})") from None


def comments_of(transactions: Iterable[Transaction]) -> list[TaskComment]:
    """The comment transactions among `transactions`, in their order."""
    return [TaskComment(phid=x.phid, author_phid=x.author_phid, date_created=x.date_created,
                        text=x.text, removed=x.removed)
            for x in transactions if x.type == "comment"]


def _redacted(token: str) -> str:
    return token[:4] + "…(redacted)"


def _plain(result: Any) -> Any:
    # python-phabricator wraps dict results in its Result mapping; hand plain JSON data on.
    if isinstance(result, phabricator.Result):
        result = result.response
    return json.loads(json.dumps(result))


def _refused_before_sending(exc: Exception) -> bool:
    text = repr(exc)
    return any(s in text for s in ("Connection refused", "NewConnectionError", "Name or service not known",
                                   "nodename nor servname", "Failed to resolve"))


def _reason(exc: Exception) -> str:
    text = repr(exc)
    for marker in ("Connection refused", "Failed to resolve", "Read timed out", "Connection reset"):
        if marker in text:
            return marker.lower()
    return type(exc).__name__
