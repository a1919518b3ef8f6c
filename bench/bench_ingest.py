"""Mailgun ingest benchmark: the full validating load against a bare DuckDB read_json of the same files.

    .venv/bin/python bench/bench_ingest.py [--events N] [--data realistic|synthetic|both]
                                           [--repeat R] [--cache DIR] [--dataset DIR] [--json PATH]

`realistic` (the default) is the data set `make bench` uses: `account-audit sample --accounts N/5
--events N`, Mailgun Events API v3 items as the bulk generator writes them (three sending domains, ten
daily dumps each, realistic event mixes and sizes), cached in DIR (default .bench/, which git ignores)
and shared with bench_audit.py (`--dataset DIR` takes a data set folder as it is instead, for
example one an earlier generator made, and ignores --events). `synthetic` is this script's own
simpler v3 lines (about 600 bytes each, K files, every 100th event repeated in the next file, so
de-duplication has work to do).

For each data set, in one process and R times back to back, it times (a) DuckDB's read_json of the
files into a table with the columns the loader reads and (b) audit.mailgun.load_events, which hashes,
counts, validates, de-duplicates and builds stg_events; (b) is also timed with the files' SHA-256
already known, as in a real run, where incremental.new_dumps hashes every dump before loading. Both
run on fresh in-memory connections with the default threads; the best of R is compared (the machine
may be shared, so the minimum is the least noisy estimate). Because the shared machine's speed drifts
over minutes, it also gives the median of the R paired ratios (each load against the read_json run just
before it), which a single lucky or unlucky run cannot move. The ratio (b)/(a) must stay at most 2.0.
Results go to stdout and to a JSON file (default .bench/bench_ingest.json).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from bench_audit import dataset  # noqa: E402

from audit import inputs  # noqa: E402
from audit.config import Config, EventsInput  # noqa: E402
from audit.inputs import Rejects, sha256_of  # noqa: E402
from audit.mailgun import load_events  # noqa: E402

DOMAIN = "mg.gitlab.com"
START = 1_794_000_000.0  # 2026-11-06
COLUMNS = (
    "{'id': 'VARCHAR', 'event': 'VARCHAR', 'timestamp': 'DOUBLE', 'recipient': 'VARCHAR', "
    "'severity': 'VARCHAR', 'reason': 'VARCHAR', "
    "'message': 'STRUCT(headers STRUCT(subject VARCHAR, \"message-id\" VARCHAR))', "
    "'delivery-status': 'STRUCT(code INTEGER, description VARCHAR, message VARCHAR)', "
    "'domain': 'STRUCT(name VARCHAR)'}"
)  # the fields the loader reads (mailgun_fast.READ_COLUMNS), each in the type it ends up as
FIRST = ("ana", "bo", "cy", "di", "ed", "fiona", "gu", "hal", "ian", "jo", "kim", "lee", "mo", "nia", "ola")
LAST = ("lima", "chen", "dee", "ray", "oh", "li", "kim", "ng", "smith", "garcia", "okafor", "novak")
HOSTS = ("gmail.com", "outlook.com", "acme.com", "proton.me", "example.org", "sunbirdair.com", "gitlab.com")
SUBJECTS = (
    "Reset password instructions",
    "Confirmation instructions",
    "Your invoice INV{n} is ready",
    "acme/platform | New issue: Upgrade runner images (#{n})",
    "Password Changed",
    "acme/web | Pipeline #{n} has failed",
)
DELIVERED = (
    '"delivery-status": {{"code": 250, "message": "OK", "description": "", "attempt-no": 1, '
    '"mx-host": "mx{m}.{host}", "tls": true, "session-seconds": {s}}}, '
)
FAILED = (
    '"severity": "permanent", "reason": "bounce", "delivery-status": {{"code": 550, '
    '"message": "5.1.1 <{rcpt}>: Recipient address rejected: User unknown", "description": "", '
    '"attempt-no": 1, "mx-host": "mx{m}.{host}", "tls": true, "session-seconds": {s}}}, '
)
LINE = (
    '{{"id": "{id}", "event": "{event}", "timestamp": {ts:.6f}, "log-level": "info", {extra}'
    '"envelope": {{"sender": "bounce+{tag}@mg.gitlab.com", "targets": "{rcpt}", "transport": "smtp", '
    '"sending-ip": "198.61.254.{ip}"}}, "flags": {{"is-routed": false, "is-authenticated": true}}, '
    '"message": {{"headers": {{"to": "{rcpt}", "message-id": "{mid}@mg.gitlab.com", '
    '"from": "GitLab <gitlab@mg.gitlab.com>", "subject": "{subject}"}}, "attachments": [], "size": {size}}}, '
    '"recipient": "{rcpt}", "recipient-domain": "{host}", "tags": [], "campaigns": [], '
    '"user-variables": {{}}}}\n'
)


def generate(folder: Path, events: int, files: int, seed: int = 7) -> list[Path]:
    """Realistic v3 items, about 600 bytes a line; every 100th event repeats in the next file."""
    folder.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(seed)
    people = [f"{rnd.choice(FIRST)}.{rnd.choice(LAST)}{i}" for i in range(50_000)]
    paths: list[Path] = []
    per_file = -(-events // files)
    written = 0
    carry: list[str] = []
    for index in range(files):
        path = folder / f"events-{index:03d}.jsonl"
        count = min(per_file, events - written)
        lines = carry[:count]
        carry = []
        while len(lines) < count:
            line = _line(rnd, people, written + len(lines))
            lines.append(line)
            if len(lines) % 100 == 0:
                carry.append(line)  # the nightly dumps overlap: same event in the next file
        path.write_text("".join(lines), encoding="utf-8")
        written += count
        paths.append(path)
    return paths


def _line(rnd: random.Random, people: list[str], n: int) -> str:
    host = HOSTS[n % len(HOSTS)]
    rcpt = f"{people[rnd.getrandbits(16) % len(people)]}@{host}"
    roll = rnd.random()
    event = (
        "delivered" if roll < 0.45 else "accepted" if roll < 0.9 else ("failed" if roll < 0.95 else "opened")
    )
    extra = ""
    if event == "delivered":
        extra = DELIVERED.format(m=n % 5, host=host, s=round(rnd.random() * 3, 3))
    elif event == "failed":
        extra = FAILED.format(m=n % 5, host=host, s=round(rnd.random() * 3, 3), rcpt=rcpt)
    return LINE.format(
        id=base64.urlsafe_b64encode(os.urandom(16)).decode()[:22],
        event=event,
        ts=START + n * 0.37 + rnd.random(),
        extra=extra,
        tag=f"{rnd.getrandbits(24):06x}",
        rcpt=rcpt,
        ip=n % 250,
        mid=f"{int(START) + n}.{rnd.getrandbits(48):012x}",
        subject=SUBJECTS[n % len(SUBJECTS)].format(n=rnd.randint(1000, 99999)),
        size=rnd.randint(1000, 90000),
        host=host,
    )


Inputs = tuple[EventsInput, ...]


def realistic(cache: Path, events: int, given: Path | None, seed: int = 7) -> tuple[list[Path], Inputs]:
    """The bulk generator's data set (accounts in the proportion make bench uses), one input per domain."""
    data = given or dataset(cache, max(events // 5, 1000), events, seed, gzip=False)[0]
    folders = sorted(p for p in (data / "mailgun").iterdir() if p.is_dir())
    inputs_ = tuple(EventsInput(f.name, str(f / "*.jsonl")) for f in folders)
    return sorted(p for f in folders for p in f.glob("*.jsonl")), inputs_


def synthetic(cache: Path, events: int, files: int) -> tuple[list[Path], Inputs]:
    folder = cache / f"events-{events}-{files}"
    paths = sorted(folder.glob("events-*.jsonl"))
    if len(paths) != files:
        started = time.perf_counter()
        paths = generate(folder, events, files)
        print(f"generated {events} events in {time.perf_counter() - started:.1f}s into {folder}")
    return paths, (EventsInput(DOMAIN, str(folder / "events-*.jsonl")),)


def baseline(paths: list[Path]) -> tuple[float, float, int]:
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    sql = "CREATE TABLE t AS SELECT * FROM read_json($files, format = 'newline_delimited', columns = %s)"
    sql %= COLUMNS  # a constant
    wall, cpu = time.perf_counter(), time.process_time()
    con.execute(sql, {"files": [str(p) for p in paths]}).fetchall()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rows = int(con.execute("SELECT count(*) FROM t").fetchall()[0][0])
    con.close()
    return wall, cpu, rows


def validating(paths: list[Path], events: Inputs, hash_known: bool) -> tuple[float, float, int]:
    """load_events on a fresh connection; with `hash_known`, as in a run, where incremental.new_dumps
    has already hashed every dump (untimed here) and the loader reuses that SHA-256."""
    inputs._HASHED.clear()
    if hash_known:
        for path in paths:
            sha256_of(path)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    wall, cpu = time.perf_counter(), time.process_time()
    stats = load_events(con, Config(), events, Rejects())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rows = sum(s.rows_read for s in stats)
    assert all(s.rows_read == s.rows_loaded + s.rows_rejected + s.rows_duplicate for s in stats)
    con.close()
    return wall, cpu, rows


def measure(kind: str, paths: list[Path], events: Inputs, repeat: int) -> dict[str, Any]:
    size = sum(p.stat().st_size for p in paths)
    base_runs, cold_runs, warm_runs = [], [], []
    for _ in range(repeat):
        base_runs.append(baseline(paths))
        cold_runs.append(validating(paths, events, hash_known=False))
        warm_runs.append(validating(paths, events, hash_known=True))
    base, cold, warm = min(base_runs), min(cold_runs), min(warm_runs)
    paired = statistics.median(c[0] / b[0] for b, c in zip(base_runs, cold_runs, strict=True))
    paired_warm = statistics.median(w[0] / b[0] for b, w in zip(base_runs, warm_runs, strict=True))
    result = {
        "data": kind,
        "files": len(paths),
        "bytes": size,
        "repeat": repeat,
        "read_json_seconds": round(base[0], 3),
        "load_events_seconds": round(cold[0], 3),
        "ratio": round(cold[0] / base[0], 3),
        "load_events_hash_known_seconds": round(warm[0], 3),
        "ratio_hash_known": round(warm[0] / base[0], 3),
        "paired_ratio_median": round(paired, 3),
        "paired_ratio_hash_known_median": round(paired_warm, 3),
        "read_json_cpu_seconds": round(min(r[1] for r in base_runs), 3),
        "load_events_cpu_seconds": round(min(r[1] for r in cold_runs), 3),
        "cpu_ratio": round(min(r[1] for r in cold_runs) / min(r[1] for r in base_runs), 3),
        "all_runs": {"read_json": base_runs, "load_events": cold_runs, "load_events_hash_known": warm_runs},
        "rows": {"read_json": base[2], "load_events_read": cold[2]},
    }
    print(
        f"{kind}: {cold[2]} events, {size / 1e9:.2f} GB in {len(paths)} files, best of {repeat}\n"
        f"  read_json:                    {result['read_json_seconds']:8.2f}s\n"
        f"  load_events:                  {result['load_events_seconds']:8.2f}s  ratio {result['ratio']:.2f}"
        " (target <= 2.0)\n"
        f"  load_events, hash already known (as after incremental.new_dumps): "
        f"{result['load_events_hash_known_seconds']:.2f}s  ratio {result['ratio_hash_known']:.2f}\n"
        f"  median of the {repeat} paired ratios (each run against the read_json just before it): "
        f"{paired:.2f}, hash known {paired_warm:.2f}\n"
        f"  cpu: read_json {result['read_json_cpu_seconds']:.2f}s, "
        f"load_events {result['load_events_cpu_seconds']:.2f}s",
        flush=True,
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--data", choices=("realistic", "synthetic", "both"), default="realistic")
    parser.add_argument("--files", type=int, default=10, help="synthetic data: number of files")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=ROOT / ".bench")
    parser.add_argument(
        "--dataset",
        type=Path,
        help="realistic data: an existing data set folder (DIR/mailgun/DOMAIN/*.jsonl), used as is",
    )
    parser.add_argument("--json", type=Path, default=None, help="default: CACHE/bench_ingest.json")
    args = parser.parse_args()
    kinds = ("realistic", "synthetic") if args.data == "both" else (args.data,)
    results = []
    for kind in kinds:
        paths, events = (
            realistic(args.cache, args.events, args.dataset)
            if kind == "realistic"
            else synthetic(args.cache, args.events, args.files)
        )
        results.append(measure(kind, paths, events, args.repeat))
    out = {
        "events": args.events,
        "cpus": os.cpu_count(),
        "load_average_end": os.getloadavg()[0],
        "runs": results,
    }
    path = args.json or args.cache / "bench_ingest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
