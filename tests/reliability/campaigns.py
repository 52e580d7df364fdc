"""Fault, crash and concurrency campaigns, checked against the servers' own records.

Each campaign drives a job many times against the real local wikis and a
real local Phorge (sandbox/phorge.py) while something goes wrong, then runs it once more with nothing
going wrong and compares what the servers hold with what must be there:

* duplicates: bot revisions that repeat the bot's region unchanged (an edit that
  did not need to happen), or messages/comments posted twice;
* losses: human lines missing from a page, or expected table rows missing.

The numbers come from page histories and the pages' text, not from the bot's logs.
"""
from __future__ import annotations

import contextlib
import io
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.wiki_facts import WIKI_WORDS

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
    error: str = ""       # the campaign itself did not finish (its numbers are then unknown)

    @property
    def ok(self) -> bool:
        return self.duplicates == 0 and self.losses == 0 and not self.error


def base_config(farm, conduit, workdir: Path, *, wiki_urls=None, phab_url=None, pywikibot_dir=None,
                phab_timeout=2) -> dict:
    """The core config keys for the local cs/ko wikis and the Conduit sandbox (or proxies in front of them)."""
    wiki_urls = wiki_urls or {c: farm.wikis[c].api_url for c in ("cs", "ko")}
    return {
        "bot": {"user_agent": "ambassador-bot-reliability/0.1 (test@example.org)",
                "state_url": f"sqlite:///{workdir}/state.sqlite",
                "pywikibot_dir": str(pywikibot_dir or workdir / "pwb")},
        "phabricator": {"url": phab_url or conduit.url, "timeout": phab_timeout},
        "wikis": {c: {"api_url": wiki_urls[c], "language": c, "timezone": TIMEZONES[c], "username": "TestBot",
                      "botpassword_app": "ci", "password_env": f"RELIABILITY_{c.upper()}_PASSWORD",
                      "throttle_seconds": 0, **WIKI_WORDS[c]} for c in ("cs", "ko")},
        "status_tables": [],
    }


def secrets(farm, conduit) -> dict[str, str]:
    env = {"AMBASSADOR_CONDUIT_TOKEN": conduit.bot_token}
    for c in ("cs", "ko"):
        env[f"RELIABILITY_{c.upper()}_PASSWORD"] = farm.wikis[c].bot.password
    return env


class Tally:
    """Duplicates and losses found by a checker, with the first notes that explain them."""

    def __init__(self):
        self.duplicates = self.losses = 0
        self.notes: list[str] = []

    def count(self, n: int, what: str) -> None:
        """`what` should exist exactly once; it exists `n` times."""
        if n == 0:
            self.losses += 1
            self.notes.append(f"missing {what}")
        elif n > 1:
            self.duplicates += n - 1
            self.notes.append(f"{n} copies of {what}")

    def result(self) -> tuple[int, int, str]:
        return self.duplicates, self.losses, "; ".join(self.notes[:5])


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
        return {**base_config(self.farm, self.conduit, self.workdir, wiki_urls=wiki_urls, phab_url=phab_url,
                              pywikibot_dir=pywikibot_dir), "status_tables": self.tables}

    def secrets(self) -> dict[str, str]:
        return secrets(self.farm, self.conduit)

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
        from bot.domain.wikitext import find_region, region_task_ids
        tally = Tally()
        tasks = {t["id"]: t for t in (self.conduit.task(i) for i in self.task_ids)}
        for code in ("cs", "ko"):
            for p, title in enumerate(self.titles[code]):
                text = self.humans[code].page_text(title)
                for line in self.human_lines[(code, title)]:
                    if line not in text:
                        tally.losses += 1
                        tally.notes.append(f"lost human line on {code}:{title}")
                shown = region_task_ids(find_region(text, "status", f"t{p}").body)
                wanted = set(self.task_ids[p::len(self.titles[code])])
                if shown != wanted:
                    tally.losses += len(wanted - shown)
                    tally.notes.append(f"{code}:{title} shows {len(shown)} of {len(wanted)} rows")
                stale = [i for i in wanted if tasks[i]["fields"]["name"] not in text]
                if stale:
                    tally.losses += len(stale)
                    tally.notes.append(f"{code}:{title} has {len(stale)} stale titles")
                revisions = self.humans[code].get(action="query", prop="revisions", titles=title, rvlimit=500,
                                                  rvprop="user|content", rvslots="main")["query"]["pages"][0]["revisions"]
                previous_region = None
                for rev in reversed(revisions):
                    region = find_region(rev["slots"]["main"]["content"], "status", f"t{p}").body
                    if rev["user"] == "TestBot" and region == previous_region:
                        tally.duplicates += 1
                        tally.notes.append(f"needless bot edit on {code}:{title}")
                    previous_region = region
        return tally.result()


def fault_campaign(farm, conduit, *, seed=1, rounds=12, rate=0.2) -> Outcome:
    """status-sync with 20% of all requests (wiki and Conduit) faulted, humans editing between runs."""
    from bot.jobs import status_sync
    from bot.jobs.registry import build_context
    from bot.settings import parse_settings
    from tests.faultproxy import FaultProxy
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


def crash_campaign(farm, conduit, *, seed=2, kills=12, window=(0.3, 2.5), at_write=0.0, rate=0.0, min_kills=0,
                   max_runs=None, time_limit=None, adaptive=False) -> Outcome:
    """`ambassador once status-sync` in a subprocess, SIGKILLed at random moments, humans editing.

    `kills` runs; then more, up to `max_runs`, until `min_kills` runs were killed. With `at_write`, also
    killed right after a write reached a server (with that probability per write); with `rate`, that share
    of the requests faulted as in the fault campaigns (both go through proxies; the short campaign has neither)."""
    workdir = Path(tempfile.mkdtemp(prefix="reliability-crash-"))
    world = World(farm, conduit, workdir, seed=seed)
    killer = Killer(random.Random(seed), at_write=at_write, time_limit=time_limit,
                    adaptive=adaptive)
    proxies = tapped(farm, conduit, killer, seed=seed) if at_write or rate else {}
    try:
        urls = {"wiki_urls": {c: proxies[c].url + "/api.php" for c in ("cs", "ko")},
                "phab_url": proxies["phab"].url + "/"} if proxies else {}
        config_file = workdir / "config.yaml"
        config_file.write_text(yaml.safe_dump(world.config(**urls), allow_unicode=True), encoding="utf-8")
        env = crash_env(farm, conduit, rate)
        command = [sys.executable, "-m", "bot", "--config", str(config_file), "once", "status-sync"]
        set_fault_rate(proxies, rate)
        max_runs = max(kills, max_runs or kills)
        while killer.runs < kills or (killer.kills < min_kills and killer.runs < max_runs and not killer.expired()):
            world.change_tasks()
            world.human_edit()
            killer.run(command, env, window)
        killer.at_write = 0
        set_fault_rate(proxies, 0)
        final, _ = clean_run(command, env)
        faults = fault_summary(proxies)[0] if proxies else 0
        duplicates, losses, notes = world.check()
    finally:
        for p in proxies.values():
            p.stop()
    notes = "; ".join(filter(None, [notes, killer.note() if at_write else "",
                                    f"{faults} faults injected" if rate else "", final]))
    return Outcome(crash_label("status-sync", at_write, rate) if at_write or rate
                   else "crash: status-sync, SIGKILL at random", killer.runs, killer.kills, duplicates,
                   losses + bool(final), notes)


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


