"""Benchmark of duplicate_signups: time per stage, candidate pairs and peak memory at 100k .. 1M accounts.

    make bench                                   # 100k, 300k and 1M accounts
    .venv/bin/python bench/bench_matching.py --sizes 1000000 --repeat 2

Accounts come from `matching_labelled` (a third on a handful of webmail domains, company domains of
Zipf-like sizes, about 13% of people signed up more than once) and are cached as Parquet in the temp
folder. Each run is a fresh subprocess, so its peak RSS is the pass's own: loading the export into
DuckDB, then the pass. Targets at 1M accounts: at most 30 s wall for the pass and 2 GiB peak.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
TARGET_SECONDS, TARGET_BYTES = 30.0, 2 * 1024**3


def dataset(size: int, seed: int) -> Path:
    """Parquet file of about `size` labelled accounts, generated once and cached."""
    import polars as pl
    from matching_labelled import generate

    path = Path(tempfile.gettempdir()) / "account-audit-bench" / f"accounts-{size}-{seed}.parquet"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        accounts = generate(round(size / 1.148), seed)[:size]  # 1.148 accounts per person
        frame = pl.DataFrame(
            {
                "account_id": [a.id for a in accounts],
                "email": [a.email for a in accounts],
                "first_name": [a.first_name or None for a in accounts],
                "last_name": [a.last_name or None for a in accounts],
                "company": [a.company or None for a in accounts],
            }
        )
        frame.write_parquet(path)
        print(f"generated {frame.height} accounts in {time.perf_counter() - started:.0f}s -> {path}")
    return path


def child(path: Path) -> None:
    """One measured run: load the Parquet file into stg_accounts, run the pass, print JSON stats."""
    import duckdb

    from audit.matching import MatchingConfig, Stats, duplicate_signups
    from audit.schema import STG_ACCOUNTS, create_sql

    con = duckdb.connect()
    started = time.perf_counter()
    con.execute(create_sql("stg_accounts", STG_ACCOUNTS)).fetchall()
    con.execute(
        "INSERT INTO stg_accounts (account_id, email, first_name, last_name, company, confirmed_at, "
        "source_line) SELECT account_id, email, first_name, last_name, company, TIMESTAMP '2026-01-01', "
        "account_id FROM read_parquet($path)",
        {"path": str(path)},
    ).fetchall()
    ingest = time.perf_counter() - started
    stats = Stats()
    started = time.perf_counter()
    rows = duplicate_signups(con, MatchingConfig(), stats)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    out = {"ingest": ingest, "wall": wall, "rows": rows, "peak": peak, **asdict(stats)}
    out.pop("_t", None)
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--repeat", type=int, default=1, help="runs per size (timings are noisy)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[int, list[dict[str, object]]] = {}
    for size in sizes:
        path = dataset(size, args.seed)
        for _ in range(args.repeat):
            env = {**os.environ, "POLARS_MAX_THREADS": os.environ.get("POLARS_MAX_THREADS", "")}
            env = {k: v for k, v in env.items() if v}
            run = subprocess.run(
                [sys.executable, __file__, "--child", str(path)], capture_output=True, text=True, env=env
            )
            if run.returncode:
                sys.exit(f"run at {size} failed:\n{run.stderr}")
            results.setdefault(size, []).append(json.loads(run.stdout.strip().splitlines()[-1]))
    print(f"{os.cpu_count()} cores; seconds of the pass per stage (ingest into DuckDB is not part of it)")
    for size, runs in results.items():
        for r in runs:
            stages = "  ".join(f"{k} {v:.2f}" for k, v in r["seconds"].items())  # type: ignore[attr-defined]
            print(
                f"{size:>9,} accounts: pass {r['wall']:.2f}s (ingest {r['ingest']:.2f}s)  peak "
                f"{float(r['peak']) / 2**30:.2f} GiB  rows {r['rows']:,}  links {r['links']:,}\n"  # type: ignore[arg-type]
                f"  stages: {stages}"
            )
            cand = "  ".join(f"{k} {v:,}" for k, v in r["candidates"].items())  # type: ignore[attr-defined]
            print(f"  candidate pairs: {cand}")
    best = {size: min(float(r["wall"]) for r in runs) for size, runs in results.items()}  # type: ignore[arg-type]
    if len(best) > 1:
        small, large = min(best), max(best)
        print(
            f"growth {small:,} -> {large:,}: x{best[large] / best[small]:.1f} time "
            f"for x{large / small:.0f} accounts"
        )
    if max(best) >= 1_000_000:
        top = results[max(best)]
        wall, peak = best[max(best)], max(float(r["peak"]) for r in top)  # type: ignore[arg-type]
        ok = wall <= TARGET_SECONDS and peak <= TARGET_BYTES
        print(f"targets at {max(best):,}: {wall:.1f}s <= {TARGET_SECONDS:.0f}s and "
              f"{peak / 2**30:.2f} GiB <= 2 GiB: {'met' if ok else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
