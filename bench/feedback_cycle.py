"""Requests per feedback cycle against the real local wiki and the Conduit sandbox.

Set-up (issue 4): 200 watched feedback pages on cs, each forwarding to one of 5
tasks, an on-wiki digest page on the same wiki. Measured after the first cycle
(which only takes the baseline):

* quiet cycle: floor = 1 wiki request (recent changes), 0 Conduit requests;
* 20 new comments (one edit each) spread over 5 pages: recent changes + the 20
  revisions and 5 baselines fetched by id (50 a request) + per task one
  `transaction.search` and one `maniphest.edit` + the digest page read and save.

Wiki requests are counted by WikiClient (the bot's own API calls, not
pywikibot's login); Conduit requests at the sandbox.
"""
from __future__ import annotations

import io
import time
from collections import Counter

from bench.servers import start_local_servers, stop_local_servers

PAGES = 200
CHANGED_PAGES = 5
COMMENTS = 20
TASKS = 5


def main() -> dict:
    import os

    from bot.jobs import feedback
    from bot.jobs.registry import build_context
    from bot.settings import parse_settings
    from tests.integration.helpers import config_data

    tmp, farm, conduit = start_local_servers("feedback", ("cs",))
    try:
        project = conduit.create_project("Growth-Team", "growth-team")
        tasks = [conduit.create_task(f"Feedback {i}", projects=[project]) for i in range(TASKS)]
        human = farm.api("cs", farm.wikis["cs"].human)
        titles = [f"Wikipedie:Growth/Zpětná vazba/{i}" for i in range(PAGES)]
        for t in titles:
            human.edit(t, "== Zpětná vazba ==\n", "založení")
        os.environ["AMBASSADOR_CONDUIT_TOKEN"] = conduit.bot_token
        os.environ["AMBASSADOR_TEST_CS_PASSWORD"] = farm.wikis["cs"].bot.password
        data = config_data(farm, conduit, tmp, tmp / "pwb", codes=("cs",), tables=[])
        data["feedback"] = {"digest_page": {"wiki": "cs", "title": "Wikipedie:Growth/Přehled zpětné vazby"},
                            "pages": [{"wiki": "cs", "title": t, "task": tasks[i % TASKS]} for i, t in enumerate(titles)]}
        ctx = build_context(parse_settings(data, tmp / "bench.yaml"))
        ctx.out = io.StringIO()
        wiki = ctx.wikis["cs"]
        feedback.run(ctx)   # baseline

        def cycle(label):
            wiki.request_count = 0
            conduit.clear_request_log()
            t0 = time.perf_counter()
            report = feedback.run(ctx)
            seconds = time.perf_counter() - t0
            methods = Counter(m for m, _ in conduit.requests)
            posts = methods.get("maniphest.edit", 0)
            return {"cycle": label, "wiki_requests": wiki.request_count, "conduit_requests": sum(methods.values()),
                    "conduit_posts": posts, "wiki_edits": len(report.saved) - posts, "seconds": round(seconds, 2),
                    "problems": len(report.problems)}

        rows = [cycle("quiet")]
        for n in range(COMMENTS):
            title = titles[n % CHANGED_PAGES]
            human.edit(title, human.page_text(title) + f"\nKomentář {n}. ~~~~\n", "komentář")
        rows.append(cycle(f"{COMMENTS} comments on {CHANGED_PAGES} pages"))
        rows.append(cycle("quiet again"))
    finally:
        stop_local_servers(farm, conduit)
    cols = ["cycle", "wiki_requests", "conduit_requests", "conduit_posts", "wiki_edits", "seconds", "problems"]
    print(f"feedback cycle: {PAGES} watched pages, {TASKS} tasks")
    print(" | ".join(cols))
    for r in rows:
        print(" | ".join(str(r[c]) for c in cols))
    return {f"{r['cycle']}:{c}": r[c] for r in rows for c in cols[1:]}


if __name__ == "__main__":
    main()