# -- shared by the campaigns of every job -----------------------------------------------------------------

# Writes mostly get read timeouts: the write happened, the client never learns it.
WIKI_WRITE_FAULTS = ("maxlag", "ratelimited", "http500", "http503", "drop", "slow", "slow", "slow", "slow")
CONDUIT_WRITE_FAULTS = ("http500", "http502", "http503", "drop", "slow", "slow", "slow", "conduit_error")


@contextlib.contextmanager
def faulty(farm, conduit, seed: int, *, read_timeout=2.0):
    """Fault proxies (rate 0 until the caller raises it) in front of each wiki and Conduit, and client
    timeouts lower than the proxies' slow answers, so a slow write is a write whose answer is lost.
    Conduit's timeout is the config's `phabricator.timeout`: pass the same `read_timeout` to `proxied_urls`."""
    from pywikibot import config

    from tests.faultproxy import CONDUIT_FAULTS, FaultProxy

    slow_seconds = read_timeout + 0.5
    proxies = {c: FaultProxy(farm.wikis[c].api_url.rsplit("/", 1)[0], seed=seed + i, rate=0,
                             slow_seconds=slow_seconds, action_faults={"edit": WIKI_WRITE_FAULTS}).start()
               for i, c in enumerate(("cs", "ko"))}
    proxies["phab"] = FaultProxy(conduit.url.rstrip("/"), seed=seed + 7, rate=0, slow_seconds=slow_seconds,
                                 faults=CONDUIT_FAULTS,
                                 action_faults={"maniphest.edit": CONDUIT_WRITE_FAULTS}).start()
    saved = (config.socket_timeout, config.max_retries, config.retry_wait, config.retry_max)
    # Short waits before retrying (maxlag, 5xx): the proxy's faults last one request, not seconds.
    config.socket_timeout, config.max_retries, config.retry_wait, config.retry_max = (3, read_timeout), 2, 1, 0.3
    try:
        yield proxies
    finally:
        config.socket_timeout, config.max_retries, config.retry_wait, config.retry_max = saved
        for p in proxies.values():
            p.stop()


def proxied_urls(proxies, read_timeout=2.0) -> dict:
    """base_config's keyword arguments for a bot behind `proxies` (Conduit's client timeout included)."""
    return {"wiki_urls": {c: proxies[c].url + "/api.php" for c in ("cs", "ko")}, "phab_url": proxies["phab"].url + "/",
            "phab_timeout": read_timeout}


def set_fault_rate(proxies, rate: float) -> None:
    for p in proxies.values():
        p.rate = rate


def fault_summary(proxies) -> tuple[int, str]:
    """(faults injected, how many were read timeouts on writes)."""
    injected = [f for p in proxies.values() for f in p.injected]
    lost_answers = sum(1 for fault, action in injected if fault == "slow" and action in ("edit", "maniphest.edit"))
    return len(injected), f"{lost_answers} read timeouts on writes"


def in_process_context(data: dict, workdir: Path):
    from bot.jobs.registry import build_context
    from bot.settings import parse_settings
    ctx = build_context(parse_settings(data, workdir / "c.yaml"))
    ctx.out = io.StringIO()
    ctx.phab.backoff = 0.05
    return ctx


def attempt(function, *args) -> str | None:
    """Run one job cycle that may die on a fault: the next cycle must repair everything."""
    try:
        report = function(*args)
    except Exception as exc:  # noqa: BLE001 - any crash of a cycle is part of the experiment
        return f"{type(exc).__name__}"
    return "; ".join(report.problems[:1]) or None


class Killer:
    """SIGKILLs the bot at random moments, and right after a write reached the server (before the bot
    learns it did: the moment that tests "write, then record") when its proxies call it."""

    WRITES = ("edit", "maniphest.edit")

    def __init__(self, rng: random.Random, *, at_write=0.0, time_limit: float | None = None, adaptive=False):
        self.rng, self.at_write = rng, at_write
        # On a slow or busy machine a run may not reach its first write inside the window: the kills would
        # all land in start-up and reading. `adaptive` stretches the window's end by a fifth after each run
        # killed before it wrote (up to 4x) and shrinks it back after a run that wrote.
        self.adaptive, self.stretch = adaptive, 1.0
        self.proc: subprocess.Popen | None = None
        self.job = ""
        self.lock = threading.Lock()
        self.killed = self.killed_at_write = 0
        self.by_job: dict[str, int] = {}       # kills per job (the command's last word)
        self.runs = self.runs_writing = 0      # runs, and runs that reached a write before they ended
        self._started = 0.0
        self._wrote = False
        self.first_write: list[float] = []     # seconds from a run's start to its first write
        # `make reliability-long` bounds each campaign in time as well as in runs.
        self.deadline = None if time_limit is None else time.monotonic() + time_limit

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def _killed(self, job: str) -> None:
        self.by_job[job] = self.by_job.get(job, 0) + 1

    def __call__(self, action: str) -> None:   # FaultProxy.after_forward
        with self.lock:
            if action in self.WRITES and self.proc and not self._wrote:
                self._wrote = True
                self.runs_writing += 1
                self.first_write.append(time.monotonic() - self._started)
            if action in self.WRITES and self.proc and self.proc.poll() is None and self.rng.random() < self.at_write:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait()
                self.killed_at_write += 1
                self._killed(self.job)

    def run(self, command, env, window: tuple[float, float]) -> bool:
        """One run, killed after a random delay in `window` unless it ends first; True if it finished."""
        with self.lock:
            rest = command[command.index("--config") + 2:]          # once <job> | newsletter publish ...
            self.job = rest[1] if rest[0] == "once" else rest[0]
            self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            self.runs += 1
            self._started, self._wrote = time.monotonic(), False
        proc = self.proc
        lo, hi = window
        try:
            proc.wait(timeout=self.rng.uniform(lo, max(lo, hi * self.stretch)))
        except subprocess.TimeoutExpired:
            with self.lock:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    self.killed += 1
                    self._killed(self.job)
        if self.adaptive and self._wrote:
            self.stretch = max(1.0, self.stretch / 1.1)
        elif self.adaptive and proc.returncode != 0:
            self.stretch = min(4.0, self.stretch * 1.2)
        return proc.returncode == 0

    @property
    def kills(self) -> int:
        return self.killed + self.killed_at_write

    def note(self) -> str:
        per_job = ", ".join(f"{job} {n}" for job, n in sorted(self.by_job.items())) if len(self.by_job) > 1 else ""
        return "; ".join(filter(None, [
            f"{self.killed_at_write} kills between a write and its answer, {self.killed} at random times",
            f"kills per job: {per_job}" if per_job else "",
            f"{self.runs_writing} of {self.runs} runs wrote before they ended" +
            (f" (first write after {sorted(self.first_write)[len(self.first_write) // 2]:.1f} s, median)"
             if self.first_write else ""),
            f"kill window stretched to {self.stretch:.1f}x at the end" if self.adaptive else "",
            "stopped at its time limit" if self.expired() else ""]))


