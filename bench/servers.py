"""Fresh local servers for one benchmark: MediaWiki wikis and a Conduit sandbox."""
from __future__ import annotations

import tempfile
from pathlib import Path


def start_local_servers(name: str, codes=("cs",)):
    """(workdir, farm, conduit), all started; stop them with `stop_local_servers`."""
    from sandbox.conduit import ConduitSandbox
    from sandbox.mediawiki import MediaWikiFarm

    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    farm = MediaWikiFarm(workdir / "wikis", codes=codes)
    farm.ensure_code()
    farm.setup()
    farm.start()
    conduit = ConduitSandbox()
    conduit.start()
    return workdir, farm, conduit


def stop_local_servers(farm, conduit) -> None:
    conduit.stop()
    farm.stop()
