"""The config: `load_settings(path)` reads and checks the YAML into frozen, typed settings.

The package sits just above `bot.domain` in the layers (setup.cfg): jobs, adapters, the
scheduler and the shell import it; it imports no job. What it needs to know about the jobs
(their names) is given to it by the caller (`job_names=`).
"""
from bot.settings.core import (LANGUAGES, PYWIKIBOT_MARKER, STATUS_KEYS, PhabricatorSettings, Settings, StatusTable,
                               TaskQuery, WikiSettings, load_settings, parse_settings, pywikibot_dir_problem)

__all__ = ["LANGUAGES", "PYWIKIBOT_MARKER", "STATUS_KEYS", "PhabricatorSettings", "Settings", "StatusTable", "TaskQuery",
           "WikiSettings", "load_settings", "parse_settings", "pywikibot_dir_problem"]
