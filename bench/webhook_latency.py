"""From a task change to the status page's new revision through the webhook, and a burst.

Set-up: the local cs wiki and the real Phorge (bench/servers.py), one status table, the scheduler
service in this process with status-sync scheduled once an hour (so only the webhook
can bring a change quickly) and the webhook endpoint on a free port.

1. Latency: 20 times, rename the task in Phorge, POST a signed delivery with its
   new transaction PHIDs (as Phabricator would), and time until the wiki page has a
   new revision. Median and worst (goal: median under 5 s).
2. Burst: 500 signed deliveries about 50 tasks (10 changes each, by a human), sent
   at once from 8 client threads, as Phabricator does when a batch edit touches many
   tasks. Counted: the answers, the Conduit requests of the webhook's own client
   (`transaction.search` look-ups, plus its one `user.whoami`), and the scheduler runs
   they cause, against the 50 distinct tasks (before batching: one look-up per
   delivery, 500, and one run request each).
The worker's memory over 1,000 cycles is measured in a separate process by
bench/worker_memory.py, not here next to the servers' clients.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import threading
import time

from bench.servers import one_table_config, start_local_servers, stop_local_servers

TITLE = "Wikipedie:Growth/Stav"
CHANGES = 20



def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> dict:
    from bot.scheduler import Service
    from bot.settings import parse_settings
    from bot.webhook import sign

    tmp, farm, conduit = start_local_servers("webhook", ("cs",))
    services = []
    try:
        project = conduit.create_project("Growth-Team", "growth-team")
        tid = conduit.create_task("Úkol pro měření", projects=[project])
        task_phid = conduit.task(tid)["phid"]
        human = farm.api("cs", farm.wikis["cs"].human)
        human.edit(TITLE, "<!-- ambassador-bot:status t begin -->\n<!-- ambassador-bot:status t end -->\n", "x")
        key = "bench-webhook-key"
        os.environ.update({"AMBASSADOR_CONDUIT_TOKEN": conduit.bot_token, "AMBASSADOR_WEBHOOK_KEY": key,
                           "BENCH_CS_PASSWORD": farm.wikis["cs"].bot.password})
        port = _free_port()
        data = one_table_config(tmp, farm, conduit, TITLE, every="1h", lease_seconds=10,
                                webhook={"port": port, "jobs": ["status-sync"]})
        service = Service(parse_settings(data, tmp / "bench.yaml"))
        services.append(service)
        thread = threading.Thread(target=service.serve, daemon=True)
        thread.start()
        _wait(lambda: human.revisions(TITLE, limit=1)[0]["user"] == "TestBot", 60)

        latencies = []
        for i in range(CHANGES):
            before = human.revisions(TITLE, limit=1)[0]["revid"]
            started = time.perf_counter()
            # The real Phorge's answer to the edit names its new transactions, as a webhook would.
            xacts = conduit.update_task(tid, title=f"Úkol pro měření, změna {i + 1}", actor="bob")
            body = json.dumps({"object": {"type": "TASK", "phid": task_phid},
                               "triggers": [{"phid": "PHID-HRUL-bench"}],
                               "action": {"test": False, "silent": False, "secure": False, "epoch": int(time.time())},
                               "transactions": [{"phid": p} for p in xacts]}).encode()
            status = _post(port, body, sign(key.encode(), body))
            if status != 202:
                raise RuntimeError(f"webhook answered {status}")
            _wait(lambda: human.revisions(TITLE, limit=1)[0]["revid"] != before, 30)
            latencies.append(time.perf_counter() - started)
        burst = _burst(service, conduit, project, key, port)
        service.request_stop("bench")
        thread.join(30)

    finally:
        for s in services:
            s.stop_event.set()
        stop_local_servers(farm, conduit)

    result = {
        "webhook_to_revision_median_s": round(statistics.median(latencies), 3),
        "webhook_to_revision_worst_s": round(max(latencies), 3),
        "changes": len(latencies),
    }
    result.update(burst)
    # The worker's memory is measured in its own process by bench/worker_memory.py.
    print("webhook → new revision on the local cs wiki and the real Phorge, and a burst of webhooks")
    print(f"{'measure':36} {'value':>10}")
    for name, value in result.items():
        print(f"{name:36} {value:>10}")
    return result


BURST_TASKS = 50
BURST_CHANGES_PER_TASK = 10


def _burst(service, conduit, project, key: str, port: int) -> dict:
    """500 deliveries about 50 tasks at once: Conduit requests and runs against the distinct tasks."""
    from concurrent.futures import ThreadPoolExecutor

    from bot.webhook import NS_QUEUE, sign

    tids = [conduit.create_task(f"Úkol v dávce {i + 1}", projects=[project]) for i in range(BURST_TASKS)]
    phids = {tid: conduit.task(tid)["phid"] for tid in tids}
    bodies = []
    for n in range(BURST_CHANGES_PER_TASK):
        for tid in tids:
            xacts = conduit.update_task(tid, title=f"Úkol T{tid}, změna {n + 1}", actor="bob")
            bodies.append(json.dumps({"object": {"type": "TASK", "phid": phids[tid]},
                                      "triggers": [{"phid": "PHID-HRUL-bench"}],
                                      "action": {"test": False, "silent": False, "secure": False,
                                                 "epoch": int(time.time())},
                                      "transactions": [{"phid": p} for p in xacts]}).encode())
    _wait(lambda: not service._running, 60)
    delivery = service.webhook.delivery
    requests_before, lookups_before, runs_before = delivery.phab.request_count, delivery.lookups, service.runs
    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda body: _post(port, body, sign(key.encode(), body)), bodies))
    answered = time.perf_counter() - started
    _wait(lambda: not service.ctx.store.items(NS_QUEUE) and not service._running
          and delivery.triggers > 0, 120)
    time.sleep(1.0)   # a follow-up run asked for during the first one starts at once; let it show
    _wait(lambda: not service._running, 120)
    return {
        "burst_deliveries": len(bodies),
        "burst_answered_202": statuses.count(202),
        "burst_distinct_tasks": len(tids),
        "burst_seconds_to_answer_all": round(answered, 2),
        "burst_conduit_requests": delivery.phab.request_count - requests_before,
        "burst_transaction_searches": delivery.lookups - lookups_before,
        "burst_runs": service.runs - runs_before,
    }


def _post(port: int, body: bytes, signature: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/webhook", body=body, headers={"X-Phabricator-Webhook-Signature": signature,
                                                        "Content-Type": "application/json"})
    status = conn.getresponse().status
    conn.close()
    return status


def _wait(predicate, timeout: float, poll: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step timed out")
        time.sleep(poll)


if __name__ == "__main__":
    main()
