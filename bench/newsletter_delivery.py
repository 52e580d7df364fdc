"""Deliver a newsletter edition to 2 wikis × 150 talk pages: concurrently, against each wiki alone.

Set-up: fresh local cs and ko wikis, each behind its own request-counting
pass-through proxy, a fixed non-zero edit throttle (THROTTLE seconds per edit
on each wiki), 150 subscribed talk pages per wiki. Three editions are drafted,
given a person's line and approved before the measurement (the guard refuses
untouched drafts), and both wikis' sessions are logged in, so only
`newsletter publish` is timed:

* cs alone: `newsletter publish --edition 2026-10 --wiki cs`;
* ko alone: `newsletter publish --edition 2026-11 --wiki ko`;
* both:     `newsletter publish --edition 2026-12 --wiki cs --wiki ko` (the wikis in threads).

Each run reads the draft and its history, the list, the edition and report pages
in batched reads, creates the edition page, links it from the archive, posts one
new section per target, saves the delivery report page (at the start, at most
once a minute while delivery runs, and at the end) and rewrites the draft's help
comment ("sending", "sent"). Requests are counted at the wire and split into:

* per delivered page: the new sections and the batched reads of the targets;
* per edition and wiki: everything else (draft, approval history, edition page,
  archive, report-page saves, help-comment saves, emergency-stop look-ups).
  Report and help saves are listed on their own line: they do not grow with the
  number of targets.

Goals (issue 11): wall time of both ≤ 0.6 of the sum of the two single-wiki runs;
requests per delivered page ≤ 1.05 (as in issue 3).
"""
from __future__ import annotations

import io
import os
import re
import threading
import time
import urllib.parse
from collections import Counter

from bench.servers import start_local_servers, stop_local_servers

PAGES = 150                       # per wiki
THROTTLE = 0.05                   # seconds between two edits on one wiki
CODES = ("cs", "ko")
TALK = {"cs": "Diskuse s wikipedistou:Odběratel ", "ko": "사용자토론:구독자 "}
WIKI_PAGES = {
    "cs": {"draft_page": "Wikipedie:Zpravodaj/{edition}", "page": "Wikipedie:Zpravodaj/Vydání/{edition}",
           "archive_page": "Wikipedie:Zpravodaj/Archiv", "subscribers": "Wikipedie:Zpravodaj/Odběratelé"},
    "ko": {"draft_page": "위키백과:소식지/{edition}", "page": "위키백과:소식지/발행/{edition}",
           "archive_page": "위키백과:소식지/보존", "subscribers": "위키백과:소식지/구독자"},
}
RUNS = (("cs alone", "2026-10", ("cs",)), ("ko alone", "2026-11", ("ko",)), ("cs + ko at once", "2026-12", CODES))


