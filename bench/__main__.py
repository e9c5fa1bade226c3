"""Run every benchmark and write the results table that the README quotes.

    .venv/bin/python -m bench [--only NAME ...] [--output bench/results/latest.md]

Each ``bench/bench_*.py`` runs in its own process; its ``RESULT`` lines (see ``bench.common.report``) become rows
of one Markdown table, and its full output is kept beside the table.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

from bench.common import RESULT_PREFIX, ROOT

BENCH_DIR = ROOT / "bench"


def _row(result: dict[str, object]) -> str:
    def fmt(value: object) -> str:
        return "" if value is None else str(value)

    return "| {name} | {value} {unit} | {baseline} | {ratio} | {goal} | {note} |".format(
        name=result["name"],
        value=fmt(result["value"]),
        unit=result["unit"],
        baseline=f"{fmt(result['baseline'])} {fmt(result['baseline_value'])}".strip(),
        ratio=fmt(result["ratio"]),
        goal=fmt(result["goal"]),
        note=fmt(result["note"]),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=None, help="benchmark names (e.g. login sync)")
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "results" / "latest.md")
    args = parser.parse_args()
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if any(name in s.stem for name in args.only)]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    rows: list[str] = []
    failures: list[str] = []
    for script in scripts:
        started = time.monotonic()
        print(f"== {script.stem}", flush=True)
        process = subprocess.run(
            [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False
        )
        (args.output.parent / f"{script.stem}.txt").write_text(process.stdout + process.stderr)
        results = [
            json.loads(line[len(RESULT_PREFIX) :])
            for line in process.stdout.splitlines()
            if line.startswith(RESULT_PREFIX)
        ]
        rows.extend(_row(r) for r in results)
        took = time.monotonic() - started
        print(f"   {len(results)} result(s) in {took:.0f} s (exit {process.returncode})", flush=True)
        if process.returncode != 0:
            failures.append(f"{script.stem} exited {process.returncode}")
    header = [
        f"Benchmarks run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()}, "
        f"{platform.python_implementation()} {platform.python_version()}; command: `make bench`.",
        "",
        "| measure | value | baseline (same run) | ratio | goal | note |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    args.output.write_text("\n".join(header + rows + (["", *failures] if failures else [])) + "\n")
    print(args.output.read_text())
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
