"""Files of the small generator: accounts.csv, the nightly gzipped dumps and expected.json.

Byte-for-byte reproducible: sorted output, gzip without name and with mtime 0, no wall clock.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit import sample_data as sd
from audit.sample_mail import ROLES

if TYPE_CHECKING:
    from audit.sample import _Sample

DUMP_NIGHTS = 10  # one dump per night up to the as-of date ...
DUMP_SPAN_DAYS = 3  # ... each covering that day and the two before, so consecutive dumps overlap
CHECKS = (sd.U, sd.R, sd.D, sd.M, sd.B)
UTC = dt.UTC


def _ts(value: dt.datetime | None, tz: dt.timezone | None) -> str:
    """Rails' `to_s` form for most rows; ISO with an offset for rows another exporter touched."""
    if value is None:
        return ""
    value = value.replace(microsecond=0)
    return value.astimezone(tz).isoformat() if tz else f"{value:%Y-%m-%d %H:%M:%S} UTC"


def _gzip(data: bytes) -> bytes:
    """Reproducible gzip: no file name and mtime 0 in the header."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buf.getvalue()


def _expected(s: _Sample, seed: int) -> dict[str, Any]:
    """Ground truth straight from the planting table, with ids as they came out of the sort."""
    checks: dict[str, list[Any]] = {c: [] for c in CHECKS}
    clusters: dict[str, list[int]] = {}
    near: dict[str, list[int]] = {}
    cases: list[dict[str, Any]] = []
    for a in s.accounts:
        p = a.plant
        if p is None:
            continue
        case = {"id": a.id, "email": a.email, "check": p.check, "variant": p.variant, "flagged": p.flagged}
        extra = {"evidence": p.evidence, "also": list(p.also), "group": p.group if p.check == sd.D else ""}
        cases.append(case | {k: v for k, v in extra.items() if v})
        if not p.flagged:
            near.setdefault(p.variant, []).append(a.id)
        for check in (p.check, *p.also) if p.flagged else ():
            (clusters.setdefault(p.group, []) if check == sd.D else checks[check]).append(a.id)
    checks[sd.D] = sorted(clusters.values())
    window = [f"{s.end - dt.timedelta(days=days):%Y-%m-%dT%H:%M:%SZ}" for days in (7, 0)]
    return {
        "as_of": s.as_of.isoformat(),
        "seed": seed,
        "n_accounts": len(s.accounts),
        "reset_window": window,
        "checks": checks,
        "near_misses": dict(sorted(near.items())),
        "cases": sorted(cases, key=lambda c: (CHECKS.index(c["check"]), c["id"])),
    }


def _write_accounts(s: _Sample, path: Path) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(sd.CSV_HEADER.split(","))
    for a in s.accounts:
        stamps = [t for t in (a.created, a.confirmed, a.sent, a.sign_in) if t is not None]
        updated = max(stamps) + dt.timedelta(seconds=s.rng.randint(0, 172_800))
        updated = min(updated, s.end - dt.timedelta(seconds=1))
        count = s.rng.randint(1, 150) if a.sign_in else 0
        times = [_ts(t, a.tz) for t in (a.created, updated, a.confirmed, a.sent)]
        signed_in = [a.unconfirmed_email, _ts(a.sign_in, a.tz), count]
        linked = ["gitlab" if a.uid else "", a.uid, a.gitlab_email, str(a.login).lower(), a.billing]
        writer.writerow([a.id, a.email, a.first, a.last, a.company, *times, *signed_in, *linked])
    path.write_bytes(buf.getvalue().encode("utf-8"))


def _write_dumps(s: _Sample, root: Path) -> int:
    """One gzipped JSON-lines dump per domain and night; returns the number of lines written."""
    s.events.sort(key=lambda e: (e[0], e[2]["id"]))
    lines = 0
    for domain in ROLES.values():
        folder = root / domain
        folder.mkdir(parents=True, exist_ok=True)
        written = set()
        for k in range(DUMP_NIGHTS - 1, -1, -1):
            night = s.as_of - dt.timedelta(days=k)
            hi = dt.datetime.combine(night + dt.timedelta(days=1), dt.time(), UTC)
            lo = hi - dt.timedelta(days=DUMP_SPAN_DAYS)
            chunk = [
                json.dumps(e, ensure_ascii=False) + "\n"
                for t, d, e in s.events
                if d == domain and lo <= t < hi
            ]
            name = f"events-{night.isoformat()}.jsonl.gz"
            (folder / name).write_bytes(_gzip("".join(chunk).encode("utf-8")))
            lines += len(chunk)
            written.add(name)
        for stale in sorted(folder.glob("events-*.jsonl.gz")):
            if stale.name not in written:  # a dump from another as-of date would leak into the glob
                stale.unlink()
    return lines
