"""A block is remembered between runs: asked about once a run, never written through."""
from __future__ import annotations

import io

from bot.errors import TransientError
from bot.jobs import status_sync
from bot.jobs.base import JobContext
from bot.jobs.writer import NS_BLOCKS, run_guarded
from bot.store import MemoryStore
from tests.fakes import FakePhab, FakeWiki, task
from tests.unit.test_status_sync_job import BEGIN, END, PAGE, settings


def make_world():
    phab = FakePhab([task(1, "První úkol")])
    wiki = FakeWiki(pages={PAGE: f"Úvod.\n{BEGIN}\n{END}\nPatička."})
    ctx = JobContext(settings=settings(), store=MemoryStore(), phab=phab, wikis={"cs": wiki}, out=io.StringIO())
    return ctx, phab, wiki


def test_unblocked_wiki_costs_no_check():
    ctx, _, wiki = make_world()
    report = run_guarded(status_sync.run, ctx)
    assert report.problems == [] and len(report.saved) == 1
    assert wiki.block_checks == 0 and ctx.store.items(NS_BLOCKS) == {}


def test_block_is_remembered_checked_each_run_and_forgotten_when_lifted():
    ctx, phab, wiki = make_world()
    wiki.block = "blocked by Admin: test"
    report = run_guarded(status_sync.run, ctx)
    assert report.saved == [] and any("blocked" in p for p in report.problems)
    assert wiki.refused_for_block == 1
    assert "cs" in ctx.store.items(NS_BLOCKS)

    # a new process: the client knows nothing, the store remembers
    fresh = FakeWiki(pages={PAGE: wiki.text(PAGE)})
    fresh.block = wiki.block
    ctx.wikis["cs"] = fresh
    phab.tasks[1] = task(1, "Přejmenovaný úkol", modified=1_795_000_100)
    report = run_guarded(status_sync.run, ctx)
    assert fresh.block_checks == 1 and fresh.refused_for_block == 0
    assert report.problems[0].endswith("no edits on cs until the block ends")
    assert "Přejmenovaný" not in fresh.text(PAGE)

    fresh.block = None     # an admin lifts the block
    report = run_guarded(status_sync.run, ctx)
    assert report.problems == [] and len(report.saved) == 1
    assert "Přejmenovaný úkol" in fresh.text(PAGE)
    assert ctx.store.items(NS_BLOCKS) == {}
    run_guarded(status_sync.run, ctx)
    assert fresh.block_checks == 2                       # no more checks once it is lifted


def test_a_failed_check_keeps_the_wiki_blocked():
    ctx, phab, wiki = make_world()
    ctx.store.put(NS_BLOCKS, "cs", {"reason": "wiki cs: blocked by Admin", "since": 1.0})

    def unreachable():
        raise TransientError("wiki cs: cannot reach the server")
    wiki.block_reason = unreachable
    wiki.block = "still blocked"
    report = run_guarded(status_sync.run, ctx)
    assert wiki.refused_for_block == 0 and wiki.saves == [] and "cannot check whether the bot is still blocked" in report.problems[0]
    assert "cs" in ctx.store.items(NS_BLOCKS)


# -- the writer owns the memory: it refuses unsent, and remembers a block the moment it meets one ----

def test_the_writer_remembers_a_block_at_once_and_sends_nothing_more_to_that_wiki():
    import pytest

    from bot.errors import Blocked
    from bot.jobs.base import JobReport
    from bot.jobs.writer import Writer

    ctx, _, wiki = make_world()
    wiki.edit("Jiná", "text")
    wiki.block = "blocked by Admin: test"
    writer = Writer(ctx, JobReport("x"))
    pages = wiki.read_pages([PAGE, "Jiná"])
    with pytest.raises(Blocked):
        writer.edit("cs", pages[PAGE], "nový text", "s")
    assert ctx.store.get(NS_BLOCKS, "cs")["reason"] == wiki.blocked      # kept before the run ends
    assert writer.blocked("cs") == wiki.blocked

    reached = []           # the writer refuses before it issues: the adapter is not even called
    wiki.new_section = lambda *args, **kwargs: reached.append(args)
    with pytest.raises(Blocked) as refused:
        Writer(ctx, JobReport("x")).new_section("cs", "Jiná", "H", "text", "s")
    assert str(refused.value) == f"{wiki.blocked}; nothing sent"
    assert reached == [] and wiki.refused_for_block == 1


def test_a_partial_block_refuses_that_page_only_and_is_not_remembered():
    import pytest

    from bot.adapters.writes import write_method
    from bot.errors import TargetError
    from bot.jobs.base import JobReport
    from bot.jobs.writer import Writer

    class PartlyBlockedWiki(FakeWiki):
        @write_method
        def save(self, page, text, summary, minor=False, merge_ok=True):
            if page.title == "Zakázaná":
                raise TargetError("wiki cs page 'Zakázaná': blocked (a partial block: this page only)",
                                  "partialblock")
            return super().save(page, text, summary, minor=minor, merge_ok=merge_ok)

    ctx, _, _ = make_world()
    wiki = PartlyBlockedWiki(pages={"Zakázaná": "a", "Povolená": "b"})
    ctx.wikis["cs"] = wiki
    writer = Writer(ctx, JobReport("x"))
    pages = wiki.read_pages(["Zakázaná", "Povolená"])
    with pytest.raises(TargetError):
        writer.edit("cs", pages["Zakázaná"], "x", "s")
    assert writer.edit("cs", pages["Povolená"], "y", "s").saved
    assert writer.blocked("cs") is None and ctx.store.items(NS_BLOCKS) == {}
