"""`make reliability`: the fault, crash and concurrency campaigns with fixed seeds, and their table.

`--long` (`make reliability-long`) runs campaigns.LONG_CAMPAIGNS instead: the same campaigns scaled by
their parameters (at least 100 SIGKILLs per job, 20 % faults), bounded in runs and time. `--only WORD`
runs the campaigns whose function name contains WORD (e.g. to rerun one after an unrelated failure).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from tests.reliability import campaigns


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability")
    parser.add_argument("--long", action="store_true", help="the deeper campaigns of `make reliability-long`")
    parser.add_argument("--only", action="append", default=[], metavar="WORD",
                        help="only the campaigns whose function name contains WORD (repeatable)")
    parser.add_argument("--budget", type=float, default=None, metavar="MINUTES",
                        help="start no campaign after this many minutes (default: 50 with --long, none without)")
    args = parser.parse_args(argv)
    plan = campaigns.LONG_CAMPAIGNS if args.long else [(c, {}) for c in campaigns.CAMPAIGNS]
    if args.only:   # a campaign's exact name, or a word in the names
        names = {c.__name__ for c, _ in plan}
        plan = [(c, kw) for c, kw in plan
                if c.__name__ in args.only or any(w in c.__name__ for w in args.only if w not in names)]
    budget = args.budget if args.budget is not None else (50 if args.long else None)

    from sandbox.mediawiki import MediaWikiFarm
    from sandbox.phorge import PhorgeServer
    from tests.conftest import forget_pywikibot_sessions

    # The campaigns make the bot and pywikibot log every injected fault (with tracebacks): keep that in a
    # file and the terminal for the progress lines and the table.
    log_path = Path(tempfile.mkdtemp(prefix="reliability-log-")) / "campaigns.log"
    console = os.fdopen(os.dup(2), "w", buffering=1)
    log_file = open(log_path, "w", encoding="utf-8")
    os.dup2(log_file.fileno(), 2)
    print(f"fault and retry messages go to {log_path}", file=console)

    started = time.perf_counter()
    farm = MediaWikiFarm(Path(tempfile.mkdtemp(prefix="reliability-wikis-")), codes=("cs", "ko"))
    farm.ensure_code()
    farm.setup()
    farm.start()
    conduit = PhorgeServer(Path(tempfile.mkdtemp(prefix="reliability-phorge-")))   # the real Phorge
    conduit.start()
    outcomes = []
    try:
        for campaign, kwargs in plan:
            if budget is not None and time.perf_counter() - started > budget * 60:
                outcomes.append(campaigns.Outcome(campaign.__name__, 0, 0, 0, 0,
                                                  error=f"not run: past the {budget:g}-minute budget"))
                continue
            farm.reset()
            forget_pywikibot_sessions()
            conduit.reset()      # by UPDATE_TIME and checksums: MariaDB forgets the former (sandbox/phorge.py)
            t0 = time.perf_counter()
            try:
                outcome = campaign(farm, conduit, **kwargs)
            except Exception as exc:  # one broken campaign must not hide the others' results
                outcome = campaigns.Outcome(campaign.__name__, 0, 0, 0, 0,
                                            error=f"did not finish: {type(exc).__name__}: {exc}"[:300])
            outcomes.append(outcome)
            print(f"{outcome.scenario}: {time.perf_counter() - t0:.0f} s"
                  + (f" ({outcome.notes})" if outcome.notes else "")
                  + (f" [{outcome.error}]" if outcome.error else ""), file=console)
    finally:
        conduit.stop()
        farm.stop()
    print(f"all campaigns: {time.perf_counter() - started:.0f} s", file=console)
    print(campaigns.table(outcomes))
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
