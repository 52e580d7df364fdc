"""One line per log event, with its job, wiki, page/task and outcome; secrets never written.

Fields come from `extra=` (`log.info("...", extra={"job": "status-sync", "wiki": "cs",
"page": title, "outcome": "saved"})`) and are printed as `key=value` pairs (logfmt), with
values quoted and newlines escaped, so one event is always one line, also a traceback.

`SecretRedactor` is a handler filter: it replaces every known secret (the values of the
environment variables the config names for tokens, passwords and the webhook key, and the
password inside a database URL) in the message, the arguments, the extra fields and the
exception text of every record that reaches a handler, and anything that looks like a
credential inside a URL (`user:password@` and `token=`-like parameters, see
`redact_url_credentials`), whether or not the config names it. It sits on the handlers rather
than on a logger because a logger's filters do not see records propagated from its
children (pywikibot, apscheduler, urllib3 all log under their own names).

Library code only logs; `install()` is called by the process owner (the CLI or the
scheduler's `run_forever`).
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
import traceback
import urllib.parse
from typing import Iterable

FIELDS = ("job", "wiki", "page", "task", "outcome")
REDACTED = "***"
# Shorter values are not redacted: replacing every "ab" in every line helps no one.
MIN_SECRET_LENGTH = 4

_PLAIN_VALUE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@+,#")


def quote(value: object) -> str:
    text = str(value)
    if text and all(ch in _PLAIN_VALUE for ch in text):
        return text
    return json.dumps(text, ensure_ascii=False)


class StructuredFormatter(logging.Formatter):
    """`2026-11-24T07:15:00.123Z INFO bot.jobs.status_sync job=status-sync wiki=cs msg="..."`."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        parts = [stamp, record.levelname, record.name]
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None and value != "":
                parts.append(f"{name}={quote(value)}")
        parts.append(f"msg={quote(record.getMessage())}")
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            parts.append(f"exc={quote(record.exc_text)}")
        if record.stack_info:
            parts.append(f"stack={quote(record.stack_info)}")
        return " ".join(parts)


def secret_variants(secret: str) -> set[str]:
    """The forms a secret takes on the way to a log: as is, URL-encoded, JSON-escaped, repr'd."""
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret),
             json.dumps(secret)[1:-1], repr(secret)[1:-1]}
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


# Credentials written into a URL, whoever put them there: `scheme://user:password@host`
# (the userinfo) and query or form parameters named like a secret (`?token=…`, `api.token=…`).
_URL_USERINFO_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/?#@'\"<>]*@")
_SECRET_PARAM_RE = re.compile(
    r"(?i)((?<![\w.-])[\w.-]*(?:token|password|passwd|secret|api[_-]?key|hmac|authorization|credentials?)=)"
    r"[^&;\s\"'#]+")


def redact_url_credentials(text: str) -> str:
    """`http://user:pw@host/?token=x` -> `http://***@host/?token=***`, anywhere in `text`."""
    if "@" in text:
        text = _URL_USERINFO_RE.sub(lambda m: m.group(1) + REDACTED + "@", text)
    if "=" in text:
        text = _SECRET_PARAM_RE.sub(lambda m: m.group(1) + REDACTED, text)
    return text


def _may_hold_url_credentials(value) -> bool:
    return isinstance(value, str) and ("@" in value or "=" in value)


class SecretRedactor(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self._forms: list[str] = []
        self.update(secrets)

    def update(self, secrets: Iterable[str]) -> None:
        forms = set(self._forms)
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET_LENGTH:
                forms |= secret_variants(secret)
        # Longest first, so a secret containing another is replaced whole.
        self._forms = sorted(forms, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return redact_url_credentials(text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the record
            message = f"{record.msg!r} % {record.args!r}"
        if not self._forms and not (record.exc_info or record.exc_text or record.stack_info) and not any(
                _may_hold_url_credentials(v) for v in (message, *(getattr(record, n, None) for n in FIELDS))):
            return True     # the common case, kept cheap: nothing configured, nothing URL-like
        record.msg, record.args = self.redact(message), None
        if record.exc_info:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for name in FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, self.redact(value))
        return True


_redactor = SecretRedactor()


def redact(text: str) -> str:
    """Redact the installed secrets from text bound elsewhere than a log (e.g. a wiki report)."""
    return _redactor.redact(text)


def secrets_from_settings(settings, environ=os.environ) -> list[str]:
    """The values of every secret the config points at, plus the database password."""
    names = [settings.phabricator.token_env] + [w.password_env for w in settings.wikis.values()]
    webhook = settings.webhook
    if webhook is not None:
        names.append(webhook.hmac_key_env)
        if getattr(webhook, "health_token_env", None):
            names.append(webhook.health_token_env)
    names.append("AMBASSADOR_STATE_URL")
    values = [environ.get(n, "").strip() for n in names]
    for url in (settings.state_url, environ.get("AMBASSADOR_STATE_URL", "")):
        password = _url_password(url)
        if password:
            values.append(password)
    return [v for v in values if v]


def _url_password(url: str) -> str | None:
    try:
        password = urllib.parse.urlsplit(url).password
    except ValueError:
        return None
    return urllib.parse.unquote(password) if password else None


def install(settings=None, *, secrets: Iterable[str] = (), level: int | None = None, stream=None) -> SecretRedactor:
    """Structured one-line format and secret redaction on every handler of the root logger."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(stream or sys.stderr))
    if level is not None:
        root.setLevel(level)
    _redactor.update(list(secrets) + (secrets_from_settings(settings) if settings is not None else []))
    formatter = StructuredFormatter()
    for handler in root.handlers:
        handler.setFormatter(formatter)
        if _redactor not in handler.filters:
            handler.addFilter(_redactor)
    _redact_at_creation()
    logging.captureWarnings(True)
    _route_uncaught_exceptions()
    return _redactor


def _redact_at_creation() -> None:
    """Redact every record when it is made, for handlers `install()` never saw.

    pywikibot sets up its own handlers (for its "Logging in ..." lines) after we start;
    a record factory reaches those as well. The handler filter stays for records made
    by a factory someone installs after this one.
    """
    current = logging.getLogRecordFactory()
    if getattr(current, "_ambassador_redacting", False):
        return

    def factory(*args, **kwargs):
        record = current(*args, **kwargs)
        _redactor.filter(record)
        return record

    factory._ambassador_redacting = True
    logging.setLogRecordFactory(factory)


def _route_uncaught_exceptions() -> None:
    """Uncaught exceptions go through logging (and so through the redactor), not raw to stderr."""
    log = logging.getLogger("bot.uncaught")

    def excepthook(kind, value, tb):
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        log.critical("uncaught exception", exc_info=(kind, value, tb), extra={"outcome": "crash"})

    def thread_hook(args):
        if args.exc_type is SystemExit:
            return
        log.critical("uncaught exception in thread %s", getattr(args.thread, "name", "?"),
                     exc_info=(args.exc_type, args.exc_value, args.exc_traceback), extra={"outcome": "crash"})

    sys.excepthook = excepthook
    threading.excepthook = thread_hook
