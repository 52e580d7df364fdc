"""Requests per status-sync cycle against the local servers, next to their floor.

Set-up (issue 2): 500 tasks in one project, two wikis (cs, ko) with 20 status
pages each, every page showing its own slice of 25 tasks. Every HTTP request is
counted at the wire by a pass-through proxy in front of each server, so
pywikibot's own requests (login, site info, tokens) are included.

Cycles measured after the first (which creates all 40 tables):
* nothing changed: floor = 1 incremental Conduit request (one project) + 1 per 100
  tasks shown (every shown task is asked for again by id: the real server reports no
  "became private" or "left the project", it just stops returning the task) + 1 wiki
  request per wiki (recent changes), no page read, no edit;
* 10 tasks changed: floor = the above + per wiki one batched read of the
  affected pages + one edit per changed page (+ the edit token on a fresh login).

Deployment column (docs/deployment.md): every table has `deployment: true`; the last 25
tasks are resolved, each with a gerritbot-shaped merge notice for Poem@master, which both
wikis run from a git checkout older than the merges. While those fixes are not yet live,
each cycle adds one siteinfo request per wiki; the histories are read once (first cycle).
Then both checkouts move past the merges (the train): one edit per wiki; after that every
fix shown is live and remembered, and a quiet cycle is back at the old floor.
"""
from __future__ import annotations

import io
import os
import random
import time

from bench.servers import start_local_servers, stop_local_servers

PAGES_PER_WIKI = 20
TASKS = 500
RESOLVED = 25


