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


FULL_DISK_SCRIPT = r"""
import resource, signal, sys
from bot.store import SqlStore, StoreError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)      # a write past the limit fails with EFBIG instead
store = SqlStore("sqlite:///" + sys.argv[1])
store.put("ns", "small", 1)
size = __import__("os").path.getsize(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 8192, size + 8192))   # the disk is now full
try:
    store.put("ns", "big", "x" * 1_000_000)
except StoreError as exc:
    print("STORE-ERROR", exc)
try:
    store.record_post("post-1", "edit", "cs:Stránka", 1)
except StoreError as exc:
    print("RECORD-ERROR", exc)
print("SMALL", store.get("ns", "small"))
"""


def test_full_disk_is_a_clear_store_error(tmp_path):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-c", FULL_DISK_SCRIPT, str(tmp_path / "state.sqlite")],
                          capture_output=True, text=True, timeout=60)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("STORE-ERROR")), "")
    # SQLite says "database or disk is full" (ENOSPC) or "disk I/O error" (EFBIG from the size limit)
    assert "cannot write:" in line and "disk" in line.split("cannot write:")[1], proc.stdout + proc.stderr
    assert "SMALL 1" in proc.stdout      # what was stored before stays readable
    assert "Traceback" not in proc.stderr
