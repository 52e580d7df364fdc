"""The bot's own error types.

Every library exception is translated into one of these at the adapter edge, and
each type carries what the shell should do about it (habit 2 of design.md): a
`ConfigError` is fatal with exit 2, a `TransientError` is retried with backoff, a
`TargetError` is reported for that one page or task while the job goes on.
"""
from __future__ import annotations


class BotError(Exception):
    """Base class. `str(err)` is the one-line message shown to the operator."""

    exit_code = 1


class ConfigError(BotError):
    """Bad or missing configuration or secret: fatal before anything is posted."""

    exit_code = 2


class AuthError(BotError):
    """A token or password was refused by the server."""

    exit_code = 3


class TransientError(BotError):
    """Worth retrying later: 5xx, timeouts, maxlag, rate limits, a read-only wiki."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class UncertainWriteError(TransientError):
    """A write whose outcome is unknown (e.g. read timeout after sending it).

    The caller must find out from the server whether it happened before any retry.
    """


class ServerError(BotError):
    """The server answered with an error we do not expect to go away by retrying."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


class TargetError(BotError):
    """Something about one target (page, task) prevents the write; others go on."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


class NotFound(TargetError):
    pass


class Protected(TargetError):
    pass


class EditConflict(TargetError):
    """Someone saved the page after our read: re-read, re-render, retry.

    `saved_revid` is set when MediaWiki merged our edit into theirs and saved it
    (code "merged"): our change is on the page, over text we never saw.
    """

    def __init__(self, message: str, code: str | None = None, saved_revid: int | None = None):
        super().__init__(message, code)
        self.saved_revid = saved_revid


class Blocked(BotError):
    """The bot's account is blocked on a wiki: stop editing that wiki."""


class EmergencyStop(BotError):
    """The wiki's run page says stop: no edits on that wiki until it is restored."""


class PartialData(BotError):
    """A fetch ended before its last page: never act on what was read."""
