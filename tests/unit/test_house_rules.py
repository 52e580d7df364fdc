"""Issue 12's house rules for `bot/`: no module over 500 lines, no function over 60.

A long module mixes responsibilities and a long function hides its steps; both made
the code hard to find one's way in. Lines are counted as the file has them, a function
from its `def` line to its last line (`ast`), nested functions inside their parent too.
"""
from __future__ import annotations

import ast
from pathlib import Path

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60

BOT = Path(__file__).resolve().parents[2] / "bot"

# Empty since issue 12's splits. An entry may only ever be a stop-gap for a module or function being
# split, and `test_allow_list_is_not_stale` fails as soon as one is no longer over.
ALLOWED_LONG_MODULES: set[str] = set()
ALLOWED_LONG_FUNCTIONS: set[str] = set()


def _functions(tree: ast.AST, prefix: str = ""):
    """(qualified name, function node) for every function, methods and nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def over_the_limits(root: Path) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """Modules over the line limit (name -> lines) and functions over it (name -> (lines, line of `def`))."""
    modules: dict[str, int] = {}
    functions: dict[str, tuple[int, int]] = {}
    for path in sorted(root.rglob("*.py")):
        name = f"{root.name}/{path.relative_to(root).as_posix()}"
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            modules[name] = lines
        for qualname, node in _functions(ast.parse(text, filename=str(path))):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                functions[f"{name}::{qualname}"] = (length, node.lineno)
    return modules, functions


def test_no_module_over_500_lines():
    modules, _ = over_the_limits(BOT)
    new = {name: lines for name, lines in modules.items() if name not in ALLOWED_LONG_MODULES}
    assert not new, ("modules over %d lines (split them by responsibility): " % MAX_MODULE_LINES
                     + ", ".join(f"{name} ({lines})" for name, lines in sorted(new.items())))


def test_no_function_over_60_lines():
    _, functions = over_the_limits(BOT)
    new = {name: size for name, size in functions.items() if name not in ALLOWED_LONG_FUNCTIONS}
    assert not new, ("functions over %d lines (extract named steps): " % MAX_FUNCTION_LINES
                     + ", ".join(f"{name} at line {at} ({lines})" for name, (lines, at) in sorted(new.items())))


def test_allow_list_is_not_stale():
    modules, functions = over_the_limits(BOT)
    stale = sorted((ALLOWED_LONG_MODULES - set(modules)) | (ALLOWED_LONG_FUNCTIONS - set(functions)))
    assert not stale, f"no longer over the limit (or gone): remove from the allow-list in {__name__}: {stale}"


def test_the_measure_finds_a_long_module_and_a_long_function(tmp_path):
    root = tmp_path / "bot"
    (root / "jobs").mkdir(parents=True)
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    (root / "jobs" / "long.py").write_text(
        "class Job:\n    def run(self):\n        def step():\n" + body.replace("    ", "            ")
        + "\n" * (MAX_MODULE_LINES - MAX_FUNCTION_LINES))
    (root / "short.py").write_text("def f():\n" + "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES - 1)))
    modules, functions = over_the_limits(root)
    assert modules == {"bot/jobs/long.py": MAX_MODULE_LINES + 3}
    assert set(functions) == {"bot/jobs/long.py::Job.run", "bot/jobs/long.py::Job.run.step"}
    assert functions["bot/jobs/long.py::Job.run.step"] == (MAX_FUNCTION_LINES + 1, 3)
