"""The measured side of bench_audit.py: one process per measurement, so its peak RSS is its own.

    python bench/audit_worker.py generate DATA_DIR ACCOUNTS EVENTS SEED [--gzip]
    python bench/audit_worker.py baseline|baseline-columns DATA_DIR RESULT.json
    python bench/audit_worker.py audit DATA_DIR RESULT.json OUT_DIR [--memory-limit 1GB] [--profile FILE]

Each mode writes a JSON result file (stdout is left to the code under test). `baseline` is the bare
scan the issue defines: DuckDB reading the same files with the same columns, `count(*)` over
read_csv and read_json. `baseline-columns` times a read that materialises every event column instead,
since DuckDB may skip parsing fields that `count(*)` does not need. `audit` runs
`audit.pipeline.run_audit` exactly as the nightly job does (fresh state, so every dump is read) and
checks its reports against expected.json.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import json
import logging
import pstats
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DOMAINS = ("mg.gitlab.com", "customers.gitlab.com", "mg.about.gitlab.com")
EVENT_COLUMNS = {
    "id": "VARCHAR",
    "event": "VARCHAR",
    "timestamp": "DOUBLE",
    "recipient": "VARCHAR",
    "message": 'STRUCT(headers STRUCT(subject VARCHAR, "message-id" VARCHAR))',
    "severity": "VARCHAR",
    "reason": "VARCHAR",
    "delivery-status": "STRUCT(code INTEGER, description VARCHAR, message VARCHAR)",
}
EVERY_EVENT_FIELD = (
    'count(id), count(event), sum("timestamp"), count(recipient), count(message.headers.subject), '
    'count(message.headers."message-id"), count(severity), count(reason), count("delivery-status".code), '
    'count("delivery-status".description), count("delivery-status".message)'
)


def dumps(data: Path) -> list[str]:
    return sorted(str(p) for d in DOMAINS for p in (data / "mailgun" / d).glob("events-*.jsonl*"))


def generate(data: Path, accounts: int, events: int, seed: int, gzip: bool) -> dict[str, Any]:
    from audit.sample import generate_sample

    started = time.perf_counter()
    generate_sample(data, seed=seed, n_accounts=accounts, n_events=events, compress=gzip)
    expected = json.loads((data / "expected.json").read_text())
    size = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
    return {"seconds": time.perf_counter() - started, "bytes": size, "n_events": expected["n_events"]}


def baseline(data: Path, every_column: bool) -> dict[str, Any]:
    """The bare scan: count(*) over both inputs. `every_column` instead reads every event field (a
    separate process, so the count(*) side's wall time and peak RSS are its own)."""
    import duckdb

    with open(data / "accounts.csv", encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split(",")
    con = duckdb.connect()
    csv = "read_csv($path, header = true, columns = $columns)"
    js = "read_json($paths, format = 'newline_delimited', columns = $columns)"
    fields = f"count(*), {EVERY_EVENT_FIELD}" if every_column else "count(*)"
    queries = {
        "accounts": (
            f"SELECT count(*) FROM {csv}",  # noqa: S608 - constant SQL, values are parameters
            {"path": str(data / "accounts.csv"), "columns": {name: "VARCHAR" for name in header}},
        ),
        "events": (
            f"SELECT {fields} FROM {js}",  # noqa: S608 - constant SQL, values are parameters
            {"paths": dumps(data), "columns": EVENT_COLUMNS},
        ),
    }
    out: dict[str, Any] = {"every_column": every_column}
    for name, (sql, params) in queries.items():
        started = time.perf_counter()
        rows = con.execute(sql, params).fetchall()
        out[name] = {"seconds": time.perf_counter() - started, "rows": rows[0][0]}
    out["scan_seconds"] = out["accounts"]["seconds"] + out["events"]["seconds"]
    return out


class StagePeaks(logging.Handler):
    """Peak RSS per pipeline stage: a thread samples VmRSS every 50 ms, and each "stage X done" log
    record of audit.pipeline closes a stage. Shows which stage sets the peak, which wait4 cannot."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.peak = 0
        self.stages: dict[str, int] = {}
        self.done = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    @staticmethod
    def rss() -> int:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def _sample(self) -> None:
        while not self.done.wait(0.05):
            self.peak = max(self.peak, self.rss())

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("stage ") and isinstance(record.args, tuple):
            self.stages[str(record.args[0])] = max(self.peak, self.rss())
            self.peak = 0


def audit(data: Path, out: Path, memory_limit: str | None, profile: Path | None) -> dict[str, Any]:
    from audit import pipeline
    from audit.config import Config, EventsInput

    expected = json.loads((data / "expected.json").read_text())
    ext = "*.jsonl.gz" if any(p.endswith(".gz") for p in dumps(data)) else "*.jsonl"
    cfg = Config(
        accounts=data / "accounts.csv",
        events=tuple(EventsInput(d, str(data / "mailgun" / d / ext)) for d in DOMAINS),
        out=out,
        as_of=dt.date.fromisoformat(expected["as_of"]),
        **({"memory_limit": memory_limit} if memory_limit else {}),  # else the job's default
    )
    peaks = StagePeaks()
    stage_log = logging.getLogger("audit.pipeline")
    stage_log.setLevel(logging.INFO)
    stage_log.addHandler(peaks)
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    result = pipeline.run_audit(cfg)
    if profiler and profile:
        profiler.disable()
        profiler.dump_stats(str(profile))
        with open(profile.with_suffix(".txt"), "w") as fh:
            pstats.Stats(str(profile), stream=fh).sort_stats("cumulative").print_stats(60)
    seconds = time.perf_counter() - started
    manifest = json.loads((result.folder / "manifest.json").read_text())
    return {
        "seconds": seconds,
        "stages": manifest["stages"],
        "stage_peak_rss": peaks.stages,
        "reports": manifest["reports"],
        "rows_loaded": sum(i["rows_loaded"] for i in manifest["inputs"]),
        "accuracy": accuracy(result.folder, expected),
    }


def accuracy(folder: Path, expected: dict[str, Any]) -> dict[str, Any]:
    """Reported accounts against the planted truth: per check, how many missed and how many extra."""
    import polars as pl

    out: dict[str, Any] = {}
    for check, want in expected["checks"].items():
        path = folder / f"{check}.parquet"
        if not path.exists():
            out[check] = "no report"
            continue
        frame = pl.read_parquet(path)
        if check == "duplicate_signups":
            got = {
                tuple(sorted(g))
                for g in frame.group_by("cluster_id").agg("account_id")["account_id"].to_list()
            }
            wanted = {tuple(c) for c in want}
        else:
            got, wanted = set(frame["account_id"].to_list()), set(want)
        out[check] = {
            "expected": len(wanted),
            "reported": len(got),
            "missed": len(wanted - got),
            "extra": len(got - wanted),
        }
        if check == "duplicate_signups":  # recall per kind of look-alike, where expected.json has them
            kinds = expected.get("duplicate_clusters_by_variant", {})
            out[check]["missed_by_variant"] = {
                kind: f"{sum(tuple(c) not in got for c in clusters)}/{len(clusters)}"
                for kind, clusters in kinds.items()
            }
    return out


def main(argv: list[str]) -> None:
    mode, data = argv[0], Path(argv[1])
    if mode == "generate":
        result = generate(data, int(argv[2]), int(argv[3]), int(argv[4]), "--gzip" in argv)
        print(json.dumps(result))
        return
    target = Path(argv[2])
    if mode in ("baseline", "baseline-columns"):
        result = baseline(data, every_column=mode == "baseline-columns")
    else:
        opts = dict(zip(argv[4::2], argv[5::2], strict=False))
        profile = Path(opts["--profile"]) if "--profile" in opts else None
        result = audit(data, Path(argv[3]), opts.get("--memory-limit"), profile)
    target.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
