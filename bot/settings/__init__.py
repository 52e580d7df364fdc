"""The config: `load_settings(path)` reads and checks the YAML into frozen, typed settings.

The package sits just above `bot.domain` in the layers (setup.cfg): the jobs, the adapters,
the scheduler and the shell import it, and it imports none of them. What it must know about
the jobs (their names) the caller gives it: `load_settings(path, job_names=JOBS)`.

core.py parses the top level and calls each optional section's parser (newsletter.py,
feedback.py, schedule.py, reports.py, deployment.py) directly; they share reader.py.
"""
from bot.settings.core import (LANGUAGES, PYWIKIBOT_MARKER, STATUS_KEYS, PhabricatorSettings, Settings, StatusTable,
                               TaskQuery, WikiSettings, load_settings, parse_settings, pywikibot_dir_problem)
from bot.settings.deployment import DeploymentSettings
from bot.settings.feedback import DigestPage, FeedbackPage, FeedbackSettings, MentionSettings
from bot.settings.newsletter import NewsletterSettings, NewsletterWiki
from bot.settings.reports import Ambassador, ReportSettings, TemplateOverrides
from bot.settings.schedule import Schedule, ScheduledJob, StatusPageSettings, WebhookSettings, default_schedule

__all__ = ["LANGUAGES", "PYWIKIBOT_MARKER", "STATUS_KEYS", "Ambassador", "DeploymentSettings", "DigestPage",
           "FeedbackPage", "FeedbackSettings", "MentionSettings", "NewsletterSettings", "NewsletterWiki",
           "PhabricatorSettings", "ReportSettings", "Schedule", "ScheduledJob", "Settings", "StatusPageSettings",
           "StatusTable", "TaskQuery", "TemplateOverrides", "WebhookSettings", "WikiSettings", "default_schedule",
           "load_settings", "parse_settings", "pywikibot_dir_problem"]
