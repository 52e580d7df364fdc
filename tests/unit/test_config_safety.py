"""Issue 17 items 4 and 5: what a bad or hostile config could still do, each refused in one line.

Every probe here was accepted (or hung, or crashed) before: credentials in a URL, a YAML
alias bomb, 5,000 levels of nesting, duplicate keys, infinite numbers, page titles with
markup, values ending in a newline, 10 MB values, a newsletter name that is Remarkup,
and a pywikibot_dir that is not the bot's own.
"""
from __future__ import annotations

import contextlib
import copy
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.jobs.registry import check_settings
from bot.errors import ConfigError
from bot.settings import PYWIKIBOT_MARKER, load_settings, parse_settings

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "tests" / "configs"
BASE = yaml.safe_load((CONFIGS / "base.yaml").read_text(encoding="utf-8"))
SECRET = "Sup3rS3cretPW"


def check_config(path: Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["--config", str(path), "check-config"])
    return code, err.getvalue()


def assert_one_line_exit_2(path: Path, *fragments: str) -> str:
    code, err = check_config(path)
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err and str(path) in err, err
    for fragment in fragments:
        assert fragment in err, err
    return err


def with_change(*changes) -> dict:
    data = copy.deepcopy(BASE)
    for path, value in changes:
        node = data
        for key in path[:-1]:
            node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
        node[path[-1]] = value
    return data


def refused(data: dict, *fragments: str) -> str:
    with pytest.raises(ConfigError) as err:
        parse_settings(data, Path("hostile.yaml"))
    message = str(err.value)
    assert message.startswith("hostile.yaml: ") and "\n" not in message and len(message) < 400, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_base_config_is_valid():
    assert load_settings(CONFIGS / "base.yaml").status_tables[0].id == "growth"


# -- item 4: credentials in a URL ------------------------------------------------------------------

def test_url_with_credentials_is_refused_without_echoing_the_password():
    err = assert_one_line_exit_2(CONFIGS / "url_credentials.yaml", "phabricator.url: must not hold credentials",
                                 "environment")
    assert SECRET not in err


@pytest.mark.parametrize("path,url", [
    (("phabricator", "url"), f"https://phabricator.example.org/?token={SECRET}"),
    (("phabricator", "url"), f"https://phabricator.example.org/api/?api.token=cli-{SECRET}"),
    (("phabricator", "url"), f"https://{SECRET}@phabricator.example.org/"),
    (("wikis", "cs", "api_url"), f"https://bot:{SECRET}@cs.wikipedia.example/w/api.php"),
    (("wikis", "cs", "api_url"), f"https://cs.wikipedia.example/w/api.php?lgpassword={SECRET}"),
])
def test_token_or_password_in_any_url_is_refused(path, url):
    message = refused(with_change((path, url)), ".".join(path), "environment")
    assert SECRET not in message


# -- item 5: the YAML loader -----------------------------------------------------------------------

def test_alias_bomb_is_refused_at_once():
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "bot", "--config", str(CONFIGS / "alias_bomb.yaml"), "check-config"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "status_tables[0].query.tasks" in proc.stderr and "aliases" in proc.stderr
    assert time.monotonic() - start < 30


