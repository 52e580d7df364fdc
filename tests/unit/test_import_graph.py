"""The import graph: the layers contract names every module, and jobs and settings have no import loops."""
from __future__ import annotations

import configparser
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("bot")


def test_every_module_is_in_a_layer(graph):
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    layers = [name.strip() for line in config["importlinter:contract:layers"]["layers"].splitlines()
              for name in line.split("|") if name.strip()]
    outside = sorted(m for m in graph.modules
                     if m != "bot" and not any(m == layer or m.startswith(layer + ".") for layer in layers))
    assert outside == []


@pytest.mark.parametrize("package", ["bot.jobs", "bot.settings"])
def test_no_import_loop(graph, package):
    loops = set()
    for module in graph.find_descendants(package) | {package}:
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.startswith("bot.") and graph.find_shortest_chain(importer=imported, imported=module):
                loops.add(tuple(sorted((module, imported))))
    assert loops == set()
