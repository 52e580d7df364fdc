"""Resident memory of the worker alone: `ambassador run` in its own process, over 1,000 cycles.

`bench/webhook_latency.py` measured memory inside the benchmark process, next to the
servers' clients and the earlier benchmarks (135 MiB there). This one starts the worker
as a separate process and reads that process's `VmRSS` (and `VmHWM`, its peak) from
`/proc/<pid>/status`.

Set-up: the local cs wiki and the real Phorge (bench/servers.py), one status table with a
few tasks, a config with status-sync scheduled as often as the child allows and the
webhook endpoint only for `/healthz` (its `runs` counter says how many cycles ran). The
child is `python -m bench.worker_memory --child <config>`: it loads the config exactly as
`ambassador run` does and calls the same `bot.scheduler.run_forever`; the only change is
the status-sync interval, set to 20 ms after loading (the config refuses less than 1 s,
and 1,000 cycles at 1 s would take 17 minutes). Each cycle is a real no-change cycle: one
Conduit search and one recent-changes request.

Printed: RSS after 10, 100, 250, 500, 750 and 1,000 cycles, the growth from 100 to 1,000,
and the peak (goal: at most 100 MiB, flat).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

TITLE = "Wikipedie:Growth/Stav"
CYCLES = int(os.environ.get("BENCH_WORKER_CYCLES", "1000"))
CHECKPOINTS = [n for n in (10, 100, 250, 500, 750, 1000) if n <= CYCLES] or [CYCLES]
if CHECKPOINTS[-1] != CYCLES:
    CHECKPOINTS.append(CYCLES)
INTERVAL_SECONDS = 0.02
GOAL_MIB = 100.0
HEALTH_TOKEN = "bench-health-token-0123456789"


def proc_status_mib(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of a process, in MiB, from /proc/<pid>/status."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024          # kB
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _runs(port: int) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz",
                                     headers={"Authorization": f"Bearer {HEALTH_TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return int(json.loads(answer.read()).get("runs", 0))
    except OSError as exc:          # 503 while starting or stopping carries the same body
        body = getattr(exc, "read", lambda: b"{}")()
        try:
            return int(json.loads(body or b"{}").get("runs", 0))
        except ValueError:
            return 0


def write_config(tmp: Path, farm, conduit, port: int) -> Path:
    import yaml

    from bench.servers import one_table_config

    data = one_table_config(tmp, farm, conduit, TITLE, every="1s", lease_seconds=30, webhook={
        "port": port, "jobs": ["status-sync"], "hmac_key_env": "BENCH_WEBHOOK_KEY",
        "health_token_env": "BENCH_HEALTH_TOKEN"})
    path = tmp / "config" / "worker.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def child(config: str) -> int:
    """`ambassador run` with the status-sync interval shortened after loading (see the module docstring)."""
    from dataclasses import replace

    from bot.scheduler import run_forever
    from bot.settings import load_settings

    settings = load_settings(config)
    schedule = settings.schedule
    entries = tuple(replace(e, every_seconds=INTERVAL_SECONDS) for e in schedule.entries)
    settings = replace(settings, schedule=replace(schedule, entries=entries))
    return run_forever(settings)


def measure(pid: int, port: int, deadline_seconds: float = 1800) -> list[tuple[int, float]]:
    samples = []
    deadline = time.monotonic() + deadline_seconds
    for checkpoint in CHECKPOINTS:
        while _runs(port) < checkpoint:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker ran fewer than {checkpoint} cycles in {deadline_seconds:g} s")
            time.sleep(0.05)
        samples.append((checkpoint, proc_status_mib(pid)["VmRSS"]))
    return samples


def main() -> dict:
    from bench.servers import start_local_servers, stop_local_servers

    tmp, farm, conduit = start_local_servers("worker-memory", ("cs",))
    worker = None
    try:
        project = conduit.create_project("Growth-Team", "growth-team")
        for i in range(5):
            conduit.create_task(f"Úkol pro měření {i + 1}", projects=[project])
        farm.api("cs", farm.wikis["cs"].human).edit(
            TITLE, "<!-- ambassador-bot:status t begin -->\n<!-- ambassador-bot:status t end -->\n", "x")
        port = _free_port()
        config = write_config(tmp, farm, conduit, port)
        env = {**os.environ, "AMBASSADOR_CONDUIT_TOKEN": conduit.bot_token,
               "BENCH_CS_PASSWORD": farm.wikis["cs"].bot.password, "BENCH_WEBHOOK_KEY": "bench-webhook-key",
               "BENCH_HEALTH_TOKEN": HEALTH_TOKEN, "PYTHONUNBUFFERED": "1"}
        log = open(tmp / "worker.log", "wb")
        worker = subprocess.Popen([sys.executable, "-m", "bench.worker_memory", "--child", str(config)],
                                  cwd=Path(__file__).resolve().parent.parent, env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
        t0 = time.perf_counter()
        samples = measure(worker.pid, port)
        elapsed = time.perf_counter() - t0
        peak = proc_status_mib(worker.pid)["VmHWM"]
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        stop_local_servers(farm, conduit)

    rss = dict(samples)
    base = rss.get(100, samples[0][1])
    result = {"cycles": samples[-1][0], "rss_mib": {str(n): round(v, 1) for n, v in samples},
              "growth_100_to_last_mib": round(samples[-1][1] - base, 1), "peak_mib": round(peak, 1),
              "cycle_ms": round(1000 * elapsed / samples[-1][0], 1), "goal_mib": GOAL_MIB,
              "within_goal": peak <= GOAL_MIB}
    print("| cycles of `ambassador run` (own process) | VmRSS |")
    print("|---|---|")
    for n, v in samples:
        print(f"| {n} | {v:.1f} MiB |")
    print(f"\ngrowth from cycle {100 if 100 in rss else samples[0][0]} to {samples[-1][0]}: "
          f"{result['growth_100_to_last_mib']:+.1f} MiB; peak (VmHWM) {peak:.1f} MiB; goal <= {GOAL_MIB:g} MiB: "
          f"{'met' if result['within_goal'] else 'NOT met'}; {result['cycle_ms']} ms per cycle")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        raise SystemExit(child(sys.argv[2]))
    main()
