"""Many wikis, one process (issue 15): a status-sync cycle over 4 wikis against the sum of
4 single-wiki cycles doing the same work.

Set-up: the real Phorge, 4 local wikis (cs, ko, ar, vi), 4 status tables of 10 tasks each, every
table on one page of every wiki; every wiki at the same fixed throttle (THROTTLE seconds between
edits, pywikibot's put_throttle, per wiki). A round changes one task of every table, so each wiki
has 4 pages to edit. The single-wiki cycles run with configs naming one wiki each (own state),
one after the other; the 4-wiki cycle runs with a config naming all four, after another round of
the same changes. Goal (issue 15): 4-wiki wall time <= 0.35 x the sum of the single-wiki ones.
"""
from __future__ import annotations

import io
import os
import statistics
import time

from bench.servers import start_local_servers, stop_local_servers

CODES = ("cs", "ko", "ar", "vi")
ZONES = {"cs": "Europe/Prague", "ko": "Asia/Seoul", "ar": "Asia/Riyadh", "vi": "Asia/Ho_Chi_Minh"}
PROJECT_NS = {"cs": "Wikipedie", "ko": "위키백과", "ar": "ويكيبيديا", "vi": "Wikipedia"}
TABLES = 4
TASKS_PER_TABLE = 10
THROTTLE = 1.0
ROUNDS = 3
GOAL = 0.35


def main() -> dict:
    from bot.jobs import status_sync
    from bot.jobs.registry import build_context
    from bot.settings import parse_settings

    tmp, farm, conduit = start_local_servers("wikis", CODES)
    try:
        project = conduit.create_project("Growth-Team", "growth-team")
        ids = [conduit.create_task(f"Task {i}", projects=[project], priority="normal")
               for i in range(TABLES * TASKS_PER_TABLE)]
        tables = []
        for t in range(TABLES):
            slice_ids = ids[t * TASKS_PER_TABLE:(t + 1) * TASKS_PER_TABLE]
            pages = {code: f"{PROJECT_NS[code]}:Status {t}" for code in CODES}
            tables.append({"id": f"t{t}", "query": {"projects": ["growth-team"], "tasks": [f"T{i}" for i in slice_ids]},
                           "pages": pages})
            for code, title in pages.items():
                farm.api(code, farm.wikis[code].human).edit(
                    title, f"<!-- ambassador-bot:status t{t} begin -->\n<!-- ambassador-bot:status t{t} end -->\n", "x")
        os.environ["AMBASSADOR_CONDUIT_TOKEN"] = conduit.bot_token

        def context(codes, name):
            data = {"bot": {"user_agent": "ambassador-bot-bench/0.1 (bench@example.org)",
                            "state_url": f"sqlite:///{tmp}/{name}.sqlite", "pywikibot_dir": str(tmp / "pwb")},
                    "phabricator": {"url": conduit.url},
                    "wikis": {}, "status_tables": [dict(t, pages={c: t["pages"][c] for c in codes}) for t in tables]}
            for code in codes:
                os.environ[f"BENCH_{code.upper()}_PASSWORD"] = farm.wikis[code].bot.password
                data["wikis"][code] = {"api_url": farm.wikis[code].api_url, "language": code, "timezone": ZONES[code],
                                       "username": "TestBot", "botpassword_app": "ci",
                                       "password_env": f"BENCH_{code.upper()}_PASSWORD", "throttle_seconds": THROTTLE}
            ctx = build_context(parse_settings(data, tmp / "config" / f"{name}.yaml"))
            ctx.out = io.StringIO()
            return ctx

        singles = {code: context((code,), f"single-{code}") for code in CODES}
        every = context(CODES, "all")

        def cycle(ctx, expect_edits):
            t0 = time.perf_counter()
            report = status_sync.run(ctx)
            wall = time.perf_counter() - t0
            assert not report.problems, report.problems
            assert len(report.saved) == expect_edits, (len(report.saved), expect_edits)
            return wall

        cycle(every, TABLES * len(CODES))               # first: creates every table
        for code in CODES:                              # the single configs catch up (nothing to edit)
            cycle(singles[code], 0)
        serial = {code: [] for code in CODES}
        together = []
        for r in range(ROUNDS):
            for t in range(TABLES):
                conduit.update_task(ids[t * TASKS_PER_TABLE + r], title=f"Task {t}/{r} (single-wiki round)")
            for code in CODES:
                serial[code].append(cycle(singles[code], TABLES))
            for t in range(TABLES):
                conduit.update_task(ids[t * TASKS_PER_TABLE + r], title=f"Task {t}/{r} (4-wiki round)")
            together.append(cycle(every, TABLES * len(CODES)))
            for code in CODES:                          # keep the single configs' stores in step, untimed
                cycle(singles[code], 0)
        sums = [sum(serial[c][r] for c in CODES) for r in range(ROUNDS)]
        ratios = [together[r] / sums[r] for r in range(ROUNDS)]
        print(f"status-sync, {len(CODES)} wikis ({', '.join(CODES)}) x {TABLES} pages changed per wiki, real Phorge, "
              f"throttle {THROTTLE} s per wiki, {ROUNDS} rounds")
        print(f"{'round':>5} " + " ".join(f"{'single ' + c:>10}" for c in CODES) + f" {'sum':>7} {'4 wikis':>8} {'ratio':>6}")
        for r in range(ROUNDS):
            print(f"{r + 1:>5} " + " ".join(f"{serial[c][r]:>10.2f}" for c in CODES)
                  + f" {sums[r]:>7.2f} {together[r]:>8.2f} {ratios[r]:>6.2f}")
        median = statistics.median(ratios)
        print(f"median ratio {median:.2f} (goal <= {GOAL}): {'met' if median <= GOAL else 'NOT met'}")
        return {"singles": serial, "together": together, "ratios": ratios, "median": median}
    finally:
        stop_local_servers(farm, conduit)


if __name__ == "__main__":
    main()
