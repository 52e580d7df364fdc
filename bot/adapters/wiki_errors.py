"""MediaWiki's answers and pywikibot's exceptions, translated into the bot's error types.

Which API error codes mean "try later", "this page only", "the account is blocked" or
"the write may have happened" is decided here, once, for reads and writes alike.
"""
from __future__ import annotations

from typing import Any

from bot.errors import (AuthError, Blocked, ConfigError, EditConflict, NotFound, Protected, ServerError, TargetError,
                        TransientError, UncertainWriteError)


def _refused_before_sending(exc: Exception) -> bool:
    text = repr(exc)
    return any(s in text for s in ("Connection refused", "NewConnectionError", "Failed to resolve",
                                   "Name or service not known"))


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