def crash_label(job: str, at_write: float, rate: float) -> str:
    """The table's scenario name of a crash campaign (the short campaigns' names unchanged)."""
    return f"crash: {job}, SIGKILL" + (" at random and after writes" if at_write else "") + \
        (f", {rate:.0%} faults" if rate else "")


def crash_env(farm, conduit, rate: float) -> dict[str, str]:
    """The bot's environment in a crash campaign; with faults, pywikibot's waits are short (as in `faulty`)."""
    env = {**os.environ, **secrets(farm, conduit)}
    if rate:
        env.update({"AMBASSADOR_WIKI_MAX_RETRIES": "2", "AMBASSADOR_WIKI_RETRY_WAIT": "1",
                    "AMBASSADOR_WIKI_RETRY_MAX": "1"})
    return env


def tapped(farm, conduit, killer: Killer, *, seed=0, slow_seconds=2.5) -> dict:
    """Proxies in front of each server that let `killer` see every write; fault-free until the caller
    raises their rate (`set_fault_rate`): then the same faults as `faulty`, slow answers included."""
    from tests.faultproxy import CONDUIT_FAULTS, FaultProxy
    proxies = {c: FaultProxy(farm.wikis[c].api_url.rsplit("/", 1)[0], seed=seed + i, slow_seconds=slow_seconds,
                             action_faults={"edit": WIKI_WRITE_FAULTS}).start()
               for i, c in enumerate(("cs", "ko"))}
    proxies["phab"] = FaultProxy(conduit.url.rstrip("/"), seed=seed + 7, slow_seconds=slow_seconds,
                                 faults=CONDUIT_FAULTS, action_faults={"maniphest.edit": CONDUIT_WRITE_FAULTS}).start()
    for p in proxies.values():
        p.after_forward = killer
    return proxies


def clean_run(command, env) -> tuple[str, int]:
    """The final run, nothing going wrong: (problem, posts it wrote); it must end with exit code 0."""
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    wrote = sum(1 for line in done.stdout.splitlines() if line.startswith("saved "))
    if done.returncode != 0:
        return f"final run exit {done.returncode}: {(done.stdout + done.stderr).strip().splitlines()[-1:]}", wrote
    return "", wrote


def bot_contributions(api, user="TestBot") -> dict[str, int]:
    """Edits per page by the bot, from the wiki's own contributions list."""
    counts: dict[str, int] = {}
    params = {"action": "query", "list": "usercontribs", "ucuser": user, "uclimit": 500, "ucprop": "title"}
    while True:
        data = api.get(**params)
        for c in data["query"]["usercontribs"]:
            counts[c["title"]] = counts.get(c["title"], 0) + 1
        if "continue" not in data:
            return counts
        params.update(data["continue"])


def page_texts(api, titles) -> dict[str, str | None]:
    texts: dict[str, str | None] = {}
    titles = list(titles)
    for start in range(0, len(titles), 25):
        data = api.get(action="query", prop="revisions", titles="|".join(titles[start:start + 25]),
                       rvprop="content", rvslots="main")["query"]
        normal = {n["to"]: n["from"] for n in data.get("normalized", [])}
        for p in data["pages"]:
            asked = normal.get(p["title"], p["title"])
            texts[asked] = None if p.get("missing") else p["revisions"][0]["slots"]["main"]["content"]
    return texts


def bot_comments(conduit, task_id: int) -> list[str]:
    # The escaper breaks markup with invisible word joiners; read comments as a person sees them.
    return [c["text"].replace("\u2060", "") for c in conduit.comments(task_id)
            if c["author"] == "GrowthBot" and c["text"]]


# -- newsletters: publish, deliver to talk pages, comment on tasks --------------------------------------

EDITION = "2026-12"
DEC_10 = 1796860800          # 2026-12-10 00:00 UTC: task activity inside the edition's month
NL_CODES = ("cs", "ko")
NL_NAMES = {"cs": "Zpravodaj Growth", "ko": "성장 팀 소식지", "en": "Growth newsletter"}
NL_PAGES = {
    "cs": {"draft_page": "Wikipedie:Growth/Zpravodaj/{edition}", "page": "Wikipedie:Growth/Zpravodaj/Vydání/{edition}",
           "archive_page": "Wikipedie:Growth/Zpravodaj/Archiv", "subscribers": "Wikipedie:Growth/Zpravodaj/Odběratelé"},
    "ko": {"draft_page": "위키백과:성장/소식지/{edition}", "page": "위키백과:성장/소식지/발행/{edition}",
           "archive_page": "위키백과:성장/소식지/보존", "subscribers": "위키백과:성장/소식지/구독자"},
}
NL_TALK = {"cs": "Diskuse s wikipedistou:Odběratel ", "ko": "사용자토론:구독자 "}


