"""A wiki's facts (namespaces, month names, zone, signature format) read from the wiki itself.

Two or three read requests per wiki and process (`ctx.memo`): siteinfo, allmessages in the content
language, and — unless the config names the signature format — what the wiki writes for
`~~~~~` now (`action=parse&onlypst=1`, with `curtimestamp` to know when "now" was).
The decisions are in `bot.domain.wiki_facts`.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone

from bot.domain.wiki_facts import (LANGUAGE, SAMPLE, AmbiguousSampleError, WikiFacts, WikiFactsError,
                                   facts_from_answers, message_names, read_sample, reads_sample,
                                   zone_message_names)
from bot.errors import ConfigError, TargetError

# State store namespace: wiki code -> the signature format last derived from an unambiguous sample.
NS_FACTS = "wiki-facts"
# A format guessed from the language's date pattern is asked again after this long (a later
# sample, on the next day, is unambiguous and replaces it).
GUESS_SECONDS = 3600


def wiki_facts(wiki, memo: dict | None = None, store=None) -> WikiFacts:
    """The facts of `wiki` (a WikiClient), once per process when given a memo (`ctx.memo`).

    With the state store (`ctx.store`) a format derived from today's sample is remembered, for a
    day whose sample cannot tell day from month (`with_signature_format`). Such a day with nothing
    to tell them raises TargetError: the wiki's comments wait, the other wikis go on.
    """
    key = ("wiki_facts", wiki.settings.code, wiki.settings.api_url)
    known = memo.get(key) if memo is not None else None
    if known is not None and (known[0].format_source != LANGUAGE or time.time() < known[1]):
        return known[0]
    settings = wiki.settings
    siteinfo, allmessages = _answers(wiki)
    sample = sample_time = remembered = None
    if not settings.signature_format:
        sample, sample_time = signature_sample(wiki)
        remembered = _remembered(store, settings)
    try:
        facts = facts_from_answers(siteinfo, allmessages, signature_format=settings.signature_format,
                                   sample=sample, sample_time=sample_time,
                                   unsigned_templates=dict(settings.unsigned_templates),
                                   text_templates=settings.text_templates, remembered_format=remembered)
    except AmbiguousSampleError as exc:
        raise TargetError(f"wiki {settings.code}: {exc}; its comments wait") from None
    except WikiFactsError as exc:
        raise ConfigError(f"wiki {settings.code}: {exc}") from None
    if facts.format_source == SAMPLE and store is not None and remembered != facts.signature_format:
        store.put(NS_FACTS, settings.code, {"signature_format": facts.signature_format, "api_url": settings.api_url,
                                            "sample": sample, "at": sample_time})
    if memo is not None:
        memo[key] = (facts, time.time() + GUESS_SECONDS)
    return facts


def _remembered(store, settings) -> str | None:
    entry = store.get(NS_FACTS, settings.code) if store is not None else None
    if entry and entry.get("api_url") == settings.api_url:
        return entry.get("signature_format")
    return None


def _answers(wiki) -> tuple[dict, dict]:
    siteinfo = wiki.api(action="query", meta="siteinfo",
                        siprop="general|namespaces|namespacealiases|specialpagealiases")
    general = siteinfo.get("query", {}).get("general", {})
    names = message_names() + zone_message_names(general.get("timezone") or "UTC")
    allmessages = wiki.api(action="query", meta="allmessages", ammessages="|".join(names),
                           amlang=general.get("lang") or "en")
    return siteinfo, allmessages


def signature_sample(wiki) -> tuple[str, str]:
    """What the wiki writes for `~~~~~` (a signature's date alone) now, and the wiki's time then."""
    answer = wiki.api(action="parse", text="~~~~~", contentmodel="wikitext", onlypst=1, curtimestamp=1,
                      title="API")
    return answer["parse"]["text"], answer["curtimestamp"]


def signature_format_problem(wiki, facts: WikiFacts) -> str | None:
    """check-config --online: does the configured signature format read what the wiki writes now?

    One line when it does not (None when it does, or when no format is configured: then it was
    derived from that very sample)."""
    if not wiki.settings.signature_format:
        return None
    sample, sample_time = signature_sample(wiki)
    written = datetime.strptime(sample_time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    if reads_sample(facts.signature_format, facts, sample, written):
        return None
    read = read_sample(facts.signature_format, facts, sample)
    return (f"wiki {wiki.settings.code}: signature_format {facts.signature_format!r} does not read what the wiki "
            f"writes for ~~~~~ now, {sample.strip()!r} (read as {read or 'nothing'})")
