"""Shared fixtures: the real local MediaWiki farm and the real local Phorge.

Both are started once per test session by the suite itself: MediaWiki 1.43 on SQLite and
Phorge (``sandbox/phorge.py``) on the machine's MariaDB. Phabricator-side tests get the
real Phorge as ``conduit``; the Conduit imitation (``sandbox/conduit.py``) serves only its
own contract tests, which compare it with the real server. Without root and
without MediaWiki's packages the integration tests are skipped with a message
saying what to install; under CI=true a skip is a failure.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI") == "true"


def unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"integration test cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pywikibot_dir():
    """One private pywikibot folder per test session (pywikibot reads its config once per process)."""
    path = Path(tempfile.mkdtemp(prefix="ambassador-pwb-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def started_farm(path: Path, codes):
    """A local MediaWiki farm with these wikis, set up and serving (or the test's unavailable())."""
    from sandbox.mediawiki import MediaWikiFarm, MediaWikiUnavailable

    farm = MediaWikiFarm(path, codes=codes)
    try:
        farm.ensure_code()
        farm.setup()
        farm.start()
    except MediaWikiUnavailable as exc:
        unavailable(str(exc))
    return farm


@pytest.fixture(scope="session")
def mediawiki_farm(tmp_path_factory):
    farm = started_farm(tmp_path_factory.mktemp("mediawiki"), ("cs", "ko", "en"))
    yield farm
    farm.stop()


@pytest.fixture(scope="session")
def language_farm(tmp_path_factory):
    """The Arabic, Vietnamese and Polish wikis of issue 15 (opt-in profiles of sandbox/mediawiki.py),
    started once for the modules that use them, beside the cs/ko/en farm most tests share."""
    farm = started_farm(tmp_path_factory.mktemp("mediawiki-languages"), ("ar", "vi", "pl"))
    yield farm
    farm.stop()


@pytest.fixture(scope="session")
def conduit_server(tmp_path_factory):
    """The real Phorge, seeded with admin, GrowthBot (a bot), alice and bob."""
    from sandbox.phorge import PhorgeServer, PhorgeUnavailable

    server = PhorgeServer(tmp_path_factory.mktemp("phorge"))
    try:
        server.start()
    except PhorgeUnavailable as exc:
        unavailable(str(exc))
    yield server
    server.stop()


@pytest.fixture
def conduit(conduit_server):
    conduit_server.reset()
    conduit_server.clock = time.time   # a test may have frozen it
    conduit_server.clear_request_log()
    return conduit_server


@pytest.fixture
def wikis(mediawiki_farm):
    mediawiki_farm.reset()
    forget_pywikibot_sessions()
    return mediawiki_farm


@pytest.fixture
def language_wikis(language_farm):
    language_farm.reset()
    forget_pywikibot_sessions()
    return language_farm


def forget_pywikibot_sessions():
    """Restoring a wiki's database drops its sessions: make pywikibot log in afresh."""
    import sys
    pywikibot = sys.modules.get("pywikibot")
    if pywikibot is None:
        return
    from pywikibot.comms import http
    http.cookie_jar.clear()
    pywikibot._sites.clear()
