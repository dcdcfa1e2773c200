"""Run every benchmark in bench/: each module with a top-level `main()`, in its own process.

Each benchmark sets Django up against a database of its own, so they cannot share a process. Name some to run
only those: `python -m bench notifications_fanout`.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benchmarks() -> list[str]:
    """Return the modules of bench/ that define `main()`, found without importing them."""
    found = []
    for path in sorted(HERE.glob("*.py")):
        if path.name.startswith("_"):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        if any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body):
            found.append(path.stem)
    return found


def main(argv: list[str]) -> int:
    available = benchmarks()
    chosen = argv or available
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        print(f"No benchmark named {', '.join(unknown)}; there are: {', '.join(available)}", file=sys.stderr)
        return 2
    failed = []
    for name in chosen:
        print(f"== bench.{name}", flush=True)
        started = time.perf_counter()
        code = f"import sys, bench.{name} as benchmark; sys.exit(benchmark.main())"
        result = subprocess.run([sys.executable, "-c", code], cwd=HERE.parent, check=False)
        outcome = "ok" if result.returncode == 0 else "FAILED"
        print(f"== bench.{name}: {outcome} in {time.perf_counter() - started:.1f} s")
        if result.returncode != 0:
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