def counting_proxy(target: str, counts: Counter, report_prefix: str, draft_prefix: str):
    """A pass-through FaultProxy (no faults) that sorts each request into a kind."""
    from tests.faultproxy import FaultProxy

    lock = threading.Lock()

    class Counting(FaultProxy):
        def _handle(self, handler, body):
            params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(handler.path).query))
            if body and "x-www-form-urlencoded" in (handler.headers.get("Content-Type") or ""):
                params.update(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
            with lock:
                counts[_kind(params, report_prefix, draft_prefix)] += 1
            return super()._handle(handler, body)

    return Counting(target).start()


def _kind(params: dict, report_prefix: str, draft_prefix: str) -> str:
    title = params.get("title", "")
    if params.get("action") == "edit":
        if params.get("section") == "new":
            return "message"
        if title.startswith(report_prefix) and "/" in title[len(report_prefix):]:
            return "report save"
        if title.startswith(draft_prefix) and re.fullmatch(r"\d{4}-\d{2}", title[len(draft_prefix):]):
            return "help save"
        return "other edit"
    if params.get("action") == "query" and params.get("titles", "").count("|") >= 1:
        return "batched read"
    return "other"


def main(throttle: float = THROTTLE) -> dict:
    """`python -m bench.newsletter_delivery [THROTTLE_SECONDS]` (default 0.05)."""
    from bot.domain import newsletter as nl
    from bot.jobs import newsletter
    from bot.jobs.registry import build_context
    from bot.settings import parse_settings

    tmp, farm, conduit = start_local_servers("newsletter", CODES)
    proxies = {}
    counts = {c: Counter() for c in CODES}
    try:
        project = conduit.create_project("Growth-Team", "growth-team")
        # A task in progress appears in every edition, so no draft says "nothing changed" (refused).
        conduit.create_task("Lepší uvítání nováčků", projects=[project], status="progress")
        humans = {c: farm.api(c, farm.wikis[c].human) for c in CODES}
        targets = {c: [f"{TALK[c]}{i}" for i in range(PAGES)] for c in CODES}
        for code in CODES:
            for title in targets[code]:
                humans[code].edit(title, "Vítejte.", "x")
            humans[code].edit(WIKI_PAGES[code]["subscribers"],
                              "\n".join(f"{{{{target|page={t}}}}}" for t in targets[code]), "x")
            page_prefix = WIKI_PAGES[code]["page"].replace("{edition}", "")
            draft_prefix = WIKI_PAGES[code]["draft_page"].replace("{edition}", "")
            proxies[code] = counting_proxy(farm.wikis[code].api_url.rsplit("/", 1)[0], counts[code], page_prefix,
                                           draft_prefix)
            os.environ[f"BENCH_{code.upper()}_PASSWORD"] = farm.wikis[code].bot.password
        os.environ["AMBASSADOR_CONDUIT_TOKEN"] = conduit.bot_token
        data = {
            "bot": {"user_agent": "ambassador-bot-bench/0.1 (bench@example.org)",
                    "state_url": f"sqlite:///{tmp}/state.sqlite", "pywikibot_dir": str(tmp / "pwb")},
            "phabricator": {"url": conduit.url},
            "wikis": {c: {"api_url": proxies[c].url + "/api.php", "language": c,
                          "timezone": "Europe/Prague" if c == "cs" else "Asia/Seoul", "username": "TestBot",
                          "botpassword_app": "ci", "password_env": f"BENCH_{c.upper()}_PASSWORD",
                          "throttle_seconds": throttle} for c in CODES},
            "newsletters": {"projects": ["growth-team"], "comment_tasks": False, "wikis": WIKI_PAGES},
        }
        ctx = build_context(parse_settings(data, tmp / "bench.yaml"))
        ctx.out = io.StringIO()
        for _, edition, codes in RUNS:
            newsletter.command(ctx, "draft", edition, list(codes))
            for code in codes:
                draft = WIKI_PAGES[code]["draft_page"].replace("{edition}", edition)
                text = humans[code].page_text(draft) + "\nÚvod velvyslance."      # a person's line: not untouched
                humans[code].edit(draft, nl.set_status(text, nl.READY), "ready")
        for code in CODES:
            ctx.wikis[code].site      # logged in before the measurement

        load = os.getloadavg()[0]
        results = []
        for name, edition, codes in RUNS:
            before = {c: Counter(counts[c]) for c in CODES}
            t0 = time.perf_counter()
            report = newsletter.command(ctx, "publish", edition, list(codes))
            wall = time.perf_counter() - t0
            assert not report.problems, report.problems
            used = {c: counts[c] - before[c] for c in codes}
            delivered = sum(1 for code, t, _ in report.saved if t.startswith(TALK[code]))
            assert delivered == PAGES * len(codes), delivered
            total = sum(sum(u.values()) for u in used.values())
            per_edition = {k: sum(u[k] for u in used.values()) for k in ("report save", "help save")}
            results.append({"name": name, "wall": wall, "delivered": delivered, "requests": total,
                            "messages": sum(u["message"] for u in used.values()),
                            "batched": sum(u["batched read"] for u in used.values()), **per_edition})

        single = results[0]["wall"] + results[1]["wall"]
        both = results[2]
        print(f"newsletter delivery, {len(CODES)} wikis × {PAGES} talk pages, local MediaWiki, throttle "
              f"{throttle} s per edit on each wiki; requests counted at the wire")
        print(f"{'run':16} {'wall s':>7} {'pages':>6} {'requests':>9} {'per page':>9} {'report':>7} {'help':>5} "
              f"{'per page w/o report+help':>25}")
        for r in results:
            rest = r["requests"] - r["report save"] - r["help save"]
            print(f"{r['name']:16} {r['wall']:>7.1f} {r['delivered']:>6} {r['requests']:>9} "
                  f"{r['requests'] / r['delivered']:>9.3f} {r['report save']:>7} {r['help save']:>5} "
                  f"{rest / r['delivered']:>25.3f}")
        print(f"both wikis' servers and the bot share {os.cpu_count()} cores (load average {load:.1f} at the start, "
              f"{os.getloadavg()[0]:.1f} at the end); on a busy machine the two wikis compete for CPU")
        ratio = both["wall"] / single
        print(f"wall time of both at once / sum of the single-wiki runs: {both['wall']:.1f} / {single:.1f} = "
              f"{ratio:.2f} (goal <= 0.6)")
        print(f"requests per delivered page (both at once): {both['requests'] / both['delivered']:.3f} in all, "
              f"{(both['requests'] - both['report save'] - both['help save']) / both['delivered']:.3f} without the "
              f"report-page and help saves, which are per edition and wiki, not per page (goal <= 1.05)")
        return {"pages_per_wiki": PAGES, "throttle_s": throttle, "runs": results, "wall_ratio": ratio,
                "per_page": both["requests"] / both["delivered"],
                "per_page_without_report_help": (both["requests"] - both["report save"] - both["help save"])
                / both["delivered"]}
    finally:
        for proxy in proxies.values():
            proxy.stop()
        stop_local_servers(farm, conduit)


if __name__ == "__main__":
    import sys
    main(float(sys.argv[1]) if len(sys.argv) > 1 else THROTTLE)
