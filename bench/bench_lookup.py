"""Lookup speed on the sample, as a ratio against a bare baseline measured in the same run.

The baseline is the least any lookup can cost: a Python process that imports duckdb, opens the same
state file read-only and runs one query. The lookup is the real command (`python -m audit lookup`).
Both run as fresh processes, alternately, N times; medians are printed.

    .venv/bin/python bench/bench_lookup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=False, capture_output=True, cwd=ROOT)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        run = [
            "run",
            "--config",
            str(SAMPLE / "audit.toml"),
            "--as-of",
            "2026-11-20",
            "--out",
            str(out),
            "-q",
        ]
        subprocess.run([sys.executable, "-m", "audit", *run], check=True, cwd=ROOT)
        expected = json.loads((SAMPLE / "expected.json").read_text())
        account = expected["cases"][0]["id"]
        state = out / "state.duckdb"
        import duckdb

        with duckdb.connect(str(state), read_only=True) as con:
            query = "SELECT email FROM accounts WHERE account_id = ?"
            email = con.execute(query, [int(account)]).fetchall()[0][0]
        baseline_cmd = [sys.executable, "-c",
                        "import duckdb,sys; duckdb.connect(sys.argv[1], read_only=True)"
                        ".execute('SELECT count(*) FROM accounts').fetchall()", str(state)]  # fmt: skip
        lookup_cmd = [sys.executable, "-m", "audit", "lookup", email, "--out", str(out), "--json"]
        base, look = [], []
        for _ in range(args.runs):
            base.append(timed(baseline_cmd))
            look.append(timed(lookup_cmd))
    b, lk = statistics.median(base), statistics.median(look)
    print(f"baseline (open state + one query): median {b * 1000:.0f} ms over {args.runs} runs")
    print(f"account-audit lookup --json:       median {lk * 1000:.0f} ms over {args.runs} runs")
    print(f"ratio lookup / baseline: {lk / b:.2f}")


if __name__ == "__main__":
    main()