class NewsletterWorld:
    """An approved December edition, ~30 subscribed talk pages on cs and ko, public tasks and a private one."""

    def __init__(self, farm, conduit, workdir: Path, *, talk_pages=30, tasks=6, seed=0):
        self.farm, self.conduit, self.workdir = farm, conduit, workdir
        self.rng = random.Random(seed)
        self._clock = conduit.clock
        conduit.clock = lambda: DEC_10
        project = conduit.create_project("Growth-Team", "growth-team")
        self.public = []
        for i in range(tasks):
            kind = ("resolved", "progress", "open")[i % 3]
            task_id = conduit.create_task(f"Úkol zpravodaje {i}", projects=[project],
                                          status="progress" if kind == "progress" else "open")
            if kind == "resolved":
                conduit.update_task(task_id, status="resolved")
            self.public.append(task_id)
        self.private = conduit.create_task("Security: private", projects=[project], view_policy="users")
        conduit.update_task(self.private, status="resolved")
        self.humans = {c: farm.api(c, farm.wikis[c].human) for c in NL_CODES}
        on_cs = (2 * talk_pages + 2) // 3
        self.targets = {"cs": [f"{NL_TALK['cs']}{i}" for i in range(on_cs)],
                        "ko": [f"{NL_TALK['ko']}{i}" for i in range(talk_pages - on_cs)]}
        for code in NL_CODES:
            for title in self.targets[code]:
                self.humans[code].edit(title, "Vítejte.\n", "x")
            self.humans[code].edit(self.title(code, "subscribers"),
                                   "\n".join(f"{{{{target|page={t}}}}}" for t in self.targets[code]), "seznam")

    def close(self):
        self.conduit.clock = self._clock

    def title(self, code, kind):
        return NL_PAGES[code][kind].replace("{edition}", EDITION)

    def config(self, **urls) -> dict:
        data = base_config(self.farm, self.conduit, self.workdir, **urls)
        data["newsletters"] = {"projects": ["growth-team"], "names": NL_NAMES,
                               "wikis": {c: NL_PAGES[c] for c in NL_CODES}}
        return data

    def prepare(self, ctx) -> None:
        """Draft and approve, with nothing going wrong: the campaigns are about publishing."""
        from bot.jobs import newsletter
        for action in ("draft", "approve"):
            report = newsletter.command(ctx, action, EDITION, list(NL_CODES))
            if report.problems:
                raise RuntimeError(f"newsletter {action}: {report.problems}")
            if action == "draft":   # an untouched draft is refused: the ambassador adds a line first
                for code in NL_CODES:
                    title = self.title(code, "draft_page")
                    self.humans[code].edit(title, self.humans[code].page_text(title) + "\nÚvod.\n", "úvod")

    def check(self, api_urls: dict[str, str]) -> tuple[int, int, str]:
        """Copies of the edition on every talk page (markers, headings, bot edits) and task comments."""
        from bot.domain import newsletter as nl
        tally = Tally()
        count = tally.count

        for code in NL_CODES:
            h = self.humans[code]
            page_title = self.title(code, "page")
            edits = bot_contributions(h)
            texts = page_texts(h, [page_title, self.title(code, "archive_page"), *self.targets[code]])
            page = texts[page_title] or ""
            count(page.count(nl.key_marker(nl.page_key(EDITION, code))), f"{code} edition page")
            count((texts[self.title(code, "archive_page")] or "").count(f"[[{page_title}|"), f"{code} archive link")
            for title in self.targets[code]:
                text = texts[title] or ""
                markers = text.count(nl.key_marker(nl.delivery_key(EDITION, code, title)))
                headings = sum(1 for line in text.splitlines() if line.startswith("==") and NL_NAMES[code] in line)
                seen = (markers, headings, edits.get(title, 0))
                # Delivered means marker, heading and bot edit are all there; any of them twice is a second copy.
                count(max(seen) if min(seen) or max(seen) > 1 else 0, f"{code} message on {title}")
            announced = {int(t) for t in re.findall(r"\[\[phab:T(\d+)\|", page)}
            if page and announced != set(self.public):
                tally.losses += len(set(self.public) - announced)
                tally.notes.append(f"{code} edition page announces {sorted(announced)}, not {sorted(self.public)}")
            url = nl.page_url(api_urls[code], page_title)
            for task_id in self.public:
                comments = bot_comments(self.conduit, task_id)
                count(sum(url in text for text in comments), f"T{task_id} comment for {code}")
        if bot_comments(self.conduit, self.private):
            tally.duplicates += len(bot_comments(self.conduit, self.private))
            tally.notes.append(f"private T{self.private} got a comment")
        return tally.result()

    def posts(self) -> int:
        return sum(len(t) for t in self.targets.values()) + len(NL_CODES) * (2 + len(self.public))


def newsletter_fault_campaign(farm, conduit, *, seed=9, rounds=4, rate=0.2, talk_pages=30, read_timeout=2.0) -> Outcome:
    """`newsletter publish` (edition page, archive link, talk pages, task comments) with 20% faults."""
    from bot.jobs import newsletter

    workdir = Path(tempfile.mkdtemp(prefix="reliability-nl-fault-"))
    world = NewsletterWorld(farm, conduit, workdir, talk_pages=talk_pages, seed=seed)
    os.environ.update(secrets(farm, conduit))
    try:
        with faulty(farm, conduit, seed, read_timeout=read_timeout) as proxies:
            urls = proxied_urls(proxies, read_timeout)
            ctx = in_process_context(world.config(**urls), workdir)
            world.prepare(ctx)
            set_fault_rate(proxies, rate)
            for _ in range(rounds):
                attempt(newsletter.command, ctx, "publish", EDITION, list(NL_CODES))
            set_fault_rate(proxies, 0)
            final = newsletter.command(ctx, "publish", EDITION, list(NL_CODES))
            faults, write_timeouts = fault_summary(proxies)
        duplicates, losses, notes = world.check(urls["wiki_urls"])
    finally:
        world.close()
    notes = "; ".join(filter(None, [notes, write_timeouts, f"{world.posts()} posts",
                                    f"final clean run wrote {len(final.saved)}",
                                    f"final run problems: {final.problems[:2]}" if final.problems else ""]))
    losses += len(final.problems)
    return Outcome(f"fault: newsletter publish, {talk_pages} talk pages, 20% of requests", rounds, faults,
                   duplicates, losses, notes)


def newsletter_crash_campaign(farm, conduit, *, seed=5, max_runs=15, talk_pages=30, window=(0.8, 4.0),
                              at_write=0.12, rate=0.0, min_kills=0, time_limit=None, adaptive=False) -> Outcome:
    """`ambassador newsletter publish` in a subprocess, SIGKILLed at random moments and right after
    writes, run again until one run finishes by itself (and `min_kills` runs were killed), then once more.
    With `rate`, that share of the requests is faulted too."""
    workdir = Path(tempfile.mkdtemp(prefix="reliability-nl-crash-"))
    world = NewsletterWorld(farm, conduit, workdir, talk_pages=talk_pages, seed=seed)
    env = crash_env(farm, conduit, rate)
    os.environ.update(secrets(farm, conduit))
    killer = Killer(random.Random(seed), at_write=at_write, time_limit=time_limit,
                    adaptive=adaptive)
    proxies = tapped(farm, conduit, killer, seed=seed)
    runs = 0
    try:
        urls = proxied_urls(proxies)
        data = world.config(**urls)
        world.prepare(in_process_context(data, workdir))
        config_file = workdir / "config.yaml"
        config_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        command = [sys.executable, "-m", "bot", "--config", str(config_file), "newsletter", "publish",
                   "--edition", EDITION]
        set_fault_rate(proxies, rate)
        finished_after = 0
        while runs < max_runs and not killer.expired():
            runs += 1
            if killer.run(command, env, window):
                finished_after = finished_after or runs
                if killer.kills >= min_kills:
                    break
        killer.at_write = 0
        set_fault_rate(proxies, 0)
        faults = fault_summary(proxies)[0]
        final, wrote = clean_run(command, env)
        duplicates, losses, notes = world.check(urls["wiki_urls"])
    finally:
        world.close()
        for p in proxies.values():
            p.stop()
    notes = "; ".join(filter(None, [notes, killer.note(), f"{faults} faults injected" if rate else "",
                                    f"first run to finish: {finished_after}" if min_kills else "",
                                    f"{world.posts()} posts", f"final clean run wrote {wrote}", final]))
    label = crash_label(f"newsletter publish, {talk_pages} talk pages", at_write, rate) if rate or min_kills \
        else f"crash: newsletter publish, {talk_pages} talk pages, SIGKILL"
    return Outcome(label, runs, killer.kills, duplicates, losses + bool(final), notes)


# -- feedback and mentions: wiki comments and task mentions to Phabricator ---------------------------------

FB_CS = "Wikipedie:Growth/Zpětná vazba"        # project page: the wikitext parser
FB_KO = "위키백과토론:성장/피드백"                   # talk page: the DiscussionTools parser
FB_DIGEST = "Wikipedie:Growth/Přehled zpětné vazby"
MENTION_PAGES = {"cs": ["Wikipedie:Growth", "Wikipedie:Growth/Nápady"],     # watched by title
                 "ko": ["위키백과:성장/토론방", "위키백과:성장/질문"]}            # watched as namespace 4


