"""The leader lease on real databases: two real processes, one holder, takeover after a crash.

PostgreSQL and MariaDB come from `AMBASSADOR_TEST_POSTGRES_URL` / `AMBASSADOR_TEST_MARIADB_URL`
(`.ci/run` sets them); in CI a missing one is a failure, not a skip.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from bot.store.lease import Lease

SERVER_URLS = {"postgresql": "AMBASSADOR_TEST_POSTGRES_URL", "mariadb": "AMBASSADOR_TEST_MARIADB_URL"}
ROOT = Path(__file__).parents[2]
SECONDS = 1.5

WORKER = """
import sys, time
from bot.store.lease import Lease
url, name, holder, out = sys.argv[1:5]
lease = Lease(url, name, seconds=float(sys.argv[5]), holder=holder)
with open(out, "a", buffering=1) as f:
    f.write("START %.3f\\n" % time.time())
    end = time.time() + 30
    while time.time() < end:
        won = lease.acquire()
        f.write("%s %.3f\\n" % ("HELD" if won else "WAIT", time.time()))
        time.sleep(lease.renew_interval)
"""


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/state.sqlite"
    url = os.environ.get(SERVER_URLS[request.param])
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SERVER_URLS[request.param]} is not set; CI must test the lease on {request.param}")
        pytest.skip(f"set {SERVER_URLS[request.param]} to test the lease on {request.param}")
    return url


def _lines(path: Path) -> list[tuple[str, float]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        kind, _, stamp = line.partition(" ")
        if stamp:
            out.append((kind, float(stamp)))
    return out


def _wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_two_processes_one_holder_and_takeover_after_a_crash(db_url, tmp_path):
    name = "test-" + uuid.uuid4().hex[:10]
    files = {who: tmp_path / f"{who}.log" for who in ("a", "b")}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = {}
    try:
        for who in ("a", "b"):
            procs[who] = subprocess.Popen([sys.executable, "-c", WORKER, db_url, name, f"proc-{who}",
                                           str(files[who]), str(SECONDS)], cwd=ROOT, env=env)
        first = _wait_for(lambda: next((w for w in files if any(k == "HELD" for k, _ in _lines(files[w]))), None), 20)
        other = "b" if first == "a" else "a"
        _wait_for(lambda: any(k == "WAIT" for k, _ in _lines(files[other])), 20)
        time.sleep(SECONDS * 1.5)   # both alive for longer than a lease: the other must keep waiting
        assert not any(k == "HELD" for k, _ in _lines(files[other])), "both processes held the lease"

        procs[first].send_signal(signal.SIGKILL)
        procs[first].wait(5)
        killed_at = time.time()
        last_renewal = max(t for k, t in _lines(files[first]) if k == "HELD")
        taken = _wait_for(lambda: next((t for k, t in _lines(files[other]) if k == "HELD"), None), 4 * SECONDS)
        # not before the dead holder's lease ran out, and within the lease time plus one poll
        assert taken >= last_renewal + SECONDS * 0.9
        assert taken - killed_at <= SECONDS + SECONDS / 5 + 0.5
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(5)


def test_simultaneous_takeover_has_one_winner(db_url):
    name = "test-" + uuid.uuid4().hex[:10]
    leases = [Lease(db_url, name, seconds=30, holder=f"t{i}") for i in range(6)]
    barrier = threading.Barrier(len(leases))
    results = {}

    def attempt(lease):
        barrier.wait()
        results[lease.holder] = lease.acquire()

    threads = [threading.Thread(target=attempt, args=(lease,)) for lease in leases]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    winners = [h for h, won in results.items() if won]
    assert len(results) == 6 and len(winners) == 1
    holder, remaining = leases[0].current()
    assert holder == winners[0] and 25 < remaining <= 30
    winner = next(lease for lease in leases if lease.holder == holder)
    assert winner.acquire() and winner.held()                      # renewing is fine
    loser = next(lease for lease in leases if lease.holder != holder)
    assert not loser.acquire() and not loser.held()
    winner.release()                                                # clean stop: no need to wait for expiry
    assert loser.acquire()
    for lease in leases:
        lease.close()
