"""The one writer (issue 12): no write reaches an adapter unless the writer issued it."""
from __future__ import annotations

import inspect
import io
import threading

import pytest

from bot.adapters.phab import ConduitClient
from bot.adapters.wiki import WikiClient
from bot.adapters.writes import ALWAYS, UnissuedWrite, issuing, write_method, write_methods
from bot.jobs.base import JobContext, JobReport
from bot.jobs.writer import INTERVAL, NOBOTS, SAVED, STOPPED, UNCHANGED, WOULD_SAVE, Writer
from bot.settings import parse_settings
from bot.store import MemoryStore
from tests.fakes import FakeWiki


def _call(obj, name: str, kind: str):
    """Call a marked method with placeholder arguments (and its write flag set when it has one)."""
    method = getattr(obj, name)
    params = list(inspect.signature(getattr(type(obj), name)).parameters.values())[1:]
    args = [None for p in params if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            and p.name != kind]
    kwargs = {} if kind == ALWAYS else {kind: True}
    return method(*args, **kwargs)


@pytest.mark.parametrize("cls", [WikiClient, ConduitClient, FakeWiki])
def test_every_marked_method_refuses_a_write_the_writer_did_not_issue(cls):
    marked = write_methods(cls)
    # what we know is there, so the loop below is not vacuous
    expected = {WikiClient: {"save", "new_section", "discussiontools_add_comment", "api", "_write"},
                ConduitClient: {"comment", "call"}, FakeWiki: {"save"}}[cls]
    assert expected <= set(marked)
    # An instance with no state at all: a method that passes the check fails inside its body
    # (AttributeError and the like), long before any request could be made.
    bare = object.__new__(cls)
    for name, kind in marked.items():
        with pytest.raises(UnissuedWrite):
            _call(bare, name, kind)
        with issuing():
            try:
                _call(bare, name, kind)
            except UnissuedWrite:   # pragma: no cover - the failure this test is for
                pytest.fail(f"{cls.__name__}.{name}: refused although the writer issued it")
            except Exception:       # noqa: BLE001 - the body ran on an empty instance: the licence let it through
                pass


def test_a_read_through_a_write_choke_point_needs_no_licence():
    class Client:
        @write_method(when="write")
        def call(self, method, params=None, *, write=False):
            return method

    assert Client().call("maniphest.search") == "maniphest.search"
    assert Client().call("maniphest.search", {}, write=False) == "maniphest.search"
    with pytest.raises(UnissuedWrite):
        Client().call("maniphest.edit", {}, write=True)


def test_the_licence_is_not_shared_with_another_thread():
    wiki = FakeWiki(pages={"P": "a"})
    page = wiki.read_pages(["P"])["P"]
    seen = []
    with issuing():
        worker = threading.Thread(target=lambda: seen.append(_raises(lambda: wiki.save(page, "b", "s"))))
        worker.start()
        worker.join()
    assert seen == [UnissuedWrite] and wiki.text("P") == "a"


def _raises(f):
    try:
        f()
    except Exception as exc:  # noqa: BLE001
        return type(exc)
    return None


# -- the writer's decisions ------------------------------------------------------------------------

def _ctx(tmp_path, wiki, *, dry_run=False, run_page=None, interval=0, clock=lambda: 1000.0):
    cs = {"api_url": "http://127.0.0.1:2/api.php", "language": "cs", "timezone": "Europe/Prague",
          "username": "TestBot", "min_edit_interval_minutes": interval}
    if run_page:
        cs.update(run_page=run_page, run_value="run")
    settings = parse_settings({
        "bot": {"user_agent": "t/1 (t@example.org)", "state_url": "memory://"},
        "phabricator": {"url": "http://127.0.0.1:1/"},
        "wikis": {"cs": cs},
    }, tmp_path / "bot.yaml")
    return JobContext(settings=settings, store=MemoryStore(), phab=None, wikis={"cs": wiki}, dry_run=dry_run,
                      out=io.StringIO(), clock=clock)


