"""Fresh local servers for one benchmark: MediaWiki wikis and the real Phorge.

Request counts are read at the Phorge front door (`PhorgeServer.requests`), i.e. at the wire.
"""
from __future__ import annotations

import tempfile
from pathlib import Path


def start_local_servers(name: str, codes=("cs",)):
    """(workdir, farm, conduit), all started; stop them with `stop_local_servers`."""
    from sandbox.mediawiki import MediaWikiFarm
    from sandbox.phorge import PhorgeServer

    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    farm = MediaWikiFarm(workdir / "wikis", codes=codes)
    farm.ensure_code()
    farm.setup()
    farm.start()
    conduit = PhorgeServer(workdir / "phorge")
    conduit.start()
    return workdir, farm, conduit


def stop_local_servers(farm, conduit) -> None:
    conduit.stop()
    farm.stop()


def one_table_config(tmp: Path, farm, conduit, title: str, *, every: str, lease_seconds: int, webhook: dict) -> dict:
    """The config of a worker with one status table on the local cs wiki (password in BENCH_CS_PASSWORD)."""
    return {
        "bot": {"user_agent": "ambassador-bot-bench/0.1 (bench@example.org)",
                "state_url": f"sqlite:///{tmp}/state.sqlite", "pywikibot_dir": str(tmp / "pwb")},
        "phabricator": {"url": conduit.url},
        "wikis": {"cs": {"api_url": farm.wikis["cs"].api_url, "language": "cs", "timezone": "Europe/Prague",
                         "username": "TestBot", "botpassword_app": "ci", "password_env": "BENCH_CS_PASSWORD",
                         "throttle_seconds": 0}},
        "status_tables": [{"id": "t", "query": {"projects": ["growth-team"]}, "pages": {"cs": title}}],
        "schedule": {"jobs": {"status-sync": {"every": every}}, "lease_seconds": lease_seconds},
        "webhook": {"host": "127.0.0.1", **webhook},
    }