class FeedbackWorld:
    """Feedback pages on cs and ko (one section aimed at its own task), watched pages, and humans who
    sign comments with ~~~~ and mention tasks between the bot's cycles."""

    def __init__(self, farm, conduit, workdir: Path, *, seed=0, mention_tasks=5):
        self.farm, self.conduit, self.workdir = farm, conduit, workdir
        self.rng = random.Random(seed)
        project = conduit.create_project("Growth-Team", "growth-team")
        self.tasks = {"cs": conduit.create_task("Zpětná vazba cs", projects=[project]),
                      "ko": conduit.create_task("피드백 ko", projects=[project]),
                      "section": conduit.create_task("Nástěnka mentora", projects=[project])}
        self.mention_pool = [conduit.create_task(f"Zmíněný úkol {i}", projects=[project]) for i in range(mention_tasks)]
        self.mention_pool.append(conduit.create_task("Security: private", projects=[project], view_policy="users"))
        self.humans = {c: farm.api(c, farm.wikis[c].human) for c in ("cs", "ko")}
        self.section_heading = f"== Nástěnka T{self.tasks['section']} =="
        self.humans["cs"].edit(FB_CS, "Sem pište zpětnou vazbu.\n\n== Obecné ==\nStarý komentář. ~~~~\n\n"
                                      f"{self.section_heading}\nÚvodní komentář. ~~~~\n", "založení")
        self.humans["ko"].edit(FB_KO, "== 이전 ==\n예전 의견입니다. ~~~~\n", "시작")
        for code, titles in MENTION_PAGES.items():
            for title in titles:
                self.humans[code].edit(title, "Stránka projektu.\n", "založení")
        self.comments: list[tuple[str, int]] = []          # (token, the task it must reach)
        self.mentions: set[tuple[str, str, int]] = set()   # (wiki, page, task) that must get a comment

    def config(self, **urls) -> dict:
        data = base_config(self.farm, self.conduit, self.workdir, **urls)
        data["feedback"] = {"digest_page": {"wiki": "cs", "title": FB_DIGEST}, "pages": [
            {"wiki": "cs", "title": FB_CS, "task": f"T{self.tasks['cs']}"},
            {"wiki": "ko", "title": FB_KO, "task": self.tasks["ko"]}]}
        data["mentions"] = {"pages": {"cs": MENTION_PAGES["cs"]}, "namespaces": {"ko": [4]}}
        return data

    def _edit(self, code, title, change) -> bool:
        for _ in range(5):
            try:
                self.humans[code].edit(title, change(self.humans[code].page_text(title)), "komentář")
                return True
            except RuntimeError:   # an edit conflict with the bot's digest: a person would retry
                time.sleep(0.05)
        return False

    def human_comment(self) -> None:
        """A signed comment with a unique token, in one of three places (each with its task)."""
        token = f"vzkaz{self.rng.randrange(10**9)}x"
        where = self.rng.choice(["cs", "section", "ko"])
        if where == "ko":
            # The heading is quoted in the digest too: it must not carry the token.
            heading = f"의견 {len(self.comments) + 1}번"
            ok = self._edit("ko", FB_KO, lambda t: t.rstrip("\n") + f"\n\n== {heading} ==\n{token} 의견입니다. ~~~~\n")
        elif where == "cs":
            before = f"\n\n{self.section_heading}"      # the end of the general section
            ok = self._edit("cs", FB_CS, lambda t: t.replace(before, f"\n{token} je můj názor. ~~~~{before}", 1))
        else:
            ok = self._edit("cs", FB_CS, lambda t: t.rstrip("\n") + f"\n:{token} k nástěnce. ~~~~\n")
        if ok:
            self.comments.append((token, self.tasks[where]))

    def human_mention(self) -> None:
        code = self.rng.choice(["cs", "ko"])
        title = self.rng.choice(MENTION_PAGES[code])
        fresh = [t for t in self.mention_pool if (code, title, t) not in self.mentions]
        if not fresh:
            return
        task = self.rng.choice(fresh)
        form = self.rng.choice([f"T{task}", f"[[phab:T{task}]]", f"{{{{Phabricator|T{task}}}}}"])
        if self._edit(code, title, lambda t: t + f"Viz {form}.\n"):
            self.mentions.add((code, title, task))

    def humans_act(self, comments=2, mentions=1) -> None:
        for _ in range(comments):
            self.human_comment()
        for _ in range(mentions):
            self.human_mention()

    def check(self) -> tuple[int, int, str]:
        """Each comment quoted once on its task and once on the digest page; each mention commented once."""
        from bot.domain.mentions import mention_key
        from bot.jobs import feedback, mentions
        tally = Tally()
        count = tally.count

        on_task = {t: bot_comments(self.conduit, t) for t in {*self.tasks.values(), *self.mention_pool}}
        digest = self.humans["cs"].page_text(FB_DIGEST) or ""
        for token, task in self.comments:
            count(sum(text.count(token) for text in on_task[task]), f"comment {token} on T{task}")
            count(digest.count(token), f"comment {token} on the digest page")
        for task, texts in on_task.items():
            # Every digest lists its comments' marker hashes: one hash twice is one comment forwarded twice.
            hashes = [h for text in texts for line in text.splitlines() if line.startswith(feedback.MARKER_PREFIX)
                      for h in line[len(feedback.MARKER_PREFIX):].split()]
            if len(hashes) != len(set(hashes)):
                tally.duplicates += len(hashes) - len(set(hashes))
                tally.notes.append(f"T{task}: a feedback comment forwarded twice")
            seen = [line[len(mentions.MARKER_PREFIX):].strip() for text in texts for line in text.splitlines()
                    if line.startswith(mentions.MARKER_PREFIX)]
            wanted = {feedback.marker_hash(mention_key(c, title, t)): (c, title)
                      for c, title, t in self.mentions if t == task}
            for h, (code, title) in wanted.items():
                count(seen.count(h), f"mention of T{task} on {code}:{title}")
            unexpected = [h for h in seen if h not in wanted]
            if unexpected:
                tally.duplicates += len(unexpected)
                tally.notes.append(f"T{task}: {len(unexpected)} unexpected mention comments")
        return tally.result()

    def posts(self) -> int:
        return 2 * len(self.comments) + len(self.mentions)


