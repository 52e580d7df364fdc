"""`make bench`: run every benchmark in bench/ and write bench/RESULTS.md.

Benchmarks print their own tables; this collects them with the date and the
machine, so the numbers in the README can be traced to a run.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benchmarks() -> list[str]:
    """The modules of bench/ that are benchmarks: those with a top-level `def main(`.

    Helpers (servers.py, this file) have none; collecting servers.py as a benchmark made
    `make bench` fail on a fresh clone.
    """
    return sorted(p.stem for p in HERE.glob("*.py")
                  if p.stem not in ("run", "__init__") and "\ndef main(" in p.read_text(encoding="utf-8"))


def main(argv=None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or benchmarks()
    sections = [f"# Benchmark results\n\nRun {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
                f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.\n"]
    failed = 0
    for name in names:
        buffer = io.StringIO()
        print(f"== bench.{name}", file=sys.stderr)
        t0 = time.perf_counter()
        try:
            with contextlib.redirect_stdout(buffer):
                importlib.import_module(f"bench.{name}").main()
            status = ""
        except Exception as exc:  # a broken benchmark is reported, the others still run
            failed += 1
            status = f"\n**failed**: {type(exc).__name__}: {exc}\n"
        output = buffer.getvalue()
        sys.stdout.write(output)
        sections.append(f"## {name}\n\n```\n{output.rstrip()}\n```\n{status}\n({time.perf_counter() - t0:.0f} s)\n")
    (HERE / "RESULTS.md").write_text("\n".join(sections), encoding="utf-8")
    print(f"wrote {HERE / 'RESULTS.md'}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
