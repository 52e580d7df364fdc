"""Operator and newcomer friction (issue 12): the dry-run diff's last line, the demo's ports,
and what `check-config --online` looks for."""
from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest
import yaml

from bot.jobs.base import JobContext, JobReport, preview_edit, unified_diff
from bot.jobs.registry import _ReadOnly, named_pages, named_tasks
from bot.settings import parse_settings
from bot.store import MemoryStore
from sandbox import demo
from tests.fakes import FakePhab, FakeWiki


@pytest.mark.parametrize("old, new", [("a\nb", "a\nc"), ("a\nb\n", "a\nc"), ("", "x"), ("x", "")])
def test_a_dry_run_diff_ends_with_a_newline_so_the_next_line_stands_alone(old, new):
    diff = unified_diff(old, new, "cs:P")
    assert diff.endswith("\n")
    assert "\\ No newline at end of file\n" in diff
    assert not any(line.startswith("-") and "+" in line[1:] for line in diff.splitlines())   # nothing glued
    ctx = JobContext(settings=None, store=MemoryStore(), phab=None, wikis={}, out=io.StringIO())
    preview_edit(ctx, JobReport("j"), "cs", "P", old, new)
    ctx.out.write("next log line\n")
    assert "\nnext log line\n" in ctx.out.getvalue()


def test_demo_keeps_the_usual_ports_when_they_are_free():
    assert demo.choose_ports({}, is_free=lambda port: True) == {"conduit": 8470, "cs": 8471, "ko": 8472}


def test_demo_takes_free_ports_when_the_usual_ones_are_taken():
    taken = []
    for port in (8470, 8471, 8472):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
            taken.append(s)
        except OSError:
            s.close()        # already taken by something else: as good for this test
    try:
        ports = demo.choose_ports({})
    finally:
        for s in taken:
            s.close()
    assert len(set(ports.values())) == 3 and not {8470, 8471, 8472} & set(ports.values())


def test_demo_ports_from_the_environment_and_the_config_that_follows(tmp_path):
    env = {"AMBASSADOR_DEMO_CONDUIT_PORT": "18470", "AMBASSADOR_DEMO_CS_PORT": "18471",
           "AMBASSADOR_DEMO_KO_PORT": "18472"}
    ports = demo.choose_ports(env, is_free=lambda port: False)
    assert ports == {"conduit": 18470, "cs": 18471, "ko": 18472}
    data = yaml.safe_load(demo.demo_config(ports, tmp_path / "var" / "demo-config.yaml").read_text())
    assert data["phabricator"]["url"] == "http://127.0.0.1:18470/"
    assert data["wikis"]["ko"]["api_url"] == "http://127.0.0.1:18472/api.php"
    with pytest.raises(SystemExit, match="AMBASSADOR_DEMO_CS_PORT"):
        demo.choose_ports({"AMBASSADOR_DEMO_CS_PORT": "http"})


def test_online_check_names_every_page_and_task_that_must_exist():
    settings = parse_settings(yaml.safe_load(Path("config/demo.yaml").read_text(encoding="utf-8")) | {
        "feedback": {"pages": [{"wiki": "cs", "title": "Wikipedie:Growth/Zpětná vazba", "task": 12}]},
        "reports": {"ambassadors": [{"id": "jana", "wikis": {"cs": "Jana"}, "task": 34,
                                     "plans": {"wiki": "cs", "title": "Wikipedista:Jana/Plány"}}]},
    }, Path("config/demo.yaml"))
    pages = named_pages(settings)
    assert pages["cs"] == {
        "Wikipedista:TestBot/Run": "wikis.cs.run_page",
        "Wikipedie:Growth/Stav": "status_tables[growth-current].pages.cs",
        "Wikipedie:Growth/Zpětná vazba": "feedback.pages[0]",
        "Wikipedie:Growth/Zpravodaj/Odběratelé": "newsletters.wikis.cs.subscribers",
        "Wikipedie:Growth/Zpravodaj/Archiv": "newsletters.wikis.cs.archive_page",
        "Wikipedista:Jana/Plány": "reports.ambassadors[jana].plans",
    }   # not the drafts and editions ({edition}) nor the pages the bot creates
    assert named_tasks(settings) == {12: "feedback.pages[0].task", 34: "reports.ambassadors[jana].task"}


def test_the_online_check_cannot_write():
    wiki = _ReadOnly(FakeWiki(pages={"P": "x"}))
    page = wiki.read_pages(["P"])["P"]          # reads pass
    with pytest.raises(RuntimeError, match="must not write"):
        wiki.save(page, "y", "s")
    phab = _ReadOnly(FakePhab())
    assert phab.project_phids(["growth-team"])   # reads pass
