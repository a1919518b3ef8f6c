"""Benchmark of the whole nightly run against a bare DuckDB scan of the same inputs (issue 7).

    make bench                                       # 1M accounts, 5M events, 2 runs of each side
    .venv/bin/python bench/bench_audit.py --scaling  # 100k, 300k, 1M accounts (events x5)
    .venv/bin/python bench/bench_audit.py --accounts 100000 --events 500000 --repeat 3 --profile

The data set is made by `account-audit sample --accounts N --events M` and cached in .bench/ (about
4 GB at 1M/5M; remade when the generator's source changes). Every measurement is a fresh subprocess,
so wall time and peak RSS are per side; the sides alternate so that load from other processes on the
shared machine hits both alike, and the spread of the repeats is reported with the median.
Targets: audit wall <= 2.0 x bare scan, peak RSS <= 2 GiB at 1M/5M, growth close to linear.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from audit_measure import Run, gib, load_average, run_child, summary  # noqa: E402

TARGET_RATIO, TARGET_RSS = 2.0, 2 * 1024**3
SCALING = ((100_000, 500_000), (300_000, 1_500_000), (1_000_000, 5_000_000))


def code_version(src: str | None) -> str:
    """Which audit code was measured: the --src tree's COMMIT file, else this checkout's HEAD (+dirty)."""
    if src and (Path(src) / "COMMIT").exists():
        return (Path(src) / "COMMIT").read_text().strip()
    git = ["git", "-C", str(ROOT)]
    try:
        head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "audit", "sql"], capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    return head + (" + uncommitted changes" if dirty.stdout.strip() else "")


def fingerprint() -> str:
    """The generator's source: a cached data set made by other code is made again."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "audit").glob("sample*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def dataset(cache: Path, accounts: int, events: int, seed: int, gzip: bool) -> tuple[Path, dict[str, Any]]:
    """The cached data set for these parameters, generated (and timed) when missing or stale."""
    data = cache / f"data-{accounts}-{events}-s{seed}{'-gz' if gzip else ''}"
    stamp = data / ".bench-stamp.json"
    want = fingerprint()
    if stamp.exists() and json.loads(stamp.read_text()).get("fingerprint") == want:
        return data, json.loads(stamp.read_text())
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    print(f"generating {accounts:,} accounts and {events:,} events into {data} ...", flush=True)
    args = ["generate", str(data), str(accounts), str(events), str(seed), *(["--gzip"] if gzip else [])]
    run = run_child(args)
    info = {
        "fingerprint": want,
        "generate_wall": run.wall,
        "generate_peak_rss": run.peak_rss,
        "generate_cpu": run.cpu,
        **run.result,
    }
    stamp.write_text(json.dumps(info, indent=2))
    print(
        f"  generated in {run.wall:.1f}s wall ({run.cpu:.1f}s cpu), peak {gib(run.peak_rss)}, "
        f"{run.result['bytes'] / 1e9:.2f} GB",
        flush=True,
    )
    return data, info


