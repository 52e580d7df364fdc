"""Deliver one newsletter edition to 300 talk pages, next to a plain pywikibot loop.

Set-up: a fresh local cs wiki, throttle 0, 300 talk pages listed on a delivery
list for the bot, 300 other talk pages for the plain loop. Every HTTP request is
counted at the wire by a pass-through proxy in front of the wiki. Both sides
start with a logged-in session (the bot drafted and approved the edition before
the measurement; the plain loop's site is the same logged-in pywikibot site).

* bot: `newsletter publish` (reads the draft, its history, the list, the page
  and archive, resolves all targets in batched reads, creates the edition page,
  links it from the archive, posts one new section per target);
* plain loop: `page = pywikibot.Page(site, title); page.text += message;
  page.save(summary)` per page (what a hand-written script does).

Goal (issue 3): at most 1.05 requests per delivered page, and less wall time.
"""
from __future__ import annotations

import io
import os
import time

from bench.servers import start_local_servers, stop_local_servers

PAGES = 300
EDITION = "2026-12"


def main() -> dict:
    from bot.domain import newsletter as nl
    from bot.jobs import newsletter
    from bot.jobs.registry import build_context
    from bot.settings import parse_settings
    from tests.faultproxy import FaultProxy

    tmp, farm, conduit = start_local_servers("newsletter", ("cs",))
    proxy = None
    try:
        conduit.create_project("Growth-Team", "growth-team")
        human = farm.api("cs", farm.wikis["cs"].human)
        ours = [f"Diskuse s wikipedistou:Odběratel {i}" for i in range(PAGES)]
        plain = [f"Diskuse s wikipedistou:Čtenář {i}" for i in range(PAGES)]
        for title in ours + plain:
            human.edit(title, "Vítejte.", "x")
        human.edit("Wikipedie:Zpravodaj/Odběratelé", "\n".join(f"{{{{target|page={t}}}}}" for t in ours), "x")
        proxy = FaultProxy(farm.wikis["cs"].api_url.rsplit("/", 1)[0]).start()
        os.environ["AMBASSADOR_CONDUIT_TOKEN"] = conduit.bot_token
        os.environ["BENCH_CS_PASSWORD"] = farm.wikis["cs"].bot.password
        data = {
            "bot": {"user_agent": "ambassador-bot-bench/0.1 (bench@example.org)",
                    "state_url": f"sqlite:///{tmp}/state.sqlite", "pywikibot_dir": str(tmp / "pwb")},
            "phabricator": {"url": conduit.url},
            "wikis": {"cs": {"api_url": proxy.url + "/api.php", "language": "cs", "timezone": "Europe/Prague",
                             "username": "TestBot", "botpassword_app": "ci", "password_env": "BENCH_CS_PASSWORD",
                             "throttle_seconds": 0}},
            "newsletters": {"projects": ["growth-team"], "comment_tasks": False,
                            "wikis": {"cs": {"draft_page": "Wikipedie:Zpravodaj/{edition}",
                                             "page": "Wikipedie:Zpravodaj/Vydání/{edition}",
                                             "archive_page": "Wikipedie:Zpravodaj/Archiv",
                                             "subscribers": "Wikipedie:Zpravodaj/Odběratelé"}}},
        }
        ctx = build_context(parse_settings(data, tmp / "bench.yaml"))
        ctx.out = io.StringIO()
        newsletter.command(ctx, "draft", EDITION, ["cs"])
        draft = "Wikipedie:Zpravodaj/" + EDITION
        human.edit(draft, nl.set_status(human.page_text(draft), nl.READY), "ready")
        wiki = ctx.wikis["cs"]
        wiki.site  # logged in before the measurement, as the plain loop's site is

        before, t0 = proxy.forwarded, time.perf_counter()
        report = newsletter.command(ctx, "publish", EDITION, ["cs"])
        bot_wall = time.perf_counter() - t0
        bot_requests = proxy.forwarded - before
        assert not report.problems, report.problems
        delivered = sum(1 for _, t, _ in report.saved if t in set(ours))
        assert delivered == PAGES, delivered

        import pywikibot
        site = wiki.site
        message = "\n\n== Zpravodaj ==\n" + "Text zpravodaje.\n" * 20 + "~~~~"
        before, t0 = proxy.forwarded, time.perf_counter()
        for title in plain:
            page = pywikibot.Page(site, title)
            page.text = page.text + message
            page.save("Zpravodaj", minor=False, quiet=True)
        plain_wall = time.perf_counter() - t0
        plain_requests = proxy.forwarded - before

        rows = [("bot: newsletter publish", bot_requests, bot_wall),
                ("plain pywikibot loop (Page.text + save)", plain_requests, plain_wall)]
        print(f"newsletter delivery to {PAGES} talk pages, local MediaWiki, throttle 0; requests counted at the wire")
        print(f"{'method':42} {'requests':>9} {'per page':>9} {'wall s':>8}")
        for name, requests, wall in rows:
            print(f"{name:42} {requests:>9} {requests / PAGES:>9.3f} {wall:>8.1f}")
        print(f"wall-time ratio bot/plain: {bot_wall / plain_wall:.2f}; goal: <= 1.05 requests per page and < 1.0")
        return {"pages": PAGES, "bot_requests": bot_requests, "bot_per_page": bot_requests / PAGES,
                "bot_wall_s": bot_wall, "plain_requests": plain_requests, "plain_per_page": plain_requests / PAGES,
                "plain_wall_s": plain_wall, "wall_ratio": bot_wall / plain_wall}
    finally:
        if proxy is not None:
            proxy.stop()
        stop_local_servers(farm, conduit)


if __name__ == "__main__":
    main()