def test_deep_nesting_is_one_line_not_a_traceback(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("bot: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    assert_one_line_exit_2(path, "nested deeper than")
    path.write_text("bot:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 500)) + "  " * 500 + "x: 1\n")
    assert_one_line_exit_2(path, "nested deeper than")


def test_recursive_alias_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text((CONFIGS / "base.yaml").read_text() + "status_page: &loop {pages: *loop}\n")
    assert_one_line_exit_2(path, "status_page.pages", "recursive")


def test_duplicate_key_is_refused():
    assert_one_line_exit_2(CONFIGS / "duplicate_key.yaml", "phabricator.url: duplicate key (first on line 6)")


def test_ten_megabyte_value_is_refused(tmp_path):
    path = tmp_path / "big.yaml"
    text = (CONFIGS / "base.yaml").read_text()
    path.write_text(text.replace('username: TestBot', 'username: "' + "x" * 10_000_000 + '"'))
    assert_one_line_exit_2(path, "(file): is larger than")
    path.write_text(text.replace('username: TestBot', 'username: "' + "x" * 100_000 + '"'))
    assert_one_line_exit_2(path, "wikis.cs.username: the value is 100000 characters long")
    refused(with_change((("bot", "user_agent"), "a@b " + "x" * 10_000_000)), "bot.user_agent", "characters long")


@pytest.mark.parametrize("path", [("wikis", "cs", "throttle_seconds"), ("wikis", "cs", "min_edit_interval_minutes"),
                                  ("bot", "full_refresh_hours"), ("phabricator", "timeout")])
@pytest.mark.parametrize("value", [float("inf"), float("nan"), 10**400, 1e300])
def test_numbers_must_be_finite_and_in_range(path, value):
    refused(with_change((path, value)), ".".join(path))


@pytest.mark.parametrize("text", [".inf", ".nan", "-.inf", "1e400"])
def test_yaml_infinity_is_refused_from_a_file(tmp_path, text):
    path = tmp_path / "inf.yaml"
    path.write_text((CONFIGS / "base.yaml").read_text().replace("username: TestBot",
                                                                f"username: TestBot\n    throttle_seconds: {text}"))
    assert_one_line_exit_2(path, "wikis.cs.throttle_seconds")


HOSTILE_TITLES = ["A|B", "A#B", "A[[B", "A{{B", "A<B", "A>B", "A[B", "A]B", "A{B", "A}B", "A\nB", "A\tB", "A\x00B",
                  "A~~~~", "A\ud800B", "x" * 300, " A"]


@pytest.mark.parametrize("title", HOSTILE_TITLES, ids=range(len(HOSTILE_TITLES)))
@pytest.mark.parametrize("path", [
    ("status_tables", 0, "pages", "cs"),
    ("wikis", "cs", "run_page"),
    ("wikis", "cs", "username"),
    ("status_page", "pages", "cs"),
    ("reports", "ambassadors", 0, "page", "title"),
    ("reports", "ambassadors", 0, "wikis", "cs"),
    ("feedback", "pages", 0, "title"),
    ("templates", "cs", "status_table"),
])
def test_every_page_title_key_uses_the_title_check(path, title):
    data = copy.deepcopy(BASE)
    data["status_page"] = {"pages": {"cs": "Wikipedista:TestBot/Běh"}}
    data["reports"] = {"ambassadors": [{"id": "jana", "wikis": {"cs": "Jana"}, "task": "T1",
                                        "page": {"wiki": "cs", "title": "Wikipedista:Jana/Přehled"}}]}
    data["feedback"] = {"pages": [{"wiki": "cs", "title": "Wikipedie:Growth/Zpětná vazba", "task": "T2"}]}
    data["templates"] = {"cs": {"status_table": "Wikipedista:TestBot/šablona"}}
    parse_settings(copy.deepcopy(data), Path("hostile.yaml"))      # valid before the change
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = title
    refused(data, ".".join(str(p) for p in path).replace(".0.", "[0].").replace("s.0", "s[0]"))


def test_title_injection_file_is_refused():
    assert_one_line_exit_2(CONFIGS / "title_injection.yaml", "status_tables[0].pages.cs: not a valid page title")


@pytest.mark.parametrize("path,value", [
    (("status_tables", 0, "id"), "growth\n"),
    (("webhook", "path"), "/webhook\n"),
    (("wikis", "cs", "run_value"), "run\n"),
    (("wikis", "cs", "run_value"), "run "),
    (("phabricator", "url"), "https://phabricator.example.org/\n"),
    (("phabricator", "url"), "https://phabricator.example.org/\nX-Evil: 1"),
    (("wikis", "cs", "api_url"), "https://cs.wikipedia.example/w/api.php\n"),
    (("phabricator", "token_env"), "TOKEN\n"),
    (("status_tables", 0, "query", "tasks"), ["T1\n"]),
])
def test_values_ending_in_a_newline_are_refused(path, value):
    data = with_change((path, value))
    if path[0] == "status_tables" and path[-1] == "tasks":
        data["status_tables"][0]["query"] = {"tasks": value}
    refused(data, ".".join(str(p) for p in path).replace(".0.", "[0]."))


@pytest.mark.parametrize("name", ["@all {F1}", "{T1}", "**bold**", "[[x]]", "''x''", "a ~~~~", "T123 news"])
def test_newsletter_name_that_is_markup_is_refused(name, tmp_path, capsys):
    data = with_change((("newsletters",), {
        "projects": ["growth-team"], "names": {"en": name},
        "wikis": {"cs": {"draft_page": "Wikipedie:Z/{edition}", "page": "Wikipedie:Z/V/{edition}",
                         "subscribers": "Wikipedie:Z/O"}}}))
    with pytest.raises(ConfigError) as err:
        check_settings(parse_settings(data, Path("hostile.yaml")))
    assert str(err.value).startswith("hostile.yaml: newsletters.names.en: must be plain text"), err.value
    config = tmp_path / "bot.yaml"                 # the shell checks it with every command
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["--config", str(config), "check-config"]) == 2
    assert "newsletters.names.en: must be plain text" in capsys.readouterr().err
    data["newsletters"]["names"]["en"] = "Growth newsletter"
    settings = parse_settings(data, Path("ok.yaml"))
    check_settings(settings)
    assert settings.newsletters.names == {"en": "Growth newsletter"}


# -- pywikibot_dir must be the bot's own -------------------------------------------------------------

def pwb(folder) -> dict:
    return with_change((("bot", "pywikibot_dir"), str(folder)))


def test_pywikibot_dir_etc_is_refused():
    message = refused(pwb("/etc"), "bot.pywikibot_dir", "the bot did not write")
    assert "/etc" in message


def test_pywikibot_dir_that_is_not_the_bots_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    refused(pwb(tmp_path), "bot.pywikibot_dir")
    (tmp_path / "user-config.py").write_text("# someone else's pywikibot config\n")
    refused(pwb(tmp_path), "bot.pywikibot_dir")
    target = tmp_path / "elsewhere"
    target.mkdir()
    (tmp_path / "link").symlink_to(target)
    refused(pwb(tmp_path / "link"), "not a plain folder")
    (tmp_path / "file").write_text("x")
    refused(pwb(tmp_path / "file"), "not a plain folder")


def test_pywikibot_dir_absent_empty_or_already_the_bots_is_accepted(tmp_path):
    assert parse_settings(pwb(tmp_path / "new"), Path("ok.yaml")).pywikibot_dir == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    parse_settings(pwb(tmp_path / "empty"), Path("ok.yaml"))
    from bot.adapters.wiki import USER_CONFIG
    assert USER_CONFIG.startswith(PYWIKIBOT_MARKER)       # the marker is what the adapter writes
    ours = tmp_path / "ours"
    ours.mkdir()
    (ours / "user-config.py").write_text(USER_CONFIG)
    (ours / "passwords.py").write_text("")
    (ours / "apicache").mkdir()
    parse_settings(pwb(ours), Path("ok.yaml"))


def test_pywikibot_dir_of_another_user_is_refused(tmp_path):
    if os.getuid() != 0:
        refused(pwb("/"), "belongs to another user")        # root's folder, seen by anyone else
        return
    theirs = tmp_path / "theirs"                            # as root: a folder given to "nobody"
    theirs.mkdir()
    os.chown(theirs, 65534, 65534)
    refused(pwb(theirs), "belongs to another user")
