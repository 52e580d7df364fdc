"""Fault, crash and concurrency campaigns, checked against the servers' own records.

Each campaign drives a job many times against the real local wikis and the
Conduit sandbox while something goes wrong, then runs it once more with nothing
going wrong and compares what the servers hold with what must be there:

* duplicates: bot revisions that repeat the bot's region unchanged (an edit that
  did not need to happen), or messages/comments posted twice;
* losses: human lines missing from a page, or expected table rows missing.

The numbers come from page histories and the pages' text, not from the bot's logs.
"""
from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TIMEZONES = {"cs": "Europe/Prague", "ko": "Asia/Seoul"}


@dataclass
class Outcome:
    scenario: str
    operations: int
    faults: int
    duplicates: int
    losses: int
    notes: str = ""

    @property
    def ok(self) -> bool:
        return self.duplicates == 0 and self.losses == 0


class World:
    """Local wikis + Conduit sandbox with status pages, tasks and a human editor."""

    def __init__(self, farm, conduit, workdir: Path, *, pages_per_wiki=4, tasks=40, seed=0):
        self.farm, self.conduit, self.workdir = farm, conduit, workdir
        self.rng = random.Random(seed)
        self.project = conduit.create_project("Growth-Team", "growth-team")
        self.task_ids = [conduit.create_task(f"Úkol {i}", projects=[self.project]) for i in range(tasks)]
        self.titles = {"cs": [f"Wikipedie:Stav {p}" for p in range(pages_per_wiki)],
                       "ko": [f"위키백과:현황 {p}" for p in range(pages_per_wiki)]}
        self.human_lines: dict[tuple[str, str], list[str]] = {}
        self.humans = {c: farm.api(c, farm.wikis[c].human) for c in ("cs", "ko")}
        self.tables = []
        for p in range(pages_per_wiki):
            slice_ids = self.task_ids[p::pages_per_wiki]
            self.tables.append({"id": f"t{p}", "query": {"projects": ["growth-team"],
                                                        "tasks": [f"T{i}" for i in slice_ids]},
                                "pages": {"cs": self.titles["cs"][p], "ko": self.titles["ko"][p]}})
            for code in ("cs", "ko"):
                title = self.titles[code][p]
                self.humans[code].edit(title, f"Úvod {p}.\n<!-- ambassador-bot:status t{p} begin -->\n"
                                              f"<!-- ambassador-bot:status t{p} end -->\n", "x")
                self.human_lines[(code, title)] = []

    def config(self, *, wiki_urls=None, phab_url=None, pywikibot_dir=None) -> dict:
        wiki_urls = wiki_urls or {c: self.farm.wikis[c].api_url for c in ("cs", "ko")}
        return {
            "bot": {"user_agent": "ambassador-bot-reliability/0.1 (test@example.org)",
                    "state_url": f"sqlite:///{self.workdir}/state.sqlite",
                    "pywikibot_dir": str(pywikibot_dir or self.workdir / "pwb")},
            "phabricator": {"url": phab_url or self.conduit.url, "timeout": 2},
            "wikis": {c: {"api_url": wiki_urls[c], "language": c, "timezone": TIMEZONES[c], "username": "TestBot",
                          "botpassword_app": "ci", "password_env": f"RELIABILITY_{c.upper()}_PASSWORD",
                          "throttle_seconds": 0} for c in ("cs", "ko")},
            "status_tables": self.tables,
        }

    def secrets(self) -> dict[str, str]:
        env = {"AMBASSADOR_CONDUIT_TOKEN": self.conduit.bot_token}
        for c in ("cs", "ko"):
            env[f"RELIABILITY_{c.upper()}_PASSWORD"] = self.farm.wikis[c].bot.password
        return env

    def change_tasks(self, n=3):
        for task_id in self.rng.sample(self.task_ids, n):
            self.conduit.update_task(task_id, title=f"Úkol {task_id} v{self.rng.randrange(10**6)}",
                                     status=self.rng.choice(["open", "progress", "resolved"]))

    def human_edit(self):
        """A human adds a line outside the bot's region of a random page."""
        code = self.rng.choice(["cs", "ko"])
        title = self.rng.choice(self.titles[code])
        line = f"Lidská poznámka {self.rng.randrange(10**9)}."
        for _ in range(5):
            try:
                text = self.humans[code].page_text(title)
                self.humans[code].edit(title, text + line + "\n", "člověk")
                self.human_lines[(code, title)].append(line)
                return
            except RuntimeError:  # an edit conflict with the bot: a real human would retry too
                time.sleep(0.05)

    def check(self) -> tuple[int, int, str]:
        """(duplicates, losses, notes) from the wikis' histories and the Conduit sandbox's tasks."""
        from bot.domain.status import select_rows
        from bot.domain.wikitext import find_region, region_task_ids
        duplicates = losses = 0
        notes = []
        tasks = {t["id"]: t for t in (self.conduit.task(i) for i in self.task_ids)}
        for code in ("cs", "ko"):
            for p, title in enumerate(self.titles[code]):
                text = self.humans[code].page_text(title)
                for line in self.human_lines[(code, title)]:
                    if line not in text:
                        losses += 1
                        notes.append(f"lost human line on {code}:{title}")
                shown = region_task_ids(find_region(text, "status", f"t{p}").body)
                wanted = set(self.task_ids[p::len(self.titles[code])])
                if shown != wanted:
                    losses += len(wanted - shown)
                    notes.append(f"{code}:{title} shows {len(shown)} of {len(wanted)} rows")
                stale = [i for i in wanted if tasks[i]["fields"]["name"] not in text]
                if stale:
                    losses += len(stale)
                    notes.append(f"{code}:{title} has {len(stale)} stale titles")
                revisions = self.humans[code].get(action="query", prop="revisions", titles=title, rvlimit=500,
                                                  rvprop="user|content", rvslots="main")["query"]["pages"][0]["revisions"]
                previous_region = None
                for rev in reversed(revisions):
                    region = find_region(rev["slots"]["main"]["content"], "status", f"t{p}").body
                    if rev["user"] == "TestBot" and region == previous_region:
                        duplicates += 1
                        notes.append(f"needless bot edit on {code}:{title}")
                    previous_region = region
        return duplicates, losses, "; ".join(notes[:5])