def test_edit_saves_records_its_key_and_says_so(tmp_path):
    wiki = FakeWiki(pages={"P": "a"})
    ctx = _ctx(tmp_path, wiki)
    report = JobReport("t")
    outcome = Writer(ctx, report).edit("cs", wiki.read_pages(["P"])["P"], "b", "s", key="k1")
    assert outcome.status == SAVED and wiki.text("P") == "b"
    assert ctx.store.get_post("k1").revision == str(outcome.revid)
    again = Writer(ctx, report).edit("cs", wiki.read_pages(["P"])["P"], "b", "s", key="k2")
    assert again.status == UNCHANGED and ctx.store.get_post("k2") is None and wiki.saves == ["P"]


def test_nobots_and_the_emergency_stop_refuse_before_anything_is_sent(tmp_path):
    wiki = FakeWiki(pages={"P": "{{nobots}}\na", "Q": "a", "Bot/Run": "stop"})
    ctx = _ctx(tmp_path, wiki)
    writer = Writer(ctx, JobReport("t"))
    assert writer.edit("cs", wiki.read_pages(["P"])["P"], "b", "s").reason == NOBOTS
    ctx = _ctx(tmp_path, wiki, run_page="Bot/Run")
    writer = Writer(ctx, JobReport("t"))
    reads = len(wiki.reads)
    outcome = writer.edit("cs", wiki.read_pages(["Q"])["Q"], "b", "s", key="k")
    # told nothing by the job, the writer read the run page itself: once per wiki and run
    assert outcome.reason == STOPPED and "emergency stop" in outcome.detail
    assert writer.edit("cs", wiki.read_pages(["Q"])["Q"], "c", "s").reason == STOPPED
    assert [r for r in wiki.reads[reads:] if "Bot/Run" in r] == [["Bot/Run"]]
    assert wiki.saves == [] and ctx.store.get_post("k") is None
    # a job that read the run page in its own batch tells the writer: no further read
    wiki.edit("Bot/Run", "run")
    writer = Writer(ctx, JobReport("t"))
    states = wiki.read_pages(["Q"] + writer.run_page_titles("cs"))
    assert writer.note_run_page("cs", states) is None
    reads = len(wiki.reads)
    assert writer.edit("cs", states["Q"], "b", "s").status == SAVED and len(wiki.reads) == reads


def test_minimum_interval_holds_a_second_edit_of_the_same_page(tmp_path):
    now = [1000.0]
    wiki = FakeWiki(pages={"P": "a"})
    ctx = _ctx(tmp_path, wiki, interval=10, clock=lambda: now[0])
    writer = Writer(ctx, JobReport("t"))
    pace = ("ns", "cs:P|edited")
    assert writer.edit("cs", wiki.read_pages(["P"])["P"], "b", "s", paced_by=pace).status == SAVED
    now[0] += 60
    assert writer.edit("cs", wiki.read_pages(["P"])["P"], "c", "s", paced_by=pace).reason == INTERVAL
    assert writer.edit("cs", wiki.read_pages(["P"])["P"], "c", "s").status == SAVED   # a job without the policy
    now[0] += 600
    assert writer.edit("cs", wiki.read_pages(["P"])["P"], "d", "s", paced_by=pace).status == SAVED


def test_dry_run_shows_the_diff_and_sends_and_records_nothing(tmp_path):
    class Phab:
        comments = []

        @write_method
        def comment(self, task_id, text):
            self.comments.append(text)
            return ["PHID-XACT-1"]

    wiki = FakeWiki(pages={"P": "a\n"})
    ctx = _ctx(tmp_path, wiki, dry_run=True)
    ctx.phab = Phab()
    report = JobReport("t")
    writer = Writer(ctx, report)
    assert writer.edit("cs", wiki.read_pages(["P"])["P"], "b\n", "s", key="k").status == WOULD_SAVE
    assert writer.task_comment(5, "hello", key="c").status == WOULD_SAVE
    assert "-a\n+b\n" in ctx.out.getvalue() and "would comment on T5" in ctx.out.getvalue()
    assert report.would_save == [("cs", "P"), ("phabricator", "T5")]
    assert wiki.saves == [] and Phab.comments == [] and ctx.store.get_post("k") is None
    live = _ctx(tmp_path, wiki)
    live.phab = Phab()
    outcome = Writer(live, JobReport("t")).task_comment(5, "hello", key=["c1", "c2"])
    assert outcome.saved and Phab.comments == ["hello"]
    assert live.store.get_post("c1").revision == "PHID-XACT-1" and live.store.get_post("c2") is not None

