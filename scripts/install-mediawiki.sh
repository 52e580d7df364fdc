#!/bin/sh
# Fetch MediaWiki 1.43 (Debian 13 package, unpacked into ~/.cache/ambassador-bot/mediawiki-1.43
# or $AMBASSADOR_MW_CACHE) and install PHP's Debian packages if missing (needs root for those).
# Extra arguments are passed on, e.g. `--workdir var/mediawiki` to also create the wikis.
set -e
cd "$(dirname "$0")/.."
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
exec "$PY" -m sandbox.mediawiki install "$@"
