"""`ambassador run` end to end: real processes against the local wikis and the Conduit sandbox.

Each test starts the bot as the platform would (`python -m bot -v --config F run`), with a
known Conduit token, wiki passwords and webhook key in its environment, and greps every
line it logged for them at the end. Debug logging (-v) is on so that the libraries' own
request logs are checked too.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bot.webhook import sign
from tests.integration.helpers import STATUS_PAGES, config_data, page_with_markers, set_secrets

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
CS, KO = STATUS_PAGES["cs"], STATUS_PAGES["ko"]
RUN_PAGE = "Wikipedista:TestBot/Run"
REPORT = {"cs": "Wikipedista:TestBot/Běh", "ko": "사용자:TestBot/실행"}
HOOK_KEY = "e2e-webhook-key-5f1c9a7d"
HEALTH_TOKEN = "e2e-health-token-9b2e4c"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BotProcess:
    def __init__(self, config: Path, log: Path):
        self.config, self.log = config, log
        self.proc = None

    def start(self):
        self.handle = open(self.log, "a", encoding="utf-8")
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "-v", "--config", str(self.config), "run"],
                                     cwd=ROOT, stdout=self.handle, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONPATH": str(ROOT)})
        return self

    def stop(self, sig=signal.SIGTERM, timeout=20) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.handle.close()

    def lines(self) -> list[str]:
        return self.log.read_text(encoding="utf-8").splitlines() if self.log.exists() else []


@pytest.fixture
def world(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch):
    project = conduit.create_project("Growth-Team", "growth-team")
    tid = conduit.create_task("Zlepšit nápovědu", projects=[project], priority="high", owner="alice")
    human = {c: wikis.api(c, wikis.wikis[c].human) for c in ("cs", "ko")}
    human["cs"].edit(CS, page_with_markers(), "tabulka")
    human["ko"].edit(KO, page_with_markers("소개.", "꼬리말."), "표")
    human["cs"].edit(RUN_PAGE, "run", "běh povolen")
    set_secrets(monkeypatch, wikis, conduit)
    monkeypatch.setenv("AMBASSADOR_WEBHOOK_KEY", HOOK_KEY)
    monkeypatch.setenv("AMBASSADOR_HEALTH_TOKEN", HEALTH_TOKEN)
    port = free_port()
    processes: list[BotProcess] = []

    def write_config(jobs, **extra):
        data = config_data(wikis, conduit, tmp_path, pywikibot_dir)
        data["wikis"]["cs"]["run_page"] = RUN_PAGE
        data["schedule"] = {"jobs": jobs, "lease_seconds": 6, "stop_timeout_seconds": 15, **extra}
        data["webhook"] = {"host": "127.0.0.1", "port": port, "jobs": ["status-sync"],
                           "health_token_env": "AMBASSADOR_HEALTH_TOKEN"}
        data["status_page"] = {"pages": REPORT}
        path = tmp_path / "bot.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return path

    def start(path):
        proc = BotProcess(path, tmp_path / f"bot-{len(processes)}.log").start()
        processes.append(proc)
        return proc

    w = type("World", (), {})()
    w.conduit, w.human, w.tid, w.port, w.tmp = conduit, human, tid, port, tmp_path
    w.write_config, w.start, w.processes = write_config, start, processes
    w.secrets = [conduit.bot_token, HOOK_KEY, HEALTH_TOKEN] + [wikis.wikis[c].bot.password for c in ("cs", "ko")]
    yield w
    for p in processes:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait(10)
    # Secrets never reach a log: every line of every process, errors and tracebacks included.
    for p in processes:
        text = p.log.read_text(encoding="utf-8")
        assert text, "the bot logged nothing"
        for secret in w.secrets:
            assert secret not in text, f"a secret appears in {p.log.name}"


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def runs(proc: BotProcess, wiki: str) -> int:
    return sum(1 for line in proc.lines() if "msg=\"run finished" in line and f"job=status-sync wiki={wiki} " in line)


def bot_revisions(client, title):
    return [r for r in client.revisions(title) if r["user"] == "TestBot"]


def post(port, body: bytes, signature: str | None, path="/webhook"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Phabricator-Webhook-Signature"] = signature
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    status, data = response.status, json.loads(response.read() or b"{}")
    conn.close()
    return status, data


def delivery(conduit, tid, after_xact_id=0) -> tuple[bytes, int]:
    """A webhook body as Phabricator builds it: the task PHID and the PHIDs of its new transactions."""
    if hasattr(conduit, "tasks"):          # the Conduit imitation: read its records
        with conduit._lock:
            task_phid = conduit.tasks[tid].phid
            xacts = [x.phid for x in conduit.xacts if x.object_phid == task_phid and x.id > after_xact_id]
            last = max((x.id for x in conduit.xacts), default=0)
    else:                                  # the real Phorge: ask it, as Phabricator's webhook worker knows
        task_phid = conduit.call("maniphest.search", {"constraints": {"ids": [tid]}})["data"][0]["phid"]
        rows = conduit.call("transaction.search", {"objectIdentifier": task_phid, "limit": 100})["data"]
        xacts = [r["phid"] for r in rows if int(r["id"]) > after_xact_id]
        last = max((int(r["id"]) for r in rows), default=after_xact_id)
    body = {"object": {"type": "TASK", "phid": task_phid}, "triggers": [{"phid": "PHID-HRUL-e2etest"}],
            "action": {"test": False, "silent": False, "secure": False, "epoch": int(time.time())},
            "transactions": [{"phid": p} for p in xacts]}
    return json.dumps(body, indent=2).encode(), last


def health(port, token=HEALTH_TOKEN):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/healthz", headers={"Authorization": f"Bearer {token}"} if token else {})
    response = conn.getresponse()
    result = response.status, json.loads(response.read())
    conn.close()
    return result


def test_two_jobs_on_short_intervals_with_a_run_report_and_a_clean_stop(world):
    bot = world.start(world.write_config({"status-sync": {"wikis": {"cs": {"every": "2s"}, "ko": {"every": "3s"}}}}))
    wait_for(lambda: runs(bot, "cs") >= 3 and runs(bot, "ko") >= 2, 45, "repeated runs of both jobs")
    assert "Zlepšit nápovědu" in world.human["cs"].page_text(CS)
    assert "Zlepšit nápovědu" in world.human["ko"].page_text(KO)
    world.conduit.update_task(world.tid, title="Nový název úkolu")
    wait_for(lambda: "Nový název úkolu" in world.human["cs"].page_text(CS)
             and "Nový název úkolu" in world.human["ko"].page_text(KO), 15, "the next polls")
    # one edit per change, although the jobs ran many times
    assert len(bot_revisions(world.human["cs"], CS)) == 2 and len(bot_revisions(world.human["ko"], KO)) == 2
    report = wait_for(lambda: world.human["cs"].page_text(REPORT["cs"]), 10, "the run report")
    assert "status-sync@cs" in report and "v pořádku" in report and "status-sync@ko" not in report
    assert "status-sync@ko" in wait_for(lambda: world.human["ko"].page_text(REPORT["ko"]), 10, "the ko report")
    # the report is edited when something changed, not on every run
    assert len(bot_revisions(world.human["cs"], REPORT["cs"])) <= 3 < runs(bot, "cs")
    status, info = health(world.port)
    assert status == 200 and info["role"] == "leader" and info["jobs"]["status-sync@cs"]["last_success"]
    assert health(world.port, token=None) == (200, {"ok": True})          # without the token: only ok
    started = time.monotonic()
    assert bot.stop(signal.SIGTERM) == 0 and time.monotonic() - started < 15
    assert any("stopped cleanly" in line for line in bot.lines())


def test_restart_in_the_middle_of_a_run_loses_nothing(world):
    config = world.write_config({"status-sync": {"every": "1h"}})
    first = world.start(config)
    wait_for(lambda: "Zlepšit nápovědu" in world.human["ko"].page_text(KO), 30, "the first run")
    _, last = delivery(world.conduit, world.tid)
    world.conduit.update_task(world.tid, title="Úkol změněný během běhu")
    world.conduit.set_delay("maniphest.search", 6)
    body, _ = delivery(world.conduit, world.tid, last)
    assert post(world.port, body, sign(HOOK_KEY.encode(), body))[0] == 202
    wait_for(lambda: sum('msg="run started"' in line for line in first.lines()) >= 2, 10, "the webhook's run")
    time.sleep(1)                                   # inside the slow maniphest.search
    first.stop(signal.SIGKILL)                      # a crash in the middle of the run
    world.conduit.set_delay("maniphest.search", 0)
    assert "Úkol změněný" not in world.human["cs"].page_text(CS)

    second = world.start(config)
    # the next scheduled run is an hour away: only the interrupted run's mark brings the change
    wait_for(lambda: "Úkol změněný během běhu" in world.human["cs"].page_text(CS)
             and "Úkol změněný během běhu" in world.human["ko"].page_text(KO), 30, "the resumed run")
    assert any("outcome=resume" in line for line in second.lines())
    assert len(bot_revisions(world.human["cs"], CS)) == 2      # nothing twice
    assert second.stop() == 0


def test_webhook_updates_without_waiting_refuses_bad_signatures_and_respects_emergency_stop(world):
    bot = world.start(world.write_config({"status-sync": {"every": "1h"}}))
    wait_for(lambda: "Zlepšit nápovědu" in world.human["ko"].page_text(KO), 30, "the first run")
    wait_for(lambda: health(world.port)[1]["jobs"]["status-sync"].get("last_success"), 10, "health")
    _, last = delivery(world.conduit, world.tid)

    world.conduit.update_task(world.tid, title="Přejmenováno přes webhook", actor="bob")
    body, last2 = delivery(world.conduit, world.tid, last)
    assert post(world.port, body, sign(b"wrong key", body))[0] == 403
    assert post(world.port, body, None)[0] == 403
    assert post(world.port, body + b"\n", sign(HOOK_KEY.encode(), body))[0] == 403
    time.sleep(2)
    assert "Přejmenováno" not in world.human["cs"].page_text(CS)      # refused deliveries changed nothing

    status, answer = post(world.port, body, sign(HOOK_KEY.encode(), body))
    assert status == 202 and answer["jobs"] == ["status-sync"] and answer["result"] == "queued"
    # the next poll is far away: only the webhook can bring the change (latency: bench/webhook_latency.py)
    wait_for(lambda: "Přejmenováno přes webhook" in world.human["cs"].page_text(CS), 10, "the webhook's sync")
    # a replayed delivery is acknowledged and does nothing
    assert post(world.port, body, sign(HOOK_KEY.encode(), body)) == (200, {"reason": "replayed",
                                                                          "result": "ignored"})

    # emergency stop on cs: no edit there, ko goes on
    world.human["cs"].edit(RUN_PAGE, "stop", "zastavit robota")
    world.conduit.update_task(world.tid, title="Po nouzovém zastavení", actor="bob")
    body, _ = delivery(world.conduit, world.tid, last2)
    assert post(world.port, body, sign(HOOK_KEY.encode(), body))[0] == 202
    wait_for(lambda: "Po nouzovém zastavení" in world.human["ko"].page_text(KO), 10, "ko's update")
    wait_for(lambda: any("emergency stop" in line and "wiki=cs" in line for line in bot.lines()), 10,
             "the emergency stop in the log")
    assert "Po nouzovém zastavení" not in world.human["cs"].page_text(CS)
    assert bot.stop() == 0


def test_a_real_phorge_webhook_takes_a_task_made_private_off_the_tables_within_seconds(world, monkeypatch):
    """Phorge's own daemons deliver the webhook (a firehose hook, signed with Phorge's key).

    The bot can no longer see the task, so Conduit says the object does not exist: the
    delivery must still run status-sync, which drops the task from both wikis at once.
    """
    key = world.conduit.create_webhook("ambassador-bot", f"http://127.0.0.1:{world.port}/webhook")
    monkeypatch.setenv("AMBASSADOR_WEBHOOK_KEY", key)
    world.secrets.append(key)
    public = world.conduit.create_task("Zůstává veřejný", projects=["growth-team"])
    bot = world.start(world.write_config({"status-sync": {"every": "1h"}}))
    wait_for(lambda: "Zůstává veřejný" in world.human["ko"].page_text(KO)
             and "Zlepšit nápovědu" in world.human["cs"].page_text(CS), 30, "the first run")
    world.conduit.start_daemons()
    # The daemons first deliver the earlier changes (the tasks' creation); let that settle.
    wait_for(lambda: any("webhook batch" in line for line in bot.lines()), 30, "the backlog's deliveries")
    time.sleep(3)
    batches = sum("webhook batch" in line for line in bot.lines())
    world.conduit.update_task(world.tid, actor="admin", view_policy="admin")
    # The next poll is an hour away: only Phorge's delivery can take the task off.
    wait_for(lambda: "Zlepšit nápovědu" not in world.human["cs"].page_text(CS)
             and "Zlepšit nápovědu" not in world.human["ko"].page_text(KO), 30, "the webhook's sync")
    assert "Zůstává veřejný" in world.human["cs"].page_text(CS)
    assert sum("webhook batch" in line for line in bot.lines()) > batches
    assert any("may have just become private" in line for line in bot.lines())
    assert f"T{public}" in world.human["ko"].page_text(KO)
    assert bot.stop() == 0
