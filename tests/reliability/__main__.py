"""`make reliability`: the fault, crash and concurrency campaigns with fixed seeds, and their table."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from tests.reliability import campaigns


def main() -> int:
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
        for campaign in campaigns.CAMPAIGNS:
            farm.reset()
            forget_pywikibot_sessions()
            conduit.reset()
            t0 = time.perf_counter()
            try:
                outcome = campaign(farm, conduit)
            except Exception as exc:  # one broken campaign must not hide the others' results
                outcome = campaigns.Outcome(campaign.__name__, 0, 0, 0, 0,
                                            error=f"did not finish: {type(exc).__name__}: {exc}"[:300])
            outcomes.append(outcome)
            print(f"{outcome.scenario}: {time.perf_counter() - t0:.0f} s"
                  + (f" ({outcome.notes})" if outcome.notes else ""), file=console)
    finally:
        conduit.stop()
        farm.stop()
    print(f"all campaigns: {time.perf_counter() - started:.0f} s", file=console)
    print(campaigns.table(outcomes))
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
