"""Building a real bot context against the local wikis and the Conduit sandbox."""
from __future__ import annotations

import io
from pathlib import Path

from bot.jobs.registry import build_context
from bot.settings import parse_settings
from tests.wiki_facts import WIKI_WORDS

TIMEZONES = {"cs": "Europe/Prague", "ko": "Asia/Seoul", "en": "UTC",
             "ar": "Asia/Riyadh", "vi": "Asia/Ho_Chi_Minh", "pl": "Europe/Warsaw"}
STATUS_PAGES = {"cs": "Wikipedie:Growth/Stav", "ko": "위키백과:성장/현황"}
BEGIN = "<!-- ambassador-bot:status growth-current begin -->"
END = "<!-- ambassador-bot:status growth-current end -->"


def config_data(farm, conduit, tmp_path: Path, pywikibot_dir: Path, *, codes=("cs", "ko"), tables=None, **wiki_extra):
    return {
        "bot": {"user_agent": "ambassador-bot-tests/0.1 (test@example.org)",
                "state_url": f"sqlite:///{tmp_path}/state.sqlite", "pywikibot_dir": str(pywikibot_dir)},
        "phabricator": {"url": conduit.url, "timeout": 5},
        "wikis": {code: {"api_url": farm.wikis[code].api_url, "language": code, "timezone": TIMEZONES[code],
                         "username": "TestBot", "botpassword_app": "ci",
                         "password_env": f"AMBASSADOR_TEST_{code.upper()}_PASSWORD", "throttle_seconds": 0,
                         **WIKI_WORDS[code], **wiki_extra}
                  for code in codes},
        "status_tables": tables if tables is not None else [{
            "id": "growth-current",
            "query": {"projects": ["growth-team"], "statuses": ["open", "progress", "resolved"]},
            "pages": {c: STATUS_PAGES[c] for c in codes if c in STATUS_PAGES}}],
    }


def set_secrets(monkeypatch, farm, conduit, codes=("cs", "ko")):
    monkeypatch.setenv("AMBASSADOR_CONDUIT_TOKEN", conduit.bot_token)
    for code in codes:
        monkeypatch.setenv(f"AMBASSADOR_TEST_{code.upper()}_PASSWORD", farm.wikis[code].bot.password)


def make_context(farm, conduit, tmp_path, pywikibot_dir, monkeypatch, *, dry_run=False, **kw):
    codes = kw.get("codes", ("cs", "ko"))
    set_secrets(monkeypatch, farm, conduit, codes)
    settings = parse_settings(config_data(farm, conduit, tmp_path, pywikibot_dir, **kw), tmp_path / "test.yaml")
    ctx = build_context(settings, dry_run=dry_run)
    ctx.out = io.StringIO()
    return ctx


def page_with_markers(intro="Úvod napsaný člověkem.", outro="Patička."):
    return f"{intro}\n{BEGIN}\n{END}\n{outro}\n"
