"""A wiki's facts (namespaces, month names, zone, signature format) read from the wiki itself.

Two or three read requests per wiki and process: siteinfo, allmessages in the content
language, and — unless the config names the signature format — what the wiki writes for
`~~~~~` now (`action=parse&onlypst=1`, with `curtimestamp` to know when "now" was).
The decisions are in `bot.domain.wiki_facts`.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.domain.wiki_facts import (WikiFacts, WikiFactsError, compile_signature_format, facts_from_answers,
                                   message_names, zone_message_names)
from bot.errors import ConfigError


def wiki_facts(wiki, memo: dict | None = None) -> WikiFacts:
    """The facts of `wiki` (a WikiClient), once per process when given a memo (`ctx.memo`)."""
    key = ("wiki_facts", wiki.settings.code, wiki.settings.api_url)
    if memo is not None and key in memo:
        return memo[key]
    siteinfo, allmessages = _answers(wiki)
    settings = wiki.settings
    sample = sample_time = None
    if not settings.signature_format:
        sample, sample_time = signature_sample(wiki)
    try:
        facts = facts_from_answers(siteinfo, allmessages, signature_format=settings.signature_format,
                                   sample=sample, sample_time=sample_time,
                                   unsigned_templates=dict(settings.unsigned_templates),
                                   text_templates=settings.text_templates)
    except WikiFactsError as exc:
        raise ConfigError(f"wiki {wiki.settings.code}: {exc}") from None
    if memo is not None:
        memo[key] = facts
    return facts


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
    pattern = compile_signature_format(facts.signature_format, facts)
    match = pattern.fullmatch(sample.strip())
    read = facts.to_utc(match) if match else None
    minutes = {(written - timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:00Z") for s in (0, 60)}
    if read in minutes:
        return None
    return (f"wiki {wiki.settings.code}: signature_format {facts.signature_format!r} does not read what the wiki "
            f"writes for ~~~~~ now, {sample.strip()!r} (read as {read or 'nothing'})")