def feedback_fault_campaign(farm, conduit, *, seed=6, rounds=8, rate=0.2, read_timeout=2.0) -> Outcome:
    """feedback + mentions cycles with 20% faults; humans comment and mention tasks between cycles."""
    from bot.jobs import feedback, mentions

    workdir = Path(tempfile.mkdtemp(prefix="reliability-fb-fault-"))
    world = FeedbackWorld(farm, conduit, workdir, seed=seed)
    os.environ.update(secrets(farm, conduit))
    with faulty(farm, conduit, seed, read_timeout=read_timeout) as proxies:
        ctx = in_process_context(world.config(**proxied_urls(proxies, read_timeout)), workdir)
        for job in (feedback, mentions):      # the first cycle is the baseline: it forwards nothing
            job.run(ctx)
        set_fault_rate(proxies, rate)
        for _ in range(rounds):
            world.humans_act()
            attempt(feedback.run, ctx)
            attempt(mentions.run, ctx)
        set_fault_rate(proxies, 0)
        finals = [feedback.run(ctx), mentions.run(ctx)]
        faults, write_timeouts = fault_summary(proxies)
    duplicates, losses, notes = world.check()
    problems = [p for r in finals for p in r.problems]
    notes = "; ".join(filter(None, [notes, write_timeouts, f"{world.posts()} posts",
                                    f"final clean run wrote {sum(len(r.saved) for r in finals)}",
                                    f"final run problems: {problems[:2]}" if problems else ""]))
    return Outcome("fault: feedback + mentions, 20% of requests", rounds, faults, duplicates,
                   losses + len(problems), notes)


def feedback_crash_campaign(farm, conduit, *, seed=7, rounds=8, window=(0.5, 2.5), at_write=0.4, rate=0.0,
                            min_kills=0, max_rounds=None, time_limit=None, adaptive=False) -> Outcome:
    """`ambassador once feedback` and `once mentions` SIGKILLed at random moments and right after
    writes; humans comment and mention tasks between runs. `rounds` rounds, then more (up to `max_rounds`)
    until the two were killed `min_kills` times; with `rate`, that share of the requests is faulted too."""
    workdir = Path(tempfile.mkdtemp(prefix="reliability-fb-crash-"))
    world = FeedbackWorld(farm, conduit, workdir, seed=seed)
    killer = Killer(random.Random(seed), at_write=at_write, time_limit=time_limit,
                    adaptive=adaptive)
    proxies = tapped(farm, conduit, killer, seed=seed)
    done = 0
    try:
        config_file = workdir / "config.yaml"
        config_file.write_text(yaml.safe_dump(world.config(**proxied_urls(proxies)), allow_unicode=True),
                               encoding="utf-8")
        env = crash_env(farm, conduit, rate)
        commands = [[sys.executable, "-m", "bot", "--config", str(config_file), "once", job]
                    for job in ("feedback", "mentions")]
        baseline = [clean_run(c, env)[0] for c in commands]     # the first cycle is the baseline
        set_fault_rate(proxies, rate)
        max_rounds = max(rounds, max_rounds or rounds)

        while done < rounds or (killer.kills < min_kills and done < max_rounds and not killer.expired()):
            done += 1
            world.humans_act()
            for command in commands:
                killer.run(command, env, window)
        killer.at_write = 0
        set_fault_rate(proxies, 0)
        faults = fault_summary(proxies)[0]
        finals = [clean_run(c, env) for c in commands]
        duplicates, losses, notes = world.check()
    finally:
        for p in proxies.values():
            p.stop()
    failed = [f for f in baseline + [f for f, _ in finals] if f]
    notes = "; ".join(filter(None, [notes, killer.note(), f"{faults} faults injected" if rate else "",
                                    f"{world.posts()} posts",
                                    f"final clean run wrote {sum(w for _, w in finals)}", *failed]))
    label = crash_label("feedback + mentions", at_write, rate) if rate or min_kills \
        else "crash: feedback + mentions, SIGKILL at random"
    return Outcome(label, 2 * done, killer.kills, duplicates, losses + len(failed), notes)


# -- weekly check-in reports: one comment per ambassador and week on the task, one section on the page ------

WR_PAGES = {"cs": ["Wikipedista:OtherUser/Týdenní přehled", "Wikipedista:OtherUser/Přehled týmu"],
            "ko": ["사용자:OtherUser/주간 보고"]}
WEEK = 7 * 86400


