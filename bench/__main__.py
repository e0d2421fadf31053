"""`make bench`: run every benchmark in one process and print the figures side by side.

    python -m bench                 all suites
    python -m bench client images   some of them
    python -m bench --write docs/benchmarks.md

Targets are strings such as "<= 0.25" or ">= 0.9"; a figure is marked met or MISSED by them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import re
import sys
import time
from pathlib import Path
from typing import Any

SUITES = [
    "client",
    "startup",
    "app",
    "burst",
    "first_page",
    "scale",
    "local_model",
    "images",
    "sentiment",
    "sentiment_card",
    "sentiment_page",
    "api",
]
_TARGET = re.compile(r"^\s*(<=|>=|<|>)\s*([0-9][0-9,]*\.?[0-9]*)")


def verdict(value: Any, target: str | None) -> str:
    match = _TARGET.match(target or "")
    if not match or not isinstance(value, (int, float)):
        return ""
    bound = float(match.group(2).replace(",", ""))
    ok = {
        "<=": value <= bound,
        ">=": value >= bound,
        "<": value < bound,
        ">": value > bound,
    }[match.group(1)]
    return "met" if ok else "MISSED"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("suites", nargs="*", default=SUITES, help=", ".join(SUITES))
    parser.add_argument("--write", type=Path, help="also write the table as Markdown here")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for suite in args.suites:
        started = time.perf_counter()
        module = importlib.import_module(f"bench.bench_{suite}")
        suite_rows = module.run()
        rows.extend(suite_rows)
        print(f"[{suite}: {time.perf_counter() - started:.1f} s]", file=sys.stderr)
        for row in suite_rows:
            mark = verdict(row["value"], row.get("target"))
            print(
                f"{row['name']:<62} {row['value']!s:>12} {row['unit']:<12} "
                f"{row.get('target') or '':<14} {mark}"
            )
    if args.write:
        lines = [
            "# Benchmarks",
            "",
            f"Measured {time.strftime('%Y-%m-%d')} on {machine()} with `make bench`.",
            "Figures are ratios or medians measured side by side in one run; the machine is shared",
            "and noisy, so compare ratios rather than absolute times.",
            "",
            "| figure | value | unit | target | |",
            "|---|---:|---|---|---|",
        ]
        for row in rows:
            target = row.get("target") or ""
            lines.append(
                f"| {row['name']} | {row['value']} | {row['unit']} | {target} | "
                f"{verdict(row['value'], target)} |"
            )
        args.write.write_text("\n".join(lines) + "\n", encoding="utf-8")
    missed = [r for r in rows if verdict(r["value"], r.get("target")) == "MISSED"]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
