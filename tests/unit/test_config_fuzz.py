"""Config fuzzing: whatever is wrong with a config, the result is one clear line and exit code 2."""
from __future__ import annotations

import copy
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from bot.cli import main
from bot.errors import ConfigError
from bot.settings import parse_settings

ROOT = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((ROOT / "config" / "growth.yaml").read_text(encoding="utf-8"))

junk = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                 st.text(max_size=20), st.lists(st.text(max_size=5), max_size=3),
                 st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
                 st.sampled_from(["* * * * *", "not a cron", "Mars/Olympus", "#growth", "T0", "ftp://x", "", "de"]))


def paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, prefix + (i,))


ALL_PATHS = [p for p in paths(BASE) if p]


def apply(data, path, value, mode):
    node = data
    for key in path[:-1]:
        node = node[key]
    last = path[-1]
    if mode == "delete" and isinstance(node, dict):
        del node[last]
    elif mode == "unknown" and isinstance(node, dict):
        node[f"{last}_typo"] = value
    else:
        node[last] = value


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(ALL_PATHS), junk, st.sampled_from(["replace", "delete", "unknown"])),
                min_size=1, max_size=3))
def test_any_broken_config_is_a_config_error_or_valid(mutations):
    data = copy.deepcopy(BASE)
    for path, value, mode in mutations:
        try:
            apply(data, path, value, mode)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier mutation removed this path
    try:
        parse_settings(data, Path("fuzz.yaml"))
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith("fuzz.yaml: ") and "\n" not in message and len(message) < 400


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_any_text_file_gives_exit_0_or_2_never_a_traceback(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("cfg") / "config.yaml"
    path.write_text(text, encoding="utf-8")
    import contextlib
    import io
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["--config", str(path), "check-config"])
    assert code in (0, 2)
    if code == 2:
        assert err.getvalue().count("\n") == 1 and "Traceback" not in err.getvalue()
