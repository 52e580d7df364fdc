"""Record the local wikis' answers the wiki facts are built from, into tests/unit/wiki_facts/<code>.json.

    .venv/bin/python -m tests.record_wiki_facts [cs,ko,en,ar,vi,pl] [workdir]

Starts its own farm (sandbox/mediawiki.py), asks each wiki what `bot/adapters/wiki_facts.py` asks
(siteinfo, allmessages in the content language, `~~~~~` expanded) plus a full `~~~~` signature
for the unit tests to read back, and stops the farm.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from bot.domain.wiki_facts import message_names, zone_message_names
from sandbox.mediawiki import MediaWikiFarm

OUT = Path(__file__).parent / "unit" / "wiki_facts"


def main(argv: list[str]) -> None:
    codes = (argv[0] if argv else "cs,ko,en,ar,vi,pl").split(",")
    workdir = Path(argv[1]) if len(argv) > 1 else Path(tempfile.mkdtemp(prefix="wiki-facts-"))
    farm = MediaWikiFarm(workdir, codes=codes)
    farm.ensure_code()
    farm.setup()
    farm.start()
    try:
        for code in codes:
            api = farm.api(code, farm.wikis[code].human)
            api.login(farm.wikis[code].human)
            site = api.get(action="query", meta="siteinfo",
                           siprop="general|namespaces|namespacealiases|specialpagealiases")
            general = site["query"]["general"]
            names = message_names() + zone_message_names(general["timezone"])
            messages = api.get(action="query", meta="allmessages", ammessages="|".join(names), amlang=general["lang"])
            parse = dict(action="parse", contentmodel="wikitext", onlypst=1, curtimestamp=1, title="API")
            data = {"siteinfo": site, "allmessages": messages, "sample": api.post(text="~~~~~", **parse),
                    "signature": api.post(text="~~~~", **parse)}
            (OUT / f"{code}.json").write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            print(code, data["sample"]["parse"]["text"])
    finally:
        farm.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
