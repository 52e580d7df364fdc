"""The adapters, their Protocols and the fakes in tests/fakes.py must not drift apart.

Jobs are typed against `ConduitPort` and `WikiPort` (bot/adapters/ports.py) and tested
against the fakes; a parameter added to a real adapter only would leave the job tests
green while the job breaks on the real server. So, for every Protocol method:

* the real adapter's signature is the Protocol's (names, kinds, defaults, annotations);
* the shared fake, and every test's subclass of it, accepts every call the real one does;
* the fake's write methods carry the same `@write_method` mark as the adapter's, so the
  scheduler's write guard treats them alike.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import tests.unit
from bot.adapters.phab import ConduitClient
from bot.adapters.ports import ConduitPort, WikiPort, protocol_members
from bot.adapters.wiki import WikiClient
from bot.adapters.writes import write_kind
from tests.fakes import FakePhab, FakeWiki, FakeWikiSettings

PORTS = [(ConduitPort, ConduitClient, FakePhab), (WikiPort, WikiClient, FakeWiki)]
METHODS = [pytest.param(port, real, fake, name, id=f"{port.__name__}.{name}")
           for port, real, fake in PORTS for name in protocol_members(port)]
P = inspect.Parameter
POSITIONAL = (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)


def shape(func) -> tuple:
    sig = inspect.signature(func)
    return ([(p.name, p.kind, p.default, p.annotation) for p in sig.parameters.values()], sig.return_annotation)


def incompatibilities(real, other) -> list[str]:
    """Why a call that `real` accepts could fail on `other`; empty when there is no such call."""
    mine = [p for p in inspect.signature(real).parameters.values() if p.name != "self"]
    theirs = [p for p in inspect.signature(other).parameters.values() if p.name != "self"]
    by_name = {p.name: p for p in theirs}
    var_args = any(p.kind is P.VAR_POSITIONAL for p in theirs)
    var_kw = any(p.kind is P.VAR_KEYWORD for p in theirs)
    their_positional = [p for p in theirs if p.kind in POSITIONAL]
    problems, matched = [], set()
    for i, p in enumerate(q for q in mine if q.kind in POSITIONAL):
        if i >= len(their_positional):
            if not var_args:
                problems.append(f"{p.name}: no positional parameter at place {i + 1}")
            continue
        q = their_positional[i]
        matched.add(q.name)
        if q.name != p.name and p.kind is P.POSITIONAL_OR_KEYWORD:
            problems.append(f"place {i + 1} is {q.name!r}, the adapter's is {p.name!r}")
        if p.default is not P.empty and q.default != p.default:
            problems.append(f"{p.name}: default {q.default!r}, the adapter's is {p.default!r}")
    for p in mine:
        if p.kind is P.KEYWORD_ONLY:
            q = by_name.get(p.name)
            if q is None or q.kind not in (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY):
                if not var_kw:
                    problems.append(f"{p.name}: keyword not accepted")
                continue
            matched.add(q.name)
            if q.default != p.default:
                problems.append(f"{p.name}: default {q.default!r}, the adapter's is {p.default!r}")
        elif p.kind is P.VAR_KEYWORD and not var_kw:
            problems.append(f"**{p.name}: arbitrary keywords not accepted")
        elif p.kind is P.VAR_POSITIONAL and not var_args:
            problems.append(f"*{p.name}: extra positional arguments not accepted")
    for q in theirs:
        if q.name not in matched and q.kind in (*POSITIONAL, P.KEYWORD_ONLY) and q.default is P.empty:
            problems.append(f"{q.name}: required here, unknown to the adapter")
    return problems


@pytest.mark.parametrize("port, real, fake, name", METHODS)
def test_the_adapter_has_the_protocols_signature(port, real, fake, name):
    assert shape(getattr(real, name)) == shape(getattr(port, name))


@pytest.mark.parametrize("port, real, fake, name", METHODS)
def test_the_fake_accepts_every_call_the_adapter_does(port, real, fake, name):
    assert name in dir(fake), f"{fake.__name__} has no {name}"
    assert incompatibilities(getattr(real, name), getattr(fake, name)) == []


@pytest.mark.parametrize("port, real, fake, name", METHODS)
def test_the_fake_marks_the_same_writes(port, real, fake, name):
    assert write_kind(fake, name) == write_kind(real, name)


def test_adapters_and_fakes_satisfy_the_protocols(tmp_path):
    # Neither constructor sends a request.
    assert isinstance(ConduitClient("http://127.0.0.1:1/", "api-token", "test/1"), ConduitPort)
    assert isinstance(WikiClient(FakeWikiSettings(), "test/1", tmp_path), WikiPort)
    assert isinstance(FakePhab(), ConduitPort)
    assert isinstance(FakeWiki(), WikiPort)


def _test_doubles() -> list:
    for module in pkgutil.iter_modules(tests.unit.__path__):
        importlib.import_module(f"tests.unit.{module.name}")
    found, todo = [], [FakePhab, FakeWiki]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            if "<locals>" not in sub.__qualname__:     # not the deliberately wrong ones below
                found.append(sub)
    return found


def test_every_tests_double_overrides_with_the_adapters_signature():
    doubles = _test_doubles()
    assert len(doubles) >= 8      # the scan finds the doubles the job tests define, so it is not vacuous
    wrong = {}
    for cls in doubles:
        port, real = (ConduitPort, ConduitClient) if issubclass(cls, FakePhab) else (WikiPort, WikiClient)
        for name in protocol_members(port):
            if name in vars(cls):
                problems = incompatibilities(getattr(real, name), getattr(cls, name))
                if problems:
                    wrong[f"{cls.__module__}.{cls.__qualname__}.{name}"] = problems
    assert wrong == {}


def test_a_parameter_added_to_the_adapter_only_is_caught():
    class Grown(ConduitClient):
        def search_tasks(self, *, projects=(), task_ids=(), statuses=(), subtypes=(), modified_start=None,
                         authors=(), closers=(), subscribers=(), created_start=None, created_end=None,
                         closed_start=None, closed_end=None, owners=()):
            raise AssertionError("never called")

    class Renamed(ConduitClient):
        def comment(self, task, text):
            raise AssertionError("never called")

    assert incompatibilities(Grown.search_tasks, FakePhab.search_tasks) == ["owners: keyword not accepted"]
    assert incompatibilities(Renamed.comment, FakePhab.comment) == ["place 1 is 'task_id', the adapter's is 'task'"]
    assert incompatibilities(WikiClient.api, FakeWiki.read_pages) != []

    class Defaulted(FakeWiki):
        def page_history(self, title, *, limit=10, content=False):
            raise AssertionError("never called")

    assert incompatibilities(WikiClient.page_history, Defaulted.page_history) == [
        "limit: default 10, the adapter's is 50"]
