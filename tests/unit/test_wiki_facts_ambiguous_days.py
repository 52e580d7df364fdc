"""Signature formats on days whose `~~~~~` sample reads the same with day and month swapped
(12 December, 1 January): the wiki's month names, a format remembered from an earlier day, the
language's CLDR order, else one problem for that wiki. Samples written as the local wikis write
them (tests/unit/wiki_facts/<code>.json, recorded on 2026-12-06), at an ambiguous time."""
from __future__ import annotations

import io
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from bot.adapters.wiki_facts import NS_FACTS, wiki_facts
from bot.domain.wiki_facts import (LANGUAGE, REMEMBERED, SAMPLE, AmbiguousSampleError, derive_signature_format,
                                   facts_from_answers, language_day_first)
from bot.errors import TargetError
from bot.jobs import feedback
from bot.jobs.base import JobContext
from bot.settings.core import SECTIONS
from bot.settings.feedback import FeedbackPage, FeedbackSettings
from bot.store.memory import MemoryStore
from tests.fakes import FakePhab, FakeWiki, FakeWikiSettings, task
from tests.wiki_facts import api_answer, facts, recorded

DERIVED = {"cs": "j. n. Y, G:i", "ko": 'Y"년 "n"월 "j"일 ("D) G:i', "vi": 'G:i", ngày "j" tháng "n" năm "Y'}

# (code, what the wiki writes for ~~~~~, when: UTC) on days where the day is the month.
AMBIGUOUS = [
    ("cs", "12. 12. 2026, 11:02 (CET)", "2026-12-12T10:02:00Z"),
    ("cs", "1. 1. 2027, 11:02 (CET)", "2027-01-01T10:02:00Z"),
    ("ko", "2026년 12월 12일 (토) 19:02 (KST)", "2026-12-12T10:02:00Z"),
    ("ko", "2027년 1월 1일 (금) 19:02 (KST)", "2027-01-01T10:02:00Z"),
    # The hour is the day and the month too.
    ("ko", "2026년 12월 12일 (토) 12:12 (KST)", "2026-12-12T03:12:00Z"),
    ("vi", "17:02, ngày 12 tháng 12 năm 2026 (+07)", "2026-12-12T10:02:00Z"),
    ("vi", "17:02, ngày 1 tháng 1 năm 2027 (+07)", "2027-01-01T10:02:00Z"),
]


