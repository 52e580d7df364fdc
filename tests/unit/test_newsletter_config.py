"""The shipped configs: the newsletter example (send_at, report_page) merged into each shipped config loads,
and the worker's newsletter job runs often enough for send times."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.settings import load_settings, parse_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((ROOT / "config/newsletter-example.yaml").read_text(encoding="utf-8"))


def newsletter_every(settings) -> float:
    schedule = settings.schedule
    entries = [e for e in schedule.entries if e.job == "newsletter"]
    assert entries, "the newsletter job is not scheduled"
    assert all(e.cron is None for e in entries), "a cron time of day cannot honour an ambassador's send time"
    return max(e.every_seconds for e in entries)


@pytest.mark.parametrize("name", ["demo.yaml", "growth.yaml"])
def test_shipped_config_runs_the_newsletter_job_every_few_minutes(name):
    settings = load_settings(ROOT / "config" / name)
    assert settings.newsletters is not None
    assert newsletter_every(settings) <= 5 * 60


@pytest.mark.parametrize("name", ["demo.yaml", "growth.yaml"])
def test_newsletter_example_merged_into_shipped_config_loads(name, tmp_path):
    data = yaml.safe_load((ROOT / "config" / name).read_text(encoding="utf-8"))
    data["newsletters"] = EXAMPLE["newsletters"]
    data.setdefault("schedule", {}).setdefault("jobs", {}).update(EXAMPLE["schedule"]["jobs"])
    settings = parse_settings(data, tmp_path / name)
    nls = settings.newsletters
    assert nls.send_at == (0, 9, 0)                       # "next monday 09:00"
    assert nls.wikis["cs"].title("report_page", "2026-12") == "Wikipedie:Growth/Zpravodaj/Vydání/2026-12/Doručení"
    assert nls.wikis["ko"].title("report_page", "2026-12") == "위키백과:성장/소식지/발행/2026-12/배달 보고"
    assert newsletter_every(settings) <= 5 * 60
