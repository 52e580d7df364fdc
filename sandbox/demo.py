"""`make demo`: the local wikis and Conduit sandbox, one status-sync cycle, and what it wrote.

Starts fresh cs and ko wikis and a seeded Conduit sandbox on 127.0.0.1, lays out the
two status pages with their markers as an ambassador would, runs `ambassador once
status-sync`, then prints the URLs to open in a browser (each wiki's main page, the
pages the bot updated, the log-in names) and the table it wrote on cs. `--serve` keeps
the servers running afterwards so you can look around.

Ports: 8470 (Conduit), 8471 (cs) and 8472 (ko), the ones config/demo.yaml names, when
they are free; a port that is taken is replaced by a free one (no "Address already in
use"), and `AMBASSADOR_DEMO_CONDUIT_PORT`, `AMBASSADOR_DEMO_CS_PORT` and
`AMBASSADOR_DEMO_KO_PORT` choose them. The bot then runs with a copy of
config/demo.yaml pointing at the ports actually used (var/demo-config.yaml).
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
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
PORT_ENV = "AMBASSADOR_DEMO_{name}_PORT"


def choose_ports(environ=os.environ, is_free=None) -> dict[str, int]:
    """"conduit", "cs", "ko" -> port: from the environment, else the usual one when free, else any free one."""
    is_free = is_free or _is_free
    wanted = {"conduit": CONDUIT_PORT, **PORTS}
    chosen: dict[str, int] = {}
    for name, default in wanted.items():
        value = environ.get(PORT_ENV.format(name=name.upper()), "").strip()
        if value:
            if not value.isdigit() or not 0 < int(value) < 65536:
                raise SystemExit(f"demo: {PORT_ENV.format(name=name.upper())}={value!r} is not a port number")
            chosen[name] = int(value)
        elif is_free(default) and default not in chosen.values():
            chosen[name] = default
        else:
            port = _any_free_port()
            while port in chosen.values():
                port = _any_free_port()
            chosen[name] = port
    return chosen


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _any_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_config(ports: dict[str, int], target: Path) -> Path:
    """config/demo.yaml with the Conduit and wiki URLs on the ports chosen."""
    import yaml

    data = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    data["phabricator"]["url"] = f"http://127.0.0.1:{ports['conduit']}/"
    for code, wiki in data["wikis"].items():
        wiki["api_url"] = f"http://127.0.0.1:{ports[code]}/api.php"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("# Written by `make demo` from config/demo.yaml: the ports it used.\n"
                      + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help="keep the servers running until Ctrl-C")
    args = parser.parse_args(argv)

    from sandbox.conduit import ConduitSandbox, seed_demo
    from sandbox.mediawiki import MediaWikiFarm, MediaWikiUnavailable

    ports = choose_ports()
    config = demo_config(ports, ROOT / "var" / "demo-config.yaml")
    workdir = ROOT / "var" / "demo-mediawiki"
    farm = MediaWikiFarm(workdir, codes=("cs", "ko"))
    conduit = ConduitSandbox(port=ports["conduit"])
    try:
        farm.ensure_code()
        farm.setup()           # fresh wikis every time: the demo always starts from the same state
        farm.start(ports={code: ports[code] for code in PAGES})
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
        code = ambassador(["--config", str(config), "once", "status-sync"])
        print("\nOpen in a browser:")
        for wiki_code, (title, _) in PAGES.items():
            wiki = farm.wikis[wiki_code]
            url = f"{wiki.index_url}?title={urllib.parse.quote(title.replace(' ', '_'))}"
            print(f"  {wiki_code} wiki:        {wiki.index_url}")
            print(f"  {wiki_code} status page: {url}")
            print(f"  {wiki_code} log in as:   {wiki.human.username} / {wiki.human.password}")
        print(f"  Conduit sandbox: {conduit.url} (an API only; no web pages)")
        print(f"  config used:     {config}")
        if not args.serve:
            print("  (these stop when the demo ends: `python -m sandbox.demo --serve` keeps them running)")
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
