"""Wiki facts for tests, built the way the bot builds them: from the answers the real local wikis gave
(recorded in tests/unit/wiki_facts/<code>.json by a farm run) and the wikis' config words
(tests/configs/wiki_words.yaml, parsed by the bot's own config parser)."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import yaml

from bot.domain.wiki_facts import WikiFacts, facts_from_answers

HERE = Path(__file__).parent
WIKI_WORDS = yaml.safe_load((HERE / "configs" / "wiki_words.yaml").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def recorded(code: str) -> dict:
    return json.loads((HERE / "unit" / "wiki_facts" / f"{code}.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def wiki_settings(code: str):
    from bot.settings import parse_settings
    data = {"bot": {"user_agent": "ambassador-bot-tests/0.1 (test@example.org)", "state_url": "memory://"},
            "phabricator": {"url": "https://phabricator.example.org/"},
            # pl has no bundled message file: its wiki is configured with English words, as a new wiki would be.
            "wikis": {code: {"api_url": "https://wiki.example/w/api.php", "language": code if code != "pl" else "en",
                             "timezone": "UTC", "username": "TestBot", **WIKI_WORDS[code]}}}
    return parse_settings(data, HERE / "configs" / "wiki_words.yaml").wikis[code]


def facts(code: str, **config) -> WikiFacts:
    """`code`'s facts; `config` overrides the wiki's config words (e.g. signature_format)."""
    answers, settings = recorded(code), wiki_settings(code)
    return facts_from_answers(answers["siteinfo"], answers["allmessages"],
                              signature_format=config.get("signature_format", settings.signature_format),
                              sample=answers["sample"]["parse"]["text"], sample_time=answers["sample"]["curtimestamp"],
                              unsigned_templates=dict(config.get("unsigned_templates", settings.unsigned_templates)),
                              text_templates=config.get("text_templates", settings.text_templates))


def api_answer(code: str, params: dict) -> dict:
    """What the recorded wiki answered to the facts' requests (for doubles of WikiClient.api)."""
    answers = recorded(code)
    if params.get("meta") == "siteinfo":
        return answers["siteinfo"]
    if params.get("meta") == "allmessages":
        return answers["allmessages"]
    if params.get("action") == "parse":
        return answers["sample"]
    raise KeyError(f"no recorded answer for {params}")
