"""The CLI against the real local servers: one-line errors and exit codes."""
from __future__ import annotations

import pytest
import yaml

from bot.cli import main
from tests.integration.helpers import STATUS_PAGES, config_data, page_with_markers, set_secrets

pytestmark = pytest.mark.integration


@pytest.fixture
def config_file(wikis, conduit, tmp_path, pywikibot_dir, monkeypatch):
    conduit.create_project("Growth-Team", "growth-team")
    set_secrets(monkeypatch, wikis, conduit)

    def write(**changes):
        data = config_data(wikis, conduit, tmp_path, pywikibot_dir)
        for dotted, value in changes.items():
            node = data
            *path, last = dotted.split(".")
            for k in path:
                node = node[int(k) if k.isdigit() else k]
            node[last] = value
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return str(path)
    return write


def test_once_status_sync_succeeds(config_file, wikis, capsys):
    for code in ("cs", "ko"):
        wikis.api(code, wikis.wikis[code].human).edit(STATUS_PAGES[code], page_with_markers(), "x")
    assert main(["--config", config_file(), "once", "status-sync"]) == 0
    out = capsys.readouterr().out
    assert "saved cs:Wikipedie:Growth/Stav" in out and "2 saved" in out


def test_dry_run_cli_prints_diff(config_file, wikis, capsys):
    wikis.api("cs", wikis.wikis["cs"].human).edit(STATUS_PAGES["cs"], page_with_markers(), "x")
    wikis.api("ko", wikis.wikis["ko"].human).edit(STATUS_PAGES["ko"], page_with_markers(), "x")
    assert main(["--config", config_file(), "once", "status-sync", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "--- cs:Wikipedie:Growth/Stav (current)" in out and "would be saved (dry run)" in out


def test_bad_token(config_file, monkeypatch, capsys):
    monkeypatch.setenv("AMBASSADOR_CONDUIT_TOKEN", "api-" + "z" * 28)
    assert main(["--config", config_file(), "once", "status-sync"]) == 3
    err = capsys.readouterr().err.strip()
    assert "ERR-INVALID-AUTH" in err and err.count("\n") == 0 and "api-zzzz" not in err


def test_unknown_project(config_file, capsys):
    path = config_file(**{"status_tables.0.query.projects": ["no-such-project"]})
    assert main(["--config", path, "once", "status-sync"]) == 2
    assert "unknown Phabricator project(s)" in capsys.readouterr().err


def test_unreachable_conduit(config_file, capsys):
    path = config_file(**{"phabricator.url": "http://127.0.0.1:9/"})
    assert main(["--config", path, "once", "status-sync"]) == 1
    err = capsys.readouterr().err
    assert "cannot connect" in err and "127.0.0.1:9" in err


def test_wrong_wiki_password(config_file, monkeypatch, capsys):
    monkeypatch.setenv("AMBASSADOR_TEST_CS_PASSWORD", "0" * 32)
    assert main(["--config", config_file(), "once", "status-sync"]) == 3
    err = capsys.readouterr().err
    assert "login" in err and "0" * 32 not in err


def test_unreachable_wiki(config_file, capsys):
    path = config_file(**{"wikis.cs.api_url": "http://127.0.0.1:9/api.php"})
    assert main(["--config", path, "once", "status-sync"]) != 0
    err = capsys.readouterr().err
    assert "wiki cs" in err and "127.0.0.1:9" in err


def test_url_that_is_not_mediawiki(config_file, conduit, capsys):
    path = config_file(**{"wikis.cs.api_url": conduit.url + "api.php"})
    assert main(["--config", path, "once", "status-sync"]) == 2
    assert "does not answer like a MediaWiki api.php" in capsys.readouterr().err


def test_locked_state_store_is_a_clear_error_and_nothing_is_posted(config_file, wikis, tmp_path, capsys):
    import sqlite3

    from bot.store import SqlStore
    for code in ("cs", "ko"):
        wikis.api(code, wikis.wikis[code].human).edit(STATUS_PAGES[code], page_with_markers(), "x")
    path = config_file()
    SqlStore(f"sqlite:///{tmp_path}/state.sqlite").close()   # the schema exists; another process holds the lock
    holder = sqlite3.connect(tmp_path / "state.sqlite", timeout=0)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert main(["--config", path, "once", "status-sync"]) == 1
    finally:
        holder.rollback()
        holder.close()
    err = capsys.readouterr().err
    assert "state store" in err and "locked" in err and err.count("\n") == 1
    assert "ambassador-bot:status growth-current begin -->\n<!--" in wikis.api("cs").page_text(STATUS_PAGES["cs"])


# -- issue 12: check-config --online -------------------------------------------------------------

def _online_config(config_file, wikis, conduit, **changes):
    """Every named page exists and every named task is visible: the baseline the next test breaks."""
    for code in ("cs", "ko"):
        wikis.api(code, wikis.wikis[code].human).edit(STATUS_PAGES[code], page_with_markers(), "x")
    wikis.api("cs", wikis.wikis["cs"].human).edit("Wikipedie:Growth/Odběratelé", "* [[Wikipedista:Alice]]", "x")
    task = conduit.create_task("Řízení ambasadorů", projects=[])
    data = yaml.safe_load(open(config_file(), encoding="utf-8"))
    data["newsletters"] = {"projects": ["growth-team"], "wikis": {"cs": {
        "draft_page": "Wikipedie:Growth/Zpravodaj/{edition}/Koncept", "page": "Wikipedie:Growth/Zpravodaj/{edition}",
        "subscribers": "Wikipedie:Growth/Odběratelé"}}}
    data["reports"] = {"ambassadors": [{"id": "jana", "wikis": {"cs": wikis.wikis["cs"].human.username}, "task": task}]}
    for dotted, value in changes.items():
        node = data
        *path, last = dotted.split(".")
        for k in path:
            node = node[int(k) if k.isdigit() else k]
        node[last] = value
    path = config_file().replace("config.yaml", "online.yaml")
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(data, fh, allow_unicode=True)
    return path, task


def _last_change(wikis, code):
    rc = wikis.api(code, wikis.wikis[code].human).get(action="query", list="recentchanges", rclimit=1,
                                                       rcprop="ids")["query"]["recentchanges"]
    return rc[0]["rcid"] if rc else 0


def test_check_config_online_passes_when_everything_named_exists(config_file, wikis, conduit, capsys):
    path, _ = _online_config(config_file, wikis, conduit)
    assert main(["--config", path, "check-config", "--online"]) == 0, capsys.readouterr().err
    assert "logged in, every named page and task found" in capsys.readouterr().out


def test_check_config_online_finds_wrong_password_missing_task_and_page(config_file, wikis, conduit, monkeypatch,
                                                                         capsys):
    path, task = _online_config(config_file, wikis, conduit, **{
        "reports.ambassadors.0.task": 99999,
        "newsletters.wikis.cs.subscribers": "Wikipedie:Growth/Nikdo se nepřihlásil"})
    monkeypatch.setenv("AMBASSADOR_TEST_KO_PASSWORD", "not-the-bot-password-at-all")
    before = {code: _last_change(wikis, code) for code in ("cs", "ko")}
    transactions = len(conduit.call("transaction.search", {"objectIdentifier": f"T{task}"})["data"])
    # offline, the same config is "OK": the secrets are set, the keys are valid
    assert main(["--config", path, "check-config"]) == 0
    capsys.readouterr()
    assert main(["--config", path, "check-config", "--online"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    problems = [line for line in err if line.startswith("ambassador: problem: ")]
    assert len(problems) == 3, err
    assert any("wiki ko" in p and "login" in p for p in problems)
    assert any("reports.ambassadors[jana].task" in p and "T99999 does not exist" in p for p in problems)
    assert any("newsletters.wikis.cs.subscribers" in p and "'Wikipedie:Growth/Nikdo se nepřihlásil' does not exist"
               in p for p in problems)
    assert "not-the-bot-password" not in "\n".join(err)
    # nothing was written anywhere
    assert {code: _last_change(wikis, code) for code in ("cs", "ko")} == before
    assert len(conduit.call("transaction.search", {"objectIdentifier": f"T{task}"})["data"]) == transactions


def test_check_config_online_compares_the_signature_format_with_what_the_wiki_writes(config_file, wikis, conduit,
                                                                                     capsys):
    right, _ = _online_config(config_file, wikis, conduit, **{"wikis.cs.signature_format": "j. n. Y, H:i"})
    assert main(["--config", right, "check-config", "--online"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    # Day and month, hour and minute swapped: reads what the wiki writes now as another time.
    wrong, _ = _online_config(config_file, wikis, conduit, **{"wikis.cs.signature_format": "n. j. Y, i:H"})
    assert main(["--config", wrong, "check-config", "--online"]) == 2
    problems = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ambassador: problem: ")]
    assert len(problems) == 1 and "wiki cs: signature_format 'n. j. Y, i:H' does not read" in problems[0], problems
