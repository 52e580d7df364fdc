"""`make demo`: the local wikis and Conduit sandbox, one status-sync cycle, and what it wrote.

Starts fresh cs and ko wikis on 127.0.0.1:8471/8472 and a seeded Conduit sandbox on
127.0.0.1:8470 (the ports config/demo.yaml names), lays out the two status pages
with their markers as an ambassador would, runs `ambassador once status-sync`,
then prints the URLs of the pages it updated and the table it wrote on cs.
`--serve` keeps the servers running afterwards so you can look around.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "demo.yaml"
PORTS = {"cs": 8471, "ko": 8472}
CONDUIT_PORT = 8470
PAGES = {
    "cs": ("Wikipedie:Growth/Stav", "Tady je přehled úkolů týmu Growth, který udržuje robot."),
    "ko": ("위키백과:성장/현황", "성장 팀 작업 현황입니다. 봇이 표를 갱신합니다."),
}
RUN_PAGES = {"cs": "Wikipedista:TestBot/Run", "ko": "사용자:TestBot/Run"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help="keep the servers running until Ctrl-C")
    args = parser.parse_args(argv)

    from sandbox.conduit import ConduitSandbox, seed_demo
    from sandbox.mediawiki import MediaWikiFarm, MediaWikiUnavailable

    workdir = ROOT / "var" / "demo-mediawiki"
    farm = MediaWikiFarm(workdir, codes=("cs", "ko"))
    conduit = ConduitSandbox(port=CONDUIT_PORT)
    try:
        farm.ensure_code()
        farm.setup()           # fresh wikis every time: the demo always starts from the same state
        farm.start(ports=PORTS)
    except MediaWikiUnavailable as exc:
        print(f"demo: MediaWiki is not available: {exc}", file=sys.stderr)
        return 2
    try:
        conduit.start()
        seeded = seed_demo(conduit)
        for code, (title, intro) in PAGES.items():
            human = farm.api(code, farm.wikis[code].human)
            human.edit(title, f"{intro}\n\n<!-- ambassador-bot:status growth-current begin -->\n"
                              f"<!-- ambassador-bot:status growth-current end -->\n", "místo pro tabulku")
            farm.api(code, farm.wikis[code].admin).edit(RUN_PAGES[code], "run", "bot may run")
        os.environ["AMBASSADOR_CONDUIT_TOKEN"] = conduit.bot_token
        for code in PAGES:
            os.environ[f"AMBASSADOR_{code.upper()}_PASSWORD"] = farm.wikis[code].bot.password
        state = ROOT / "var" / "demo-state.sqlite"
        state.unlink(missing_ok=True)

        from bot.cli import main as ambassador
        print(f"Conduit sandbox: {conduit.url} (project Growth-Team, {len(seeded['tasks'])} public tasks, "
              f"1 restricted: T{seeded['restricted_task']})")
        code = ambassador(["--config", str(CONFIG), "once", "status-sync"])
        print()
        for wiki_code, (title, _) in PAGES.items():
            url = f"{farm.wikis[wiki_code].index_url}?title={urllib.parse.quote(title.replace(' ', '_'))}"
            print(f"{wiki_code}: {url}")
        print("\nThe table on cs:\n")
        print(farm.api("cs").page_text(PAGES["cs"][0]))
        if args.serve:
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            print("Serving; Ctrl-C to stop.", flush=True)
            try:
                stop.wait()
            except KeyboardInterrupt:
                pass
        return code
    finally:
        conduit.stop()
        farm.stop()


if __name__ == "__main__":
    raise SystemExit(main())
