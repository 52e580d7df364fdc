"""`make reliability`: the fault, crash and concurrency campaigns with fixed seeds, and their table."""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from tests.reliability import campaigns


def main() -> int:
    from sandbox.conduit import ConduitSandbox
    from sandbox.mediawiki import MediaWikiFarm
    from tests.conftest import forget_pywikibot_sessions

    farm = MediaWikiFarm(Path(tempfile.mkdtemp(prefix="reliability-wikis-")), codes=("cs", "ko"))
    farm.ensure_code()
    farm.setup()
    farm.start()
    conduit = ConduitSandbox()
    conduit.start()
    outcomes = []
    try:
        for campaign in campaigns.CAMPAIGNS:
            farm.reset()
            forget_pywikibot_sessions()
            conduit.reset()
            t0 = time.perf_counter()
            outcome = campaign(farm, conduit)
            outcomes.append(outcome)
            print(f"{outcome.scenario}: {time.perf_counter() - t0:.0f} s"
                  + (f" ({outcome.notes})" if outcome.notes else ""), file=sys.stderr)
    finally:
        conduit.stop()
        farm.stop()
    print(campaigns.table(outcomes))
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