class WeeklyWorld:
    """Ambassadors with edits on cs and ko and comments in the Conduit sandbox; each has a management task
    and/or a report page (several ambassadors share a page: one section each)."""

    def __init__(self, farm, conduit, workdir: Path, *, ambassadors=6, seed=0):
        self.farm, self.conduit, self.workdir = farm, conduit, workdir
        self.rng = random.Random(seed)
        self.humans = {c: farm.api(c, farm.wikis[c].human) for c in ("cs", "ko")}
        self.humans["cs"].edit("Růst nováčků", "První verze článku.", "nový článek")
        self.humans["ko"].edit("신규 사용자 성장", "첫 판입니다.", "새 문서")
        self.work_tasks = [conduit.create_task("Mentor dashboard", author="bob"),
                           conduit.create_task("Vylepšit uvítání", author="alice")]
        for task in self.work_tasks:
            conduit.update_task(task, actor="alice", comment="Souhlasím.")
        self.ambassadors = []
        wiki_sets = [{"cs": "OtherUser"}, {"ko": "OtherUser"}, {"cs": "OtherUser", "ko": "OtherUser"}]
        for i in range(ambassadors):
            amb = {"id": f"amb{i}", "name": f"Ambassador {i}", "wikis": wiki_sets[i % 3],
                   "language": ("en", "cs", "ko")[i % 3]}
            if i % 2 == 0:
                amb["phabricator"] = ("alice", "bob")[i // 2 % 2]
            if i % 4 != 3:      # every fourth one reports on a page only
                amb["task"] = f"T{conduit.create_task(f'Weekly check-ins: ambassador {i}', author='bob')}"
            if i % 4 != 1:      # and every fourth other one on the task only
                code = ("cs", "ko")[i % 2]
                amb["page"] = {"wiki": code, "title": WR_PAGES[code][i // 2 % len(WR_PAGES[code])]}
            self.ambassadors.append(amb)

    def config(self, **urls) -> dict:
        data = base_config(self.farm, self.conduit, self.workdir, **urls)
        data["reports"] = {"ambassadors": self.ambassadors}
        return data

    def humans_act(self) -> None:
        """Edits by the ambassadors' wiki account, and a comment on Phabricator."""
        code = self.rng.choice(["cs", "ko"])
        title = {"cs": "Růst nováčků", "ko": "신규 사용자 성장"}[code]
        with contextlib.suppress(RuntimeError):
            self.humans[code].edit(title, self.humans[code].page_text(title) + f"\nVěta {self.rng.randrange(10**6)}.",
                                   "rozšíření")
        self.conduit.update_task(self.rng.choice(self.work_tasks), actor=self.rng.choice(["alice", "bob"]),
                                 comment=f"Poznámka {self.rng.randrange(10**6)}.")

    def label(self, now: float, amb: dict) -> str:
        """The week a run at `now` reports on: the current week so far (the job's default since 4bb0bd2)."""
        from bot.domain.weekly import report_week
        return report_week(now, TIMEZONES[next(iter(amb["wikis"]))], "so_far").label

    def check(self, now: float) -> tuple[int, int, str]:
        """Exactly one report per ambassador and week on each of its destinations, from the servers only."""
        from bot.render.messages import week_title
        tally = Tally()
        count = tally.count

        texts = {(c, t): self.humans[c].page_text(t) or "" for c, titles in WR_PAGES.items() for t in titles}
        for amb in self.ambassadors:
            label = self.label(now, amb)
            if "task" in amb:
                marker = f"(ambassador-bot weekly-report {amb['id']} {label})"
                comments = bot_comments(self.conduit, int(amb["task"][1:]))
                count(sum(1 for text in comments for line in text.splitlines() if line.strip() == marker),
                      f"{amb['id']} {label} report on {amb['task']}")
            if "page" in amb:
                code, title = amb["page"]["wiki"], amb["page"]["title"]
                text = texts[(code, title)]
                markers = text.count(f"<!-- ambassador-bot:key=weekly:{amb['id']}:{label} -->")
                week = week_title(label, amb["language"])      # '49. týden 2026', '2026년 49주차', 'week 49 of 2026'
                headings = sum(1 for line in text.splitlines() if line.startswith("==") and week in line
                               and line.strip().strip("=").strip().endswith(f": {amb['name']}"))
                seen = (markers, headings)
                # A report is its heading and its marker; either of them twice is a second copy.
                count(max(seen) if min(seen) or max(seen) > 1 else 0, f"{amb['id']} {label} report on {code}:{title}")
        return tally.result()

    def posts(self) -> int:
        return sum(("task" in a) + ("page" in a) for a in self.ambassadors)


def weekly_report_fault_campaign(farm, conduit, *, seed=18, rounds=6, rate=0.2, read_timeout=2.0,
                                 ambassadors=6) -> Outcome:
    """The weekly-report job run several times with 20% faults on wiki and Conduit (slow answers past the
    client timeout on writes included), a week later each time round, then once with nothing going wrong."""
    from bot.jobs import weekly_report

    workdir = Path(tempfile.mkdtemp(prefix="reliability-wr-fault-"))
    world = WeeklyWorld(farm, conduit, workdir, ambassadors=ambassadors, seed=seed)
    os.environ.update(secrets(farm, conduit))
    # The job reports on the current week so far (its default): the humans' edits above count.
    now = time.time()
    with faulty(farm, conduit, seed, read_timeout=read_timeout) as proxies:
        ctx = in_process_context(world.config(**proxied_urls(proxies, read_timeout)), workdir)
        ctx.clock = lambda: now
        set_fault_rate(proxies, rate)
        for _ in range(rounds):
            world.humans_act()
            attempt(weekly_report.run, ctx)
        set_fault_rate(proxies, 0)
        final = weekly_report.run(ctx)
        faults, write_timeouts = fault_summary(proxies)
    duplicates, losses, notes = world.check(now)
    notes = "; ".join(filter(None, [notes, write_timeouts, f"{world.posts()} posts",
                                    f"final clean run wrote {len(final.saved)}",
                                    f"final run problems: {final.problems[:2]}" if final.problems else ""]))
    return Outcome(f"fault: weekly-report, {ambassadors} ambassadors, 20% of requests", rounds, faults, duplicates,
                   losses + len(final.problems), notes)


def weekly_report_crash_campaign(farm, conduit, *, seed=19, max_runs=15, ambassadors=6, window=(1.0, 4.0),
                                 at_write=0.35, rate=0.0, min_kills=0, time_limit=None, adaptive=False) -> Outcome:
    """`ambassador once weekly-report` SIGKILLed at random moments and right after writes, run again until
    one run finishes by itself (and `min_kills` runs were killed), then once more. With `rate`, that share
    of the requests is faulted too."""
    workdir = Path(tempfile.mkdtemp(prefix="reliability-wr-crash-"))
    world = WeeklyWorld(farm, conduit, workdir, ambassadors=ambassadors, seed=seed)
    killer = Killer(random.Random(seed), at_write=at_write, time_limit=time_limit,
                    adaptive=adaptive)
    proxies = tapped(farm, conduit, killer, seed=seed)
    runs = finished_after = 0
    try:
        config_file = workdir / "config.yaml"
        config_file.write_text(yaml.safe_dump(world.config(**proxied_urls(proxies)), allow_unicode=True),
                               encoding="utf-8")
        env = crash_env(farm, conduit, rate)
        command = [sys.executable, "-m", "bot", "--config", str(config_file), "once", "weekly-report"]
        # The CLI reports on the real current week: the same for every run unless one straddles Monday midnight.
        started = time.time()
        set_fault_rate(proxies, rate)
        while runs < max_runs and not killer.expired():
            runs += 1
            world.humans_act()
            if killer.run(command, env, window):
                finished_after = finished_after or runs
                if killer.kills >= min_kills:
                    break
        killer.at_write = 0
        set_fault_rate(proxies, 0)
        faults = fault_summary(proxies)[0]
        final, wrote = clean_run(command, env)
        duplicates, losses, notes = world.check(started)
    finally:
        for p in proxies.values():
            p.stop()
    notes = "; ".join(filter(None, [notes, killer.note(), f"{faults} faults injected" if rate else "",
                                    f"first run to finish: {finished_after}" if min_kills else "",
                                    f"{world.posts()} posts", f"final clean run wrote {wrote}", final]))
    label = crash_label(f"weekly-report, {ambassadors} ambassadors", at_write, rate) if rate or min_kills \
        else f"crash: weekly-report, {ambassadors} ambassadors, SIGKILL"
    return Outcome(label, runs, killer.kills, duplicates, losses + bool(final), notes)


# -- the webhook server under slow clients and bursts -------------------------------------------------------

def _webhook_bodies(conduit, task_ids, after: int) -> tuple[list[bytes], int]:
    """One delivery per changed task, as Phabricator builds it (its PHID and its new transactions' PHIDs)."""
    import json
    bodies, last = [], after
    for tid in task_ids:
        if hasattr(conduit, "xacts"):        # the Conduit imitation: read its records
            with conduit._lock:
                phid = conduit.tasks[tid].phid
                rows = [(x.id, x.phid) for x in conduit.xacts if x.object_phid == phid]
        else:                                # a real Phorge
            phid = conduit.call("maniphest.search", {"constraints": {"ids": [tid]}})["data"][0]["phid"]
            rows = [(int(r["id"]), r["phid"]) for r in
                    conduit.call("transaction.search", {"objectIdentifier": phid, "limit": 100})["data"]]
        new = [p for i, p in rows if i > after]
        last = max([last] + [i for i, _ in rows])
        if new:
            bodies.append(json.dumps({"object": {"type": "TASK", "phid": phid},
                                      "transactions": [{"phid": p} for p in new]}).encode())
    return bodies, last


def webhook_load_campaign(farm, conduit, *, seed=20, rounds=4, changes=6, copies=25, slow_clients=40,
                          request_seconds=2.0) -> Outcome:
    """The worker's webhook server while slow clients hold connections and deliveries come in bursts.

    Each round: `changes` tasks change; `slow_clients` connections (more than the server's
    cap) send one byte every 0.25 s for at most 5 s; meanwhile every change's delivery is
    sent `copies` times (replays, as a retrying Phabricator does) from 8 threads, each
    retried on 503 for up to 20 s as Phabricator would. Nothing polls (status-sync runs once
    an hour): the tables must be current from the webhooks alone. Loopback only, bounded in
    count and time. Losses: rows or titles the webhooks did not bring, accepted deliveries
    never handled, slow clients not cut off by the whole-request deadline. Duplicates:
    needless bot edits (one run per burst, not one per delivery).
    """
    import http.client
    import socket
    from concurrent.futures import ThreadPoolExecutor

    from bot.scheduler import Service
    from bot.settings import parse_settings
    from bot.webhook import NS_QUEUE, sign

    workdir = Path(tempfile.mkdtemp(prefix="reliability-webhook-"))
    world = World(farm, conduit, workdir, seed=seed)
    key = "reliability-webhook-key"
    os.environ.update({**world.secrets(), "RELIABILITY_WEBHOOK_KEY": key})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = {**world.config(), "schedule": {"jobs": {"status-sync": {"every": "1h"}}, "lease_seconds": 10},
            "webhook": {"host": "127.0.0.1", "port": port, "jobs": ["status-sync"],
                        "hmac_key_env": "RELIABILITY_WEBHOOK_KEY"}}
    service = Service(parse_settings(data, workdir / "webhook.yaml"))
    service.webhook.request_seconds = request_seconds
    thread = threading.Thread(target=service.serve, daemon=True)
    thread.start()
    tally = Tally()
    sent = refused_busy = accepted = slow_kept = 0
    runs_per_round = []

    def wait(predicate, timeout):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def slow_client() -> bool:
        """True when the server cut the connection before the client gave up."""
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            return True
        started = time.monotonic()
        try:
            for byte in b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40:
                if time.monotonic() - started > 5:
                    return False
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    return True
                time.sleep(0.25)
            sock.settimeout(1)
            try:
                answer = sock.recv(100)
            except OSError:
                return True
            return answer == b"" or answer.startswith((b"HTTP/1.0 503", b"HTTP/1.0 408"))
        finally:
            sock.close()

    def deliver(body: bytes) -> tuple[int, int]:
        """(final status, 503-busy answers on the way)"""
        busy = 0
        deadline = time.monotonic() + 20
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("POST", "/webhook", body=body,
                             headers={"X-Phabricator-Webhook-Signature": sign(key.encode(), body)})
                status = conn.getresponse().status
                conn.close()
            except (OSError, http.client.HTTPException):
                status = 503
            if status != 503 or time.monotonic() > deadline:
                return status, busy
            busy += 1
            time.sleep(0.5)

    try:
        if not wait(lambda: service.runs >= 1 and not service._running, 120):
            raise RuntimeError("the first scheduled run did not finish")
        _, last = _webhook_bodies(conduit, world.task_ids, 0)
        for _ in range(rounds):
            chosen = world.rng.sample(world.task_ids, changes)
            for task_id in chosen:
                conduit.update_task(task_id, title=f"Úkol {task_id} v{world.rng.randrange(10**6)}", actor="bob")
            bodies, last = _webhook_bodies(conduit, chosen, last)
            burst = [b for b in bodies for _ in range(copies)]
            world.rng.shuffle(burst)
            runs_before = service.runs
            with ThreadPoolExecutor(slow_clients) as slow_pool, ThreadPoolExecutor(8) as pool:
                slow = [slow_pool.submit(slow_client) for _ in range(slow_clients)]
                time.sleep(0.3)      # the slow ones hold the connections first
                results = list(pool.map(deliver, burst))
                cut = [f.result() for f in slow]
            sent += len(burst)
            refused_busy += sum(b for _, b in results)
            accepted += sum(1 for status, _ in results if status in (200, 202))
            slow_kept += cut.count(False)
            tally.losses += sum(1 for status, _ in results if status not in (200, 202))
            handled = wait(lambda: not service.ctx.store.items(NS_QUEUE) and not service._running, 60)
            time.sleep(0.5)
            handled = handled and wait(lambda: not service._running, 60)
            if not handled:
                tally.losses += len(service.ctx.store.items(NS_QUEUE)) or 1
                tally.notes.append("deliveries still queued (or a run still going) after 60 s")
            runs_per_round.append(service.runs - runs_before)
        if slow_kept:
            tally.losses += slow_kept
            tally.notes.append(f"{slow_kept} slow clients not cut off by the whole-request deadline")
    finally:
        service.request_stop("campaign over")
        thread.join(30)
    duplicates, losses, notes = world.check()
    notes = "; ".join(filter(None, [notes, "; ".join(tally.notes),
                                    f"{accepted} of {sent} deliveries accepted, {refused_busy} busy answers retried",
                                    f"runs per burst {runs_per_round}"]))
    return Outcome(f"webhook: {slow_clients} slow clients + bursts of {changes}x{copies} deliveries", sent,
                   slow_clients * rounds + refused_busy, duplicates + tally.duplicates, losses + tally.losses,
                   notes)


CAMPAIGNS = [fault_campaign, crash_campaign, concurrency_campaign, newsletter_fault_campaign,
             newsletter_crash_campaign, feedback_fault_campaign, feedback_crash_campaign,
             weekly_report_fault_campaign, weekly_report_crash_campaign, webhook_load_campaign]


# `make reliability-long`: the same campaigns, scaled by their parameters (other fixed seeds). Each crash
# campaign kills its job (feedback and mentions together) at least `LONG_KILLS` times, at random moments
# and right after writes, with 20 % of the requests faulted meanwhile, in a kill window that stretches
# until runs reach their writes (`adaptive`: on a busy 2-core machine a run needs several seconds to its
# first write). Then the in-process fault campaigns (20 %, read timeouts on writes) with other seeds.
# Every campaign is bounded in runs and in seconds (`time_limit`), and the runner starts none after
# 50 minutes, so the whole stays under an hour.
LONG_KILLS = 100
_LONG_CRASH = {"rate": 0.2, "min_kills": LONG_KILLS, "adaptive": True, "time_limit": 690}
LONG_CAMPAIGNS = [
    (crash_campaign, {"seed": 102, "kills": LONG_KILLS, "at_write": 0.3, "max_runs": 200, **_LONG_CRASH}),
    (newsletter_crash_campaign, {"seed": 105, "talk_pages": 150, "at_write": 0.5, "max_runs": 200,
                                 **_LONG_CRASH}),
    (feedback_crash_campaign, {"seed": 107, "rounds": LONG_KILLS // 2, "max_rounds": 100, **_LONG_CRASH}),
    (weekly_report_crash_campaign, {"seed": 119, "ambassadors": 24, "at_write": 0.4, "max_runs": 200,
                                    **_LONG_CRASH}),
    (fault_campaign, {"seed": 101, "rounds": 16}),
    (newsletter_fault_campaign, {"seed": 109, "rounds": 4, "talk_pages": 60}),
    (feedback_fault_campaign, {"seed": 106, "rounds": 10}),
    (weekly_report_fault_campaign, {"seed": 118, "rounds": 8, "ambassadors": 12}),
]


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
        if o.error:
            lines.append(f"| {o.scenario}: {o.error} | – | – | – | – |")
        else:
            lines.append(f"| {o.scenario} | {o.operations} | {o.faults} | {o.duplicates} | {o.losses} |")
    return "\n".join(lines)