def measure(data: Path, cache: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Alternate baseline and audit runs; summarise each side and the ratio of their medians."""
    env = dict(os.environ)
    if args.src:
        env["PYTHONPATH"] = str(Path(args.src).resolve())
    scans: list[Run] = []
    audits: list[Run] = []
    columns: list[Run] = []
    for i in range(args.repeat):
        result = cache / "runs" / "baseline.json"
        result.parent.mkdir(parents=True, exist_ok=True)
        scans.append(run_child(["baseline", str(data), str(result)], result=result))
        out = cache / "runs" / f"audit-{i}"
        shutil.rmtree(out, ignore_errors=True)
        extra = ["--memory-limit", args.memory_limit] if args.memory_limit else []
        if args.profile and i == 0:
            extra += ["--profile", str(cache / "audit.prof")]
        result = cache / "runs" / "audit.json"
        audits.append(run_child(["audit", str(data), str(result), str(out), *extra], env=env, result=result))
        shutil.rmtree(out, ignore_errors=True)
        if i == 0:  # once: the materialising read, for reference
            result = cache / "runs" / "baseline-columns.json"
            columns.append(run_child(["baseline-columns", str(data), str(result)], result=result))
        print(
            f"  run {i + 1}: scan {scans[-1].wall:.1f}s / {gib(scans[-1].peak_rss)}, "
            f"audit {audits[-1].wall:.1f}s / {gib(audits[-1].peak_rss)} (load {load_average():.1f})",
            flush=True,
        )
    scan, full = summary(scans), summary(audits)
    stage_names = sorted({s for r in audits for s in r.result["stages"]})
    stages = {s: statistics.median(r.result["stages"].get(s, 0.0) for r in audits) for s in stage_names}
    return {
        "baseline": scan | {"inner": scans[-1].result},
        "audit": full | {"reports": audits[-1].result["reports"], "accuracy": audits[-1].result["accuracy"]},
        "stages": dict(sorted(stages.items(), key=lambda kv: -kv[1])),
        "stages_per_run": [r.result["stages"] for r in audits],
        "stage_peak_rss": {s: max(r.result["stage_peak_rss"].get(s, 0) for r in audits) for s in stage_names},
        "cpu_per_run": {"baseline": [r.cpu for r in scans], "audit": [r.cpu for r in audits]},
        "ratio": full["wall_median"] / scan["wall_median"],
        "ratio_per_run": [a.wall / b.wall for a, b in zip(audits, scans, strict=True)],
        "baseline_every_column": summary(columns) | {"inner": columns[-1].result},
        "ratio_every_column": full["wall_median"] / summary(columns)["wall_median"],
    }


def report(size: tuple[int, int], info: dict[str, Any], m: dict[str, Any]) -> None:
    b, a = m["baseline"], m["audit"]

    def row(label: str, s: dict[str, Any]) -> str:
        spread = f"({s['wall_min']:.1f}-{s['wall_max']:.1f})"
        rss, cpu = gib(s["peak_rss_max"]), s["cpu_median"]
        return f"  {label:<24} {s['wall_median']:>7.1f} s {spread:<13} {rss:>10} {cpu:>8.1f} s"

    print(f"\n{size[0]:,} accounts, {info['n_events']:,} events, {info['bytes'] / 1e9:.2f} GB of input")
    print(f"  {'':<24} {'wall median (min-max)':<23} {'peak RSS':>10} {'cpu':>10}")
    print(row("bare scan (count(*))", b))
    print(row("full audit", a))
    ok = "ok" if m["ratio"] <= TARGET_RATIO else "OVER"
    per_run = ", ".join(f"{r:.2f}" for r in m["ratio_per_run"])
    print(
        f"  ratio audit / scan: {m['ratio']:.2f} (per run {per_run}; target <= {TARGET_RATIO}: {ok}); "
        f"vs a scan of every column: {m['ratio_every_column']:.2f}"
    )
    mem = "ok" if a["peak_rss_max"] <= TARGET_RSS else "OVER"
    print(f"  audit peak RSS {gib(a['peak_rss_max'])} (target <= 2 GiB: {mem})")
    print("  stages (s, median): " + ", ".join(f"{k} {v:.1f}" for k, v in m["stages"].items()))
    peaks = sorted(m["stage_peak_rss"].items(), key=lambda kv: -kv[1])[:5]
    print("  peak RSS by stage: " + ", ".join(f"{k} {gib(v)}" for k, v in peaks))
    acc = a["accuracy"]
    parts = []
    for check, v in acc.items():
        if not isinstance(v, dict):
            parts.append(f"{check} {v}")
            continue
        parts.append(f"{check} {v['missed']} missed/{v['extra']} extra")
        missed = {k: r for k, r in v.get("missed_by_variant", {}).items() if not r.startswith("0/")}
        if missed:
            parts[-1] += " (missed by kind: " + ", ".join(f"{k} {r}" for k, r in missed.items()) + ")"
    print("  accuracy vs expected.json: " + ", ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each side (default 2)")
    parser.add_argument("--scaling", action="store_true", help="100k, 300k and 1M accounts, events x5")
    parser.add_argument("--gzip", action="store_true", help="gzipped dumps (level 1) instead of plain .jsonl")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the first audit run -> .bench/audit.txt"
    )
    parser.add_argument(
        "--memory-limit", help="DuckDB memory_limit for the audit (default: the job's, [duckdb] memory_limit)"
    )
    parser.add_argument(
        "--src", help="measure the audit code in this source tree (PYTHONPATH), e.g. a git export"
    )
    parser.add_argument("--cache", type=Path, default=ROOT / ".bench")
    parser.add_argument("--results", type=Path, help="JSON results (default: CACHE/results.json)")
    parser.add_argument(
        "--summary", type=Path, help="also write a compact summary here (e.g. bench/results/)"
    )
    args = parser.parse_args()
    sizes = SCALING if args.scaling else ((args.accounts, args.events),)
    print(
        f"bench_audit: {len(sizes)} size(s), {args.repeat} run(s) of each side, "
        f"{os.cpu_count()} cores, load average {load_average():.1f}",
        flush=True,
    )
    results: dict[str, Any] = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "code": code_version(args.src),
        "sizes": [],
    }
    for size in sizes:
        data, info = dataset(args.cache, *size, args.seed, args.gzip)
        m = measure(data, args.cache, args)
        report(size, info, m)
        results["sizes"].append({"accounts": size[0], "events": info["n_events"], "generator": info, **m})
    if len(sizes) > 1:
        scaling_table(results["sizes"])
    results["load_average_end"] = load_average()
    path = args.results or args.cache / "results.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"\nresults: {path}")
    if args.summary:
        write_summary(results, args.summary)


def write_summary(results: dict[str, Any], path: Path) -> None:
    """The figures worth committing (bench/results/): per size, both sides, ratios, stages, memory."""

    def r3(x: float) -> float:
        return round(x, 3)

    sizes = [
        {
            "accounts": s["accounts"],
            "events": s["events"],
            "input_bytes": s["generator"]["bytes"],
            "scan_count_wall": r3(s["baseline"]["wall_median"]),
            "scan_count_walls": [r3(w) for w in s["baseline"]["walls"]],
            "scan_every_column_wall": r3(s["baseline_every_column"]["wall_median"]),
            "audit_wall": r3(s["audit"]["wall_median"]),
            "audit_walls": [r3(w) for w in s["audit"]["walls"]],
            "ratio": r3(s["ratio"]),
            "ratio_every_column": r3(s["ratio_every_column"]),
            "scan_peak_rss_gib": r3(s["baseline"]["peak_rss_max"] / 1024**3),
            "audit_peak_rss_gib": r3(s["audit"]["peak_rss_max"] / 1024**3),
            "stages": {k: r3(v) for k, v in s["stages"].items()},
            "stage_peak_rss_gib": {k: r3(v / 1024**3) for k, v in s["stage_peak_rss"].items()},
            "accuracy": s["audit"]["accuracy"],
            "generate_wall": r3(s["generator"]["generate_wall"]),
            "generate_cpu": r3(s["generator"]["generate_cpu"]),
        }
        for s in results["sizes"]
    ]
    head = {k: results[k] for k in ("started", "cores", "code") if k in results}
    head["load_average_end"] = results.get("load_average_end")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(head | {"sizes": sizes}, indent=2) + "\n")


def scaling_table(sizes: list[dict[str, Any]]) -> None:
    print("\nscaling          scan s   audit s   ratio   audit RSS   s per 100k accounts")
    for s in sizes:
        a = s["audit"]
        print(
            f"  {s['accounts']:>9,} {s['baseline']['wall_median']:>9.1f} {a['wall_median']:>9.1f} "
            f"{s['ratio']:>7.2f} {gib(a['peak_rss_max']):>11} {a['wall_median'] / s['accounts'] * 1e5:>12.1f}"
        )


if __name__ == "__main__":
    main()