def _utc(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def _facts(code: str, sample: str, when: str, *, lang: str | None = None, remembered: str | None = None):
    answers = recorded(code)
    siteinfo = answers["siteinfo"]
    if lang:
        query = siteinfo.get("query", siteinfo)
        siteinfo = {"query": {**query, "general": {**query["general"], "lang": lang}}}
    return facts_from_answers(siteinfo, answers["allmessages"], sample=sample, sample_time=when,
                              remembered_format=remembered)


@pytest.mark.parametrize("code,sample,when", [a for a in AMBIGUOUS if a[0] != "cs"])
def test_month_names_with_digits_tell_the_day_from_the_month(code, sample, when):
    assert derive_signature_format(sample, _utc(when), facts(code)) == DERIVED[code]


@pytest.mark.parametrize("sample,when", [(s, w) for c, s, w in AMBIGUOUS if c == "cs"])
def test_cs_writes_the_month_as_a_bare_number_so_the_sample_alone_cannot_tell(sample, when):
    with pytest.raises(AmbiguousSampleError, match="cannot tell the day from the month"):
        derive_signature_format(sample, _utc(when), facts("cs"))
    assert derive_signature_format(sample, _utc(when), facts("cs"), day_first=True) == DERIVED["cs"]
    assert derive_signature_format(sample, _utc(when), facts("cs"), day_first=False) == "n. j. Y, G:i"


@pytest.mark.parametrize("code,sample,when", AMBIGUOUS)
def test_every_ambiguous_day_gives_the_format_of_an_unambiguous_one(code, sample, when):
    got = _facts(code, sample, when)
    assert got.signature_format == DERIVED[code]
    assert got.format_source == (LANGUAGE if code == "cs" else SAMPLE)
    # ... and that format reads a signature of another day as that day.
    other = recorded(code)["signature"]
    match = got.timestamp_re.search(other["parse"]["text"])
    assert got.to_utc(match) == other["curtimestamp"][:17] + "00Z"


def test_a_format_remembered_from_an_earlier_day_comes_before_the_language():
    sample, when = AMBIGUOUS[0][1:]
    got = _facts("cs", sample, when, remembered="j. n. Y, H:i")
    assert (got.signature_format, got.format_source) == ("j. n. Y, H:i", REMEMBERED)
    # A remembered format that does not read today's sample is not used (the wiki changed).
    got = _facts("cs", sample, when, remembered="G:i, j F Y")
    assert (got.signature_format, got.format_source) == (DERIVED["cs"], LANGUAGE)


def test_nothing_to_tell_day_from_month_is_an_ambiguous_sample_error_naming_the_config_key():
    sample, when = AMBIGUOUS[0][1:]
    with pytest.raises(AmbiguousSampleError, match="set signature_format in the wiki's config"):
        _facts("cs", sample, when, lang="qqx-nowhere")


@pytest.mark.parametrize("lang,first", [("cs", True), ("vi", True), ("ko", False), ("ar", True),
                                        ("qqx-nowhere", None)])
def test_the_language_order_comes_from_cldr(lang, first):
    assert language_day_first(lang) is first


# -- the adapter: remembering per wiki in the state store --------------------------------------

class SampledWiki(FakeWiki):
    """A wiki with the recorded answers of `language`, writing `sample` for ~~~~~ (and `lang` in siteinfo)."""

    def __init__(self, settings=None, *, sample=None, lang=None, pages=None):
        super().__init__(settings, pages=pages)
        self.sample, self.lang, self.facts_reads = sample, lang, 0

    def api(self, *, write=False, **params):
        if params.get("meta") in ("siteinfo", "allmessages") or params.get("action") == "parse":
            self.facts_reads += 1
            answer = api_answer(self.settings.language, params)
            if params.get("action") == "parse" and self.sample:
                return {"curtimestamp": self.sample[1], "parse": {"text": self.sample[0]}}
            if params.get("meta") == "siteinfo" and self.lang:
                general = {**answer["query"]["general"], "lang": self.lang}
                return {"query": {**answer["query"], "general": general}}
            return answer
        return super().api(write=write, **params)


def test_a_derived_format_is_remembered_and_used_on_an_ambiguous_day():
    store = MemoryStore()
    # 6 December: derived and remembered.
    assert wiki_facts(SampledWiki(), {}, store).format_source == SAMPLE
    assert store.get(NS_FACTS, "cs")["signature_format"] == DERIVED["cs"]
    # 12 December, a new process, a language Babel does not know: the remembered format.
    wiki = SampledWiki(sample=AMBIGUOUS[0][1:], lang="qqx-nowhere")
    got = wiki_facts(wiki, {}, store)
    assert (got.signature_format, got.format_source) == (DERIVED["cs"], REMEMBERED)
    # With nothing remembered and a language Babel does not know, nothing tells: a TargetError.
    with pytest.raises(TargetError, match="wiki cs: .*cannot tell the day from the month"):
        wiki_facts(SampledWiki(sample=AMBIGUOUS[0][1:], lang="qqx-nowhere"), {}, MemoryStore())


def test_a_guess_from_the_language_is_not_remembered_and_is_asked_again_later(monkeypatch):
    import bot.adapters.wiki_facts as adapter

    store, memo, now = MemoryStore(), {}, [1_000_000.0]
    monkeypatch.setattr(adapter.time, "time", lambda: now[0])
    wiki = SampledWiki(sample=AMBIGUOUS[0][1:])
    assert wiki_facts(wiki, memo, store).format_source == LANGUAGE
    assert store.items(NS_FACTS) == {} and wiki.facts_reads == 3
    wiki_facts(wiki, memo, store)
    assert wiki.facts_reads == 3
    now[0] += adapter.GUESS_SECONDS + 1
    wiki_facts(wiki, memo, store)
    assert wiki.facts_reads == 6


# -- the feedback job: one problem for that wiki, the others go on -------------------------------

PAGES = {"cs": "Wikipedie:Growth/Zpětná vazba", "ko": "위키백과:성장/피드백"}
SIGNATURES = {code: recorded(code)["signature"]["parse"]["text"] for code in PAGES}


def test_the_feedback_job_reports_the_wiki_it_cannot_read_and_goes_on_with_the_others():
    wikis = {"cs": SampledWiki(sample=AMBIGUOUS[0][1:], lang="qqx-nowhere",
                               pages={PAGES["cs"]: "Úvod.\n\n== Nápady ==\n"}),
             "ko": SampledWiki(FakeWikiSettings("ko", "ko"), pages={PAGES["ko"]: "소개.\n\n== 의견 ==\n"})}
    conf = FeedbackSettings(pages=tuple(FeedbackPage(code, title, 7) for code, title in PAGES.items()))
    settings = SimpleNamespace(**{**dict.fromkeys(SECTIONS), "feedback": conf,
                                  "phabricator": SimpleNamespace(language="en")})
    ctx = JobContext(settings=settings, store=MemoryStore(), phab=FakePhab([task(7)]), wikis=wikis,
                     out=io.StringIO(), clock=lambda: _utc("2026-12-12T10:30:00Z").timestamp())
    assert feedback.run(ctx).problems == []        # the baseline: no facts needed yet
    for code, title in PAGES.items():
        wikis[code].edit(title, wikis[code].text(title) + f"Filtr, prosím. {SIGNATURES[code]}\n", user="OtherUser")
    problems = feedback.run(ctx).problems
    assert len(problems) == 1 and problems[0].wiki == "cs", problems
    assert "cannot tell the day from the month" in problems[0] and "signature_format" in problems[0]
    # The page's problem names its wiki once, with the page as its target.
    assert problems[0].count("wiki cs") == 1 and (problems[0].target, problems[0].kind) == (PAGES["cs"], "page")
    [(task_id, digest)] = ctx.phab.comments
    assert task_id == 7 and "OtherUser" in digest and "Filtr, prosím." in digest
    # The cs comment is not lost: the wiki's cursor did not pass it.
    wikis["cs"].sample = None
    assert feedback.run(ctx).problems == []
    assert len(ctx.phab.comments) == 2


# -- the scheduler: facts once per process and wiki, not once per run -----------------------------

def test_scheduled_runs_read_each_wikis_facts_once_per_process(tmp_path):
    from bot.scheduler import Service
    from bot.settings import parse_settings
    from bot.store import SqlStore

    data = {"bot": {"user_agent": "test/1 (test@example.org)", "state_url": f"sqlite:///{tmp_path}/state.sqlite"},
            "phabricator": {"url": "http://127.0.0.1:1/"},
            "wikis": {code: {"api_url": f"https://{code}.wikipedia.example/w/api.php", "language": code,
                             "timezone": "Europe/Prague", "username": "TestBot"} for code in PAGES},
            "feedback": {"pages": [{"wiki": code, "title": title, "task": 7} for code, title in PAGES.items()]},
            "schedule": {"jobs": {"feedback": {}}, "stop_timeout_seconds": 2, "lease_seconds": 5}}
    settings = parse_settings(data, tmp_path / "bot.yaml")
    wikis = {"cs": SampledWiki(pages={PAGES["cs"]: "Úvod.\n\n== Nápady ==\n"}),
             "ko": SampledWiki(FakeWikiSettings("ko", "ko"), pages={PAGES["ko"]: "소개.\n\n== 의견 ==\n"})}
    phab = FakePhab([task(7)])

    def process():
        ctx = JobContext(settings=settings, store=SqlStore(settings.state_url), phab=phab, wikis=wikis,
                         out=io.StringIO())
        service = Service(settings, ctx=ctx)
        assert service.lease.acquire()
        return service

    def runs(service, count):
        for n in range(count):
            for code, title in PAGES.items():
                wikis[code].edit(title, wikis[code].text(title) + f"Nápad {n}. {SIGNATURES[code]}\n")
            assert service.run_entry("feedback").result == "ok"

    first = process()
    first.run_entry("feedback")         # the baseline
    runs(first, 4)
    assert {code: w.facts_reads for code, w in wikis.items()} == {"cs": 3, "ko": 3}
    # One digest a run, with that run's comment from each wiki: the facts were there each time.
    assert [text.split("\n")[0] for _, text in phab.comments] == ["Feedback from the wikis: 2 comments."] * 4
    first.lease.release()
    runs(process(), 2)                  # a restart reads them again, once
    assert {code: w.facts_reads for code, w in wikis.items()} == {"cs": 6, "ko": 6}
