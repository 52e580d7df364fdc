"""Structured one-line logs, and secrets redacted from every record, exceptions included."""
from __future__ import annotations

import io
import logging
import sys
import threading
import urllib.parse

import pytest

from bot import logs
from bot.settings import parse_settings

TOKEN = "api-s3cr3ttok3nvalue0000000000"
PASSWORD = "pa ss&wörd=1/2"


@pytest.fixture
def captured():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.StructuredFormatter())
    redactor = logs.SecretRedactor([TOKEN, PASSWORD])
    handler.addFilter(redactor)
    logger = logging.getLogger("test.logs.captured")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_one_line_with_fields(captured):
    logger, stream = captured
    logger.info("saved revision %s", 42, extra={"job": "status-sync", "wiki": "cs", "page": "Wikipedie:Growth/Stav",
                                               "outcome": "saved"})
    line = stream.getvalue()
    assert line.count("\n") == 1
    assert " INFO test.logs.captured job=status-sync wiki=cs page=Wikipedie:Growth/Stav outcome=saved " in line
    assert line.rstrip().endswith('msg="saved revision 42"')


def test_exception_stays_on_one_line(captured):
    logger, stream = captured
    try:
        raise ValueError("first\nsecond")
    except ValueError:
        logger.exception("boom", extra={"task": "T12"})
    line = stream.getvalue()
    assert line.count("\n") == 1 and "task=T12" in line and "exc=" in line and "ValueError: first\\nsecond" in line


def test_secrets_are_redacted_everywhere(captured):
    logger, stream = captured
    logger.warning("token %s refused", TOKEN, extra={"page": f"User:{PASSWORD}"})
    logger.error("body: " + urllib.parse.urlencode({"password": PASSWORD, "token": TOKEN}))
    try:
        raise RuntimeError(f"server said: bad token {TOKEN!r}")
    except RuntimeError:
        logger.exception("call failed with %r", {"api.token": TOKEN})
    logger.info("json %s", '{"token": "%s"}' % TOKEN)
    out = stream.getvalue()
    assert TOKEN not in out and PASSWORD not in out
    assert urllib.parse.quote_plus(PASSWORD) not in out and urllib.parse.quote(PASSWORD, safe="") not in out
    assert out.count(logs.REDACTED) >= 6 and len(out.splitlines()) == 4


def test_secrets_from_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("AMBASSADOR_CONDUIT_TOKEN", TOKEN)
    monkeypatch.setenv("CS_PW", PASSWORD)
    monkeypatch.setenv("HOOK_KEY", "hook-key-value")
    monkeypatch.setenv("AMBASSADOR_STATE_URL", "mysql+pymysql://s1234:db%40pass@tools.db.svc.wikimedia.cloud/s1234__bot")
    settings = parse_settings({
        "bot": {"user_agent": "t/1 (t@example.org)"},
        "phabricator": {"url": "http://127.0.0.1:1/"},
        "wikis": {"cs": {"api_url": "http://127.0.0.1:2/api.php", "language": "cs", "timezone": "Europe/Prague",
                         "username": "Bot", "password_env": "CS_PW"}},
        "webhook": {"hmac_key_env": "HOOK_KEY"},
    }, tmp_path / "bot.yaml")
    secrets = logs.secrets_from_settings(settings)
    assert {TOKEN, PASSWORD, "hook-key-value", "db@pass"} <= set(secrets)


def test_install_redacts_records_of_every_library(monkeypatch):
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    monkeypatch.setattr(root, "handlers", [handler])
    # pywikibot, when an earlier test imported it, hangs its own handler on "pywiki"
    monkeypatch.setattr(logging.getLogger("pywiki"), "handlers", [])
    monkeypatch.setattr(logging.getLogger("pywiki"), "propagate", True)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)          # install() replaces both hooks
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    factory = logging.getLogRecordFactory()
    try:
        logs.install(secrets=["zz-install-secret-zz"], level=logging.INFO)
        logging.getLogger("pywiki").warning("login with zz-install-secret-zz")
        logging.getLogger("apscheduler.executors.default").error("job raised", exc_info=ValueError("zz-install-secret-zz"))
        # a handler that install() never saw (pywikibot adds its own later) is covered too
        late = io.StringIO()
        late_handler = logging.StreamHandler(late)
        logging.getLogger("pywiki.late").addHandler(late_handler)
        logging.getLogger("pywiki.late").warning("Logging in with zz-install-secret-zz")
        logging.getLogger("pywiki.late").removeHandler(late_handler)
        assert late.getvalue() == "Logging in with ***\n"
    finally:
        handler.removeFilter(logs._redactor)
        logging.setLogRecordFactory(factory)
    out = stream.getvalue()
    assert "zz-install-secret-zz" not in out and out.count("***") == 3
    assert all(" pywiki" in line or " apscheduler" in line for line in out.splitlines())
    assert logs.redact("x zz-install-secret-zz y") == "x *** y"


def test_short_values_are_not_treated_as_secrets():
    redactor = logs.SecretRedactor(["ab", ""])
    assert redactor.redact("abc") == "abc"


# -- issue 17 item 4: credentials written into a URL ------------------------------------------------

URL_PASSWORD = "Pw-in-url-9f8e7d"


@pytest.mark.parametrize("line,secret", [
    (f"conduit maniphest.search: connection refused (http://bot:{URL_PASSWORD}@phab.example/api/); retry 1/3", URL_PASSWORD),
    (f"GET https://phab.example/api/x?api.token=cli-{URL_PASSWORD}&after=5 failed", URL_PASSWORD),
    (f"POST https://cs.example/w/api.php?lgpassword={URL_PASSWORD} 500", URL_PASSWORD),
    (f"url=https://h/?token={URL_PASSWORD}#frag", URL_PASSWORD),
    (f"retry http://{URL_PASSWORD}@h/", URL_PASSWORD),
])
def test_credentials_in_urls_are_redacted_without_being_configured(line, secret):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.StructuredFormatter())
    handler.addFilter(logs.SecretRedactor())          # no configured secret at all
    logger = logging.getLogger("test.logs.urlcreds")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("%s", line, extra={"page": line})
        try:
            raise ConnectionError(line)
        except ConnectionError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert secret not in out and logs.REDACTED in out and len(out.splitlines()) == 2


def test_url_redaction_keeps_ordinary_text():
    for text in ("author=jana authorPHIDs=PHID-USER-x design=ok", "mail growth@example.org",
                 "https://cs.wikipedia.org/w/api.php?action=query&titles=A", "key=weekly:jana:2026-W47:T50"):
        assert logs.redact_url_credentials(text) == text
    assert logs.redact_url_credentials("http://u:p@h/x?token=t&a=1") == "http://***@h/x?token=***&a=1"