def fault_campaign(farm, conduit, *, seed=1, rounds=12, rate=0.2) -> Outcome:
    """status-sync with 20% of all requests (wiki and Conduit) faulted, humans editing between runs."""
    from bot.jobs import status_sync
    from bot.jobs.registry import build_context
    from bot.settings import parse_settings
    from tests.faultproxy import FaultProxy
    import pywikibot
    from pywikibot import config

    workdir = Path(tempfile.mkdtemp(prefix="reliability-fault-"))
    world = World(farm, conduit, workdir, seed=seed)
    proxies = {c: FaultProxy(farm.wikis[c].api_url.rsplit("/", 1)[0], seed=seed + i, rate=0, slow_seconds=2.5).start()
               for i, c in enumerate(("cs", "ko"))}
    proxies["phab"] = FaultProxy(conduit.url.rstrip("/"), seed=seed + 7, rate=0, slow_seconds=2.5,
                                 faults=("http500", "http502", "http503", "drop", "slow")).start()
    os.environ.update(world.secrets())
    saved = (config.socket_timeout, config.max_retries, config.retry_wait, config.retry_max)
    config.socket_timeout, config.max_retries, config.retry_wait, config.retry_max = (3, 2), 2, 1, 1
    operations = 0
    try:
        data = world.config(wiki_urls={c: proxies[c].url + "/api.php" for c in ("cs", "ko")},
                            phab_url=proxies["phab"].url + "/")
        ctx = build_context(parse_settings(data, workdir / "c.yaml"))
        ctx.out = io.StringIO()
        ctx.phab.backoff = 0.05
        status_sync.run(ctx)       # the first cycle creates the tables without faults
        for p in proxies.values():
            p.rate = rate
        for _ in range(rounds):
            world.change_tasks()
            world.human_edit()
            try:
                status_sync.run(ctx)
            except Exception:
                pass   # a cycle may die on a fault; the next one must repair everything
            operations += 1
        for p in proxies.values():
            p.rate = 0
        status_sync.run(ctx)
        status_sync.run(ctx)
        faults = sum(len(p.injected) for p in proxies.values())
        duplicates, losses, notes = world.check()
        return Outcome("fault: status-sync, 20% of requests", operations, faults, duplicates, losses, notes)
    finally:
        config.socket_timeout, config.max_retries, config.retry_wait, config.retry_max = saved
        for p in proxies.values():
            p.stop()


