"""Config: the shipped files load; every mistake is one line naming file and key, exit code 2."""
from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.errors import ConfigError
from bot.settings import LANGUAGES
from bot.settings import load_settings, parse_settings

ROOT = Path(__file__).resolve().parents[2]
DEMO = yaml.safe_load((ROOT / "config/demo.yaml").read_text())


@pytest.mark.parametrize("name", ["demo.yaml", "growth.yaml"])
def test_shipped_configs_load(name):
    s = load_settings(ROOT / "config" / name)
    assert s.status_tables and set(s.wikis) == {"cs", "ko"}


def mutate(path, value):
    data = copy.deepcopy(DEMO)
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@pytest.mark.parametrize("path,value,message", [
    (("bot", "user_agent"), "ambassador-bot/1", "bot.user_agent: must include a contact"),
    (("bot", "colour"), "blue", "bot.colour: unknown key"),
    (("phabricator", "url"), "ftp://x", "phabricator.url: must be an http(s) URL"),
    (("phabricator", "url"), KeyError, "phabricator.url: is required"),
    (("phabricator", "timeout"), "fast", "phabricator.timeout: must be int or float"),
    (("phabricator", "page_size"), 500, "phabricator.page_size: must be between 1 and 100"),
    (("phabricator", "token_env"), "my token", "phabricator.token_env: must be an environment variable name"),
    # A code no message file will ever have (ISO 639 reserves qaa-qtz for local use), and the list of those that do.
    (("phabricator", "language"), "qtz", "phabricator.language: must be one of " + ", ".join(LANGUAGES)),
    (("wikis", "cs", "timezone"), "Mars/Olympus", "wikis.cs.timezone: unknown time zone"),
    (("wikis", "cs", "language"), "qtz", "wikis.cs.language: must be one of " + ", ".join(LANGUAGES)),
    (("wikis", "cs", "api_url"), "https://cs.wikipedia.org/wiki/", "wikis.cs.api_url: must end with api.php"),
    (("wikis", "cs", "throttle_seconds"), True, "wikis.cs.throttle_seconds: must be a number"),
    (("wikis",), {}, "wikis: must name at least one wiki"),
    (("status_tables", 0, "query", "statuses"), ["opened"], "status_tables[0].query.statuses[0]: unknown status"),
    (("status_tables", 0, "query", "projects"), ["#growth-team"], "write the project slug without '#'"),
    (("status_tables", 0, "pages"), {"de": "X"}, "status_tables[0].pages.de: unknown key"),
    (("status_tables", 0, "sort"), ["size"], "status_tables[0].sort[0]: unknown sort key"),
    (("status_tables", 0, "max_drop_share"), 0, "status_tables[0].max_drop_share: must be in (0, 1]"),
    (("status_tables", 0, "id"), "Growth Current", "status_tables[0].id: must be lowercase"),
])
def test_bad_config_names_file_key_and_problem(path, value, message):
    with pytest.raises(ConfigError) as err:
        parse_settings(mutate(path, value), Path("cfg.yaml"))
    assert str(err.value).startswith("cfg.yaml: ") and message in str(err.value)
    assert "\n" not in str(err.value)


def test_yaml_syntax_error_names_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("bot:\n  user_agent: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML at line \d+"):
        load_settings(bad)


def test_cli_exit_code_2_and_one_line_for_bad_config(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(mutate(("wikis", "cs", "timezone"), "Nowhere")))
    assert main(["--config", str(bad), "check-config"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "wikis.cs.timezone: unknown time zone" in err and "Traceback" not in err


def test_cli_missing_config_file(capsys):
    assert main(["--config", "/nonexistent/x.yaml", "once", "status-sync"]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_cli_missing_token_is_named(monkeypatch, capsys):
    monkeypatch.delenv("AMBASSADOR_CONDUIT_TOKEN", raising=False)
    assert main(["--config", str(ROOT / "config/demo.yaml"), "once", "status-sync"]) == 2
    assert "set the environment variable AMBASSADOR_CONDUIT_TOKEN" in capsys.readouterr().err


def test_python_m_bot_runs_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bot", "--config", str(tmp_path / "none.yaml"), "check-config"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "config file not found" in proc.stderr


def _every_value(value, where="settings"):
    """Every dataclass, mapping and sequence reachable from the parsed settings, with its path."""
    import dataclasses

    yield where, value
    if dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            yield from _every_value(getattr(value, f.name), f"{where}.{f.name}")
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _every_value(v, f"{where}[{k!r}]")
    elif isinstance(value, (tuple, frozenset)):
        for i, v in enumerate(value):
            yield from _every_value(v, f"{where}[{i}]")


@pytest.mark.parametrize("name", ["growth.yaml", "newsletter-example.yaml", "feedback-example.yaml",
                                  "reports-example.yaml"])
def test_settings_cannot_be_changed_after_parsing(name, tmp_path):
    import dataclasses

    # The examples that are only sections are read merged into the demo config, as the docs say.
    example = yaml.safe_load((ROOT / "config" / name).read_text(encoding="utf-8"))
    data = copy.deepcopy(DEMO)
    data["wikis"]["en"] = {**data["wikis"]["cs"], "language": "en"}     # the feedback example's digest wiki
    for key, value in example.items():
        if key == "schedule" and "schedule" in data:
            data["schedule"]["jobs"].update(value.get("jobs", {}))
        else:
            data[key] = value
    s = parse_settings(data, tmp_path / name)
    assert all(getattr(s, key) is not None for key in example if key not in ("bot", "phabricator", "wikis",
                                                                                "status_tables"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.newsletters = None
    with pytest.raises(TypeError):
        s.wikis["de"] = s.wikis["cs"]
    seen = 0
    for where, value in _every_value(s):
        assert not isinstance(value, (dict, list, set)), f"{where} is a mutable {type(value).__name__}"
        if dataclasses.is_dataclass(value):
            assert type(value).__dataclass_params__.frozen, f"{where} is not a frozen dataclass"
        if isinstance(value, Mapping):
            with pytest.raises(TypeError):
                value["added"] = None
            seen += 1
    assert seen >= 2


def test_every_optional_section_is_a_typed_attribute():
    import typing

    from bot.settings import Settings
    from bot.settings.core import SECTIONS

    hints = typing.get_type_hints(Settings)
    assert set(SECTIONS) <= set(hints)
    assert all(type(None) in typing.get_args(hints[name]) for name in SECTIONS)
    assert not hasattr(Settings, "section") and "sections" not in hints


def test_phabricator_language_defaults_to_the_fallback_and_can_be_set():
    from bot.i18n import FALLBACK
    assert parse_settings(mutate(("phabricator", "url"), "http://127.0.0.1:1/"), Path("c.yaml")).phabricator.language \
        == FALLBACK
    assert parse_settings(mutate(("phabricator", "language"), "vi"), Path("c.yaml")).phabricator.language == "vi"
