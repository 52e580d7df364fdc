"""Issue 15: languages are data. No job and no domain module names a language: the words are in
bot/i18n/<lang>.json and the team's language is the setting `phabricator.language`."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot import i18n

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("bot/jobs", "bot/domain")


def codes() -> set[str]:
    return set(i18n.available_languages()) | {i18n.FALLBACK}


def language_literals(source: str, known: set[str]) -> list[tuple[int, str]]:
    """(line, code) of every string constant that is exactly a language code (words that merely
    contain one, like "cs" in "docs", are ordinary text)."""
    tree = ast.parse(source)
    # Pieces of an f-string are text around the values, not names of anything.
    in_fstrings = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    return sorted((node.lineno, node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in known
                  and id(node) not in in_fstrings)


def test_the_check_finds_a_code_and_leaves_words_alone():
    source = 'x = {"cs": 1}\nif lang == "ko":\n    pass\ny = "docs"\nz = f"{a}en"\n"""en"""\n'
    assert language_literals(source, {"cs", "ko", "en"}) == [(1, "cs"), (2, "ko"), (6, "en")]


def found_in(paths) -> list[str]:
    known = codes()
    assert {"cs", "ko", "en", "ar", "vi"} <= known
    return [f"{path.relative_to(ROOT)}:{line}: {code!r}" for path in paths
            for line, code in language_literals(path.read_text(encoding="utf-8"), known)]


@pytest.mark.parametrize("folder", CHECKED)
def test_no_language_code_in_jobs_or_domain(folder):
    found = found_in(p for p in sorted((ROOT / folder).rglob("*.py")))
    assert not found, "language codes in code (make them messages or settings):\n" + "\n".join(found)
