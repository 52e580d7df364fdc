"""One contract for every state store: the in-memory twin, SQLite, PostgreSQL and MariaDB.

PostgreSQL and MariaDB are used when their URLs are in the environment
(`.ci/run` sets them); in CI a missing one is a failure, not a skip.
"""
from __future__ import annotations

import os
import uuid

import pytest

from bot.store import MemoryStore, SqlStore, StoreError

SERVER_URLS = {"postgresql": "AMBASSADOR_TEST_POSTGRES_URL", "mariadb": "AMBASSADOR_TEST_MARIADB_URL"}


def _server_store(kind):
    url = os.environ.get(SERVER_URLS[kind])
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SERVER_URLS[kind]} is not set; CI must test the {kind} store")
        pytest.skip(f"set {SERVER_URLS[kind]} to test the {kind} store")
    store = SqlStore(url)
    return store


@pytest.fixture(params=["memory", "sqlite", "postgresql", "mariadb"])
def store(request, tmp_path):
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "sqlite":
        s = SqlStore(f"sqlite:///{tmp_path}/state.sqlite")
    else:
        s = _server_store(request.param)
    yield s
    s.close()


def test_values_round_trip_json(store):
    ns = "t-" + uuid.uuid4().hex[:8]
    assert store.get(ns, "missing") is None
    assert store.get(ns, "missing", {"a": 1}) == {"a": 1}
    value = {"tasks": {"1": {"title": "Úkol ✓ 작업", "n": [1, 2.5, None, True]}}}
    store.put(ns, "k", value)
    assert store.get(ns, "k") == value
    store.put(ns, "k", [1])
    assert store.get(ns, "k") == [1]
    store.put(ns, "other", "x")
    assert store.items(ns) == {"k": [1], "other": "x"}
    store.delete(ns, "k")
    assert store.items(ns) == {"other": "x"}


def test_large_value(store):
    ns = "t-" + uuid.uuid4().hex[:8]
    big = {"text": "x" * 2_000_000}
    store.put(ns, "big", big)
    assert store.get(ns, "big") == big


def test_posts_are_recorded_once(store):
    key = "test:" + uuid.uuid4().hex
    assert not store.has_post(key)
    first = store.record_post(key, "edit", "cs:Stránka", 123)
    again = store.record_post(key, "edit", "cs:Stránka", 999)
    assert store.has_post(key)
    assert first.revision == again.revision == "123"
    assert [p.key for p in store.posts("edit") if p.key == key] == [key]


def test_sqlite_that_cannot_be_opened_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot open"):
        SqlStore(f"sqlite:///{blocker}/state.sqlite")


def test_locked_sqlite_is_a_clear_error(tmp_path):
    import sqlite3
    path = tmp_path / "state.sqlite"
    store = SqlStore(f"sqlite:///{path}")
    store.engine.dispose()
    store = SqlStore(f"sqlite:///{path}")
    # a second connection holding an exclusive lock, like another process mid-write
    other = sqlite3.connect(path, timeout=0)
    other.execute("BEGIN EXCLUSIVE")
    store.engine.dispose()
    store.engine = __import__("sqlalchemy").create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.2})
    with pytest.raises(StoreError, match="state store .*cannot write.*locked"):
        store.put("ns", "k", 1)
    other.rollback()
    other.close()