def main() -> dict:
    from bot.jobs import status_sync
    from bot.jobs.registry import build_context
    from bot.settings import parse_settings
    from tests.faultproxy import FaultProxy

    tmp, farm, conduit = start_local_servers("status", ("cs", "ko"))
    proxies = {}
    try:
        project = conduit.create_project("Growth-Team", "growth-team")
        ids = [conduit.create_task(f"Úkol číslo {i}", projects=[project], priority="normal") for i in range(TASKS)]
        resolved = ids[-RESOLVED:]                     # the last page's slice
        conduit.create_user("gerritbot", bot=True)
        merged = int(time.time()) - 86400
        for n, task_id in enumerate(resolved):
            conduit.clock = lambda: merged
            conduit.update_task(task_id, actor="gerritbot", comment=(
                f"Change #{1084000 + n} **merged** by jenkins-bot:\n\n[mediawiki/extensions/Poem@master] Fix {n}\n\n"
                f"https://gerrit.wikimedia.org/r/{1084000 + n}"))
            conduit.clock = lambda: merged + 60
            conduit.update_task(task_id, status="resolved")
        conduit.clock = time.time
        for code in ("cs", "ko"):
            farm.use_git_extension(code, "Poem", commit_date=merged - 86400)
        proxies["phab"] = FaultProxy(conduit.url.rstrip("/")).start()
        for code in ("cs", "ko"):
            proxies[code] = FaultProxy(farm.wikis[code].api_url.rsplit("/", 1)[0]).start()
        tables, titles = [], {"cs": [], "ko": []}
        for p in range(PAGES_PER_WIKI):
            slice_ids = ids[p * 25:(p + 1) * 25]
            pages = {"cs": f"Wikipedie:Growth/Stav {p}", "ko": f"위키백과:성장/현황 {p}"}
            tables.append({"id": f"t{p}", "query": {"projects": ["growth-team"], "tasks": [f"T{i}" for i in slice_ids]},
                           "pages": pages, "deployment": True})
            for code, title in pages.items():
                titles[code].append(title)
                farm.api(code, farm.wikis[code].human).edit(
                    title, f"<!-- ambassador-bot:status t{p} begin -->\n<!-- ambassador-bot:status t{p} end -->\n", "x")
        os.environ["AMBASSADOR_CONDUIT_TOKEN"] = conduit.bot_token
        data = {
            "bot": {"user_agent": "ambassador-bot-bench/0.1 (bench@example.org)",
                    "state_url": f"sqlite:///{tmp}/state.sqlite", "pywikibot_dir": str(tmp / "pwb")},
            "phabricator": {"url": proxies["phab"].url + "/"},
            "wikis": {}, "status_tables": tables}
        for code, tz in (("cs", "Europe/Prague"), ("ko", "Asia/Seoul")):
            os.environ[f"BENCH_{code.upper()}_PASSWORD"] = farm.wikis[code].bot.password
            data["wikis"][code] = {"api_url": proxies[code].url + "/api.php", "language": code, "timezone": tz,
                                   "username": "TestBot", "botpassword_app": "ci",
                                   "password_env": f"BENCH_{code.upper()}_PASSWORD", "throttle_seconds": 0}
        ctx = build_context(parse_settings(data, tmp / "bench.yaml"))
        ctx.out = io.StringIO()

        def cycle(label):
            before = {k: p.forwarded for k, p in proxies.items()}
            edits_before = sum(w.edit_count for w in ctx.wikis.values())
            t0 = time.perf_counter()
            report = status_sync.run(ctx)
            wall = time.perf_counter() - t0
            counts = {k: p.forwarded - before[k] for k, p in proxies.items()}
            edits = sum(w.edit_count for w in ctx.wikis.values()) - edits_before
            assert not report.problems, report.problems
            return {"cycle": label, "conduit": counts["phab"], "wiki_cs": counts["cs"], "wiki_ko": counts["ko"],
                    "edits": edits, "wall_s": round(wall, 2)}

        rows = [cycle("first (creates 40 tables)")]
        rows.append(cycle("nothing changed"))
        rng = random.Random(7)
        changed = rng.sample(ids[:125], 10)          # spread over the first 5 pages
        for task_id in changed:
            conduit.update_task(task_id, title=f"Změněný úkol {task_id}")
        affected = len({(ids.index(t)) // 25 for t in changed})
        rows.append(cycle(f"10 tasks changed ({affected} pages per wiki)"))
        rows.append(cycle("nothing changed again"))
        for code in ("cs", "ko"):
            farm.commit_git_extension(code, "Poem", commit_date=merged + 3600, message="the train")
        rows.append(cycle(f"train: {RESOLVED} fixes go live (1 page per wiki)"))
        rows.append(cycle("nothing changed, every fix live"))
        recheck = -(-TASKS // 100)            # the visibility re-check: one request per 100 tasks shown
        siteinfo = 1                          # per wiki and cycle while a resolved task's fix is not yet live
        floors = {
            "nothing changed, every fix live": {"conduit": 1 + recheck, "wiki_cs": 1, "wiki_ko": 1, "edits": 0},
            "nothing changed": {"conduit": 1 + recheck, "wiki_cs": 1 + siteinfo, "wiki_ko": 1 + siteinfo, "edits": 0},
            "10 tasks changed": {"conduit": 1 + -(-(TASKS - 10) // 100), "wiki_cs": 2 + siteinfo + affected,
                                 "wiki_ko": 2 + siteinfo + affected, "edits": 2 * affected},
            "train": {"conduit": 1 + recheck, "wiki_cs": 3 + siteinfo, "wiki_ko": 3 + siteinfo, "edits": 2},
        }
        print(f"status-sync against the real Phorge, {TASKS} tasks, 2 wikis x {PAGES_PER_WIKI} pages; "
              f"HTTP requests counted at the wire; the visibility re-check costs {recheck} request(s) a cycle; "
              f"deployment column on, {RESOLVED} resolved tasks with merge notices (siteinfo: {siteinfo} request per "
              f"wiki a cycle while one of their fixes is not live; histories read once: first cycle)")
        print(f"{'cycle':36} {'conduit':>8} {'wiki cs':>8} {'wiki ko':>8} {'edits':>6} {'wall s':>7}   floor (conduit/cs/ko/edits)")
        for r in rows:
            floor = next((f for k, f in floors.items() if r["cycle"].startswith(k)), None)
            floor_text = "" if floor is None else f"{floor['conduit']}/{floor['wiki_cs']}/{floor['wiki_ko']}/{floor['edits']}"
            print(f"{r['cycle']:36} {r['conduit']:>8} {r['wiki_cs']:>8} {r['wiki_ko']:>8} {r['edits']:>6} "
                  f"{r['wall_s']:>7}   {floor_text}")
        return {"rows": rows, "floors": floors}
    finally:
        for p in proxies.values():
            p.stop()
        stop_local_servers(farm, conduit)


if __name__ == "__main__":
    main()
