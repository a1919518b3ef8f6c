"""Running one measured child process: wall time and its own peak RSS, from wait4().

`resource.getrusage(RUSAGE_CHILDREN)` reports the largest of *all* waited-for children, so a baseline
run followed by an audit run would report the bigger of the two for both. `os.wait4(pid)` returns the
rusage of exactly that child (and its waited-for descendants), which is what a per-side figure needs.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORKER = HERE / "audit_worker.py"


@dataclass
class Run:
    """One child: wall seconds seen from outside, peak RSS, CPU seconds, and what it reported."""

    wall: float
    peak_rss: int  # bytes
    cpu: float  # user + system seconds
    result: dict[str, Any] = field(default_factory=dict)


def run_child(args: list[str], env: dict[str, str] | None = None, result: Path | None = None) -> Run:
    """Run the worker with `args`; raise with its stderr if it fails."""
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(WORKER), *args], stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-3000:]
            raise RuntimeError(f"worker {args[0]} failed ({proc.returncode}):\n{tail}")
        out.seek(0)
        printed = out.read().decode(errors="replace").strip()
    data = json.loads(result.read_text()) if result else json.loads(printed.splitlines()[-1])
    return Run(wall, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime, data)


def summary(runs: list[Run]) -> dict[str, Any]:
    """Median and spread of repeated runs (the machine is shared, so one figure would mislead)."""
    walls = [r.wall for r in runs]
    rss = [r.peak_rss for r in runs]
    return {
        "runs": len(runs),
        "wall_median": statistics.median(walls),
        "wall_min": min(walls),
        "wall_max": max(walls),
        "cpu_median": statistics.median(r.cpu for r in runs),
        "peak_rss_max": max(rss),
        "peak_rss_median": statistics.median(rss),
        "walls": walls,
    }


def load_average() -> float:
    return os.getloadavg()[0]


def gib(n: float) -> str:
    return f"{n / 1024**3:.2f} GiB"