def crash_campaign(farm, conduit, *, seed=2, kills=12) -> Outcome:
    """`ambassador once status-sync` in a subprocess, SIGKILLed at random moments, humans editing."""
    workdir = Path(tempfile.mkdtemp(prefix="reliability-crash-"))
    world = World(farm, conduit, workdir, seed=seed)
    rng = random.Random(seed)
    config_file = workdir / "config.yaml"
    config_file.write_text(yaml.safe_dump(world.config(), allow_unicode=True), encoding="utf-8")
    env = {**os.environ, **world.secrets()}
    command = [sys.executable, "-m", "bot", "--config", str(config_file), "once", "status-sync"]
    killed = 0
    for _ in range(kills):
        world.change_tasks()
        world.human_edit()
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=rng.uniform(0.3, 2.5))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed += 1
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=120)
    duplicates, losses, notes = world.check()
    return Outcome("crash: status-sync, SIGKILL at random", kills, killed, duplicates, losses, notes)


def concurrency_campaign(farm, conduit, *, seed=3, rounds=10) -> Outcome:
    """A human edits the same pages (inside and outside the region) while the bot saves them."""
    import threading

    from bot.jobs import status_sync
    from bot.jobs.registry import build_context
    from bot.settings import parse_settings

    workdir = Path(tempfile.mkdtemp(prefix="reliability-concurrency-"))
    world = World(farm, conduit, workdir, seed=seed)
    os.environ.update(world.secrets())
    ctx = build_context(parse_settings(world.config(), workdir / "c.yaml"))
    ctx.out = io.StringIO()
    status_sync.run(ctx)
    stop = threading.Event()
    edits = {"n": 0}

    def human():
        while not stop.is_set():
            world.human_edit()
            edits["n"] += 1
            # now and then a human tampers with the bot's region too; the bot must restore it
            if world.rng.random() < 0.3:
                code = world.rng.choice(["cs", "ko"])
                title = world.rng.choice(world.titles[code])
                try:
                    text = world.humans[code].page_text(title)
                    world.humans[code].edit(title, text.replace("|-\n", "|-\n| ruční řádek\n|-\n", 1), "ruční")
                except RuntimeError:
                    pass
    thread = threading.Thread(target=human, daemon=True)
    thread.start()
    try:
        for _ in range(rounds):
            world.change_tasks()
            status_sync.run(ctx)
    finally:
        stop.set()
        thread.join()
    status_sync.run(ctx)
    duplicates, losses, notes = world.check()
    return Outcome("concurrency: human edits during saves", rounds, edits["n"], duplicates, losses, notes)


CAMPAIGNS = [fault_campaign, crash_campaign, concurrency_campaign]


def run_all(farm_factory, conduit_factory, campaigns=CAMPAIGNS, **kwargs) -> list[Outcome]:
    outcomes = []
    for campaign in campaigns:
        farm = farm_factory()
        conduit = conduit_factory()
        outcomes.append(campaign(farm, conduit, **kwargs))
    return outcomes


def table(outcomes: list[Outcome]) -> str:
    lines = ["| scenario | operations | faults injected | duplicates | losses |", "|---|---:|---:|---:|---:|"]
    for o in outcomes:
        lines.append(f"| {o.scenario} | {o.operations} | {o.faults} | {o.duplicates} | {o.losses} |")
    return "\n".join(lines)
