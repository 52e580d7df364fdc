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
