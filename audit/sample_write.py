"""Bulk generator I/O: the hand-made plants as rows, accounts.csv, and expected.json.

The hand-made plants are built by the small generator's own `_Sample.plant`, so their timing and
mail are exactly the ones the tests know; here they are only turned into columns. accounts.csv is
written by polars with the same quoting and timestamp forms as the small generator's `csv.writer`.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import polars as pl

from audit import sample_data as sd
from audit.sample import CHECKS, _Sample
from audit.sample_rng import Rng

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
COLUMNS = {
    "first": pl.String,
    "last": pl.String,
    "email": pl.String,
    "domain": pl.String,
    "company": pl.String,
    "created": pl.Int64,
    "confirmed": pl.Int64,
    "sent": pl.Int64,
    "sign_in": pl.Int64,
    "sign_in_count": pl.Int64,
    "uid": pl.String,
    "gitlab_email": pl.String,
    "login": pl.Boolean,
    "billing": pl.String,
    "tz": pl.Int64,
    "unconfirmed_email": pl.String,
    "check": pl.String,
    "variant": pl.String,
    "flagged": pl.Boolean,
    "also": pl.String,
    "group": pl.String,
    "hand": pl.Int64,
}


def _us(value: dt.datetime | None) -> int | None:
    return None if value is None else (value - EPOCH) // dt.timedelta(microseconds=1)


def hand_accounts(as_of: dt.date, seed: int) -> tuple[pl.DataFrame, _Sample]:
    """The planted cases of `sample_data.PLANTS` as rows (column `hand` = index in `sample.accounts`)."""
    sample = _Sample(as_of, seed)
    for planted in sd.PLANTS:
        sample.accounts.append(sample.plant(planted))
    rows = []
    for i, a in enumerate(sample.accounts):
        p = a.plant
        assert p is not None
        offset = None if a.tz is None else int(a.tz.utcoffset(None).total_seconds() // 60)
        rows.append(
            {
                "first": a.first,
                "last": a.last,
                "email": a.email,
                "domain": a.email.strip().lower().rsplit("@", 1)[1],
                "company": a.company,
                "created": _us(a.created),
                "confirmed": _us(a.confirmed),
                "sent": _us(a.sent),
                "sign_in": _us(a.sign_in),
                "sign_in_count": sample.rng.randint(1, 150) if a.sign_in else 0,
                "uid": a.uid,
                "gitlab_email": a.gitlab_email,
                "login": a.login,
                "billing": a.billing,
                "tz": offset,
                "unconfirmed_email": a.unconfirmed_email,
                "check": p.check,
                "variant": p.variant,
                "flagged": p.flagged,
                "also": ",".join(p.also),
                "group": f"hand:{p.group}" if p.check == sd.D else "",
                "hand": i,
            }
        )
    return pl.DataFrame(rows, schema=COLUMNS), sample


def hand_lines(sample: _Sample) -> pl.DataFrame:
    """(domain, ts, id, line) of the hand-made plants' Mailgun events, serialised as the small path does."""
    return pl.DataFrame(
        {
            "domain": [d for _, d, _ in sample.events],
            "ts": [_us(t) for t, _, _ in sample.events],
            "id": [e["id"] for _, _, e in sample.events],
            "line": [json.dumps(e, ensure_ascii=False) for _, _, e in sample.events],
        },
        schema={"domain": pl.String, "ts": pl.Int64, "id": pl.String, "line": pl.String},
    )


def _stamp(col: str) -> pl.Expr:
    """Rails' `to_s` form, or ISO with the row's offset (column `tz`, minutes) for rows that have one.

    One strftime per value (the shifted local time), then only cheap string edits per form.
    """
    shifted = pl.from_epoch(pl.col(col) + pl.col("tz").fill_null(0) * 60_000_000, time_unit="us")
    text = shifted.dt.strftime("%Y-%m-%d %H:%M:%S")
    minutes = pl.col("tz").abs()
    sign = pl.when(pl.col("tz") < 0).then(pl.lit("-")).otherwise(pl.lit("+"))
    hh, mm = (minutes // 60).cast(pl.String).str.zfill(2), (minutes % 60).cast(pl.String).str.zfill(2)
    iso = pl.concat_str(text.str.replace(" ", "T", literal=True), sign, hh, pl.lit(":"), mm)
    utc = pl.concat_str(text, pl.lit(" UTC"))
    return (
        pl.when(pl.col(col).is_null()).then(pl.lit("")).when(pl.col("tz").is_null()).then(utc).otherwise(iso)
    )


def write_accounts(rng: Rng, accounts: pl.DataFrame, path: Path, end: int) -> None:
    n = accounts.height
    touched = pl.max_horizontal("created", "confirmed", "sent", "sign_in")
    updated = pl.min_horizontal(
        touched + rng.integers(n, "updated", 0, 172_800) * 1_000_000, pl.lit(end - 1_000_000)
    )
    frame = accounts.with_columns(updated=updated).select(
        id=pl.col("id").cast(pl.String),
        email="email",
        first_name="first",
        last_name="last",
        company="company",
        created_at=_stamp("created"),
        updated_at=_stamp("updated"),
        confirmed_at=_stamp("confirmed"),
        confirmation_sent_at=_stamp("sent"),
        unconfirmed_email="unconfirmed_email",
        last_sign_in_at=_stamp("sign_in"),
        sign_in_count=pl.col("sign_in_count").cast(pl.String),
        provider=pl.when(pl.col("uid") != "").then(pl.lit("gitlab")).otherwise(pl.lit("")),
        uid="uid",
        gitlab_email="gitlab_email",
        login_activated=pl.when("login").then(pl.lit("true")).otherwise(pl.lit("false")),
        billing_account_id="billing",
    )
    assert frame.columns == sd.CSV_HEADER.split(",")
    # polars quotes an empty string (to tell it from null); the csv module writes nothing for both.
    frame.with_columns(pl.all().replace("", None)).write_csv(path, line_terminator="\n")


def write_expected(
    accounts: pl.DataFrame, sample: _Sample, as_of: dt.date, seed: int, lines: dict[str, int], path: Path
) -> dict[str, list[int]]:
    """expected.json from the plant columns; returns the planted ids per check (clusters flattened)."""
    planted = accounts.filter(pl.col("check") != "")
    flagged = planted.filter("flagged")
    checks: dict[str, Any] = {}
    for check in CHECKS:
        hit = (pl.col("check") == check) | pl.col("also").str.split(",").list.contains(check)
        ids = flagged.filter(hit)
        if check == sd.D:
            groups = ids.group_by("group").agg(pl.col("id").sort())["id"].to_list()
            checks[check] = sorted(groups)
        else:
            checks[check] = ids["id"].sort().to_list()
    near = planted.filter(~pl.col("flagged")).group_by("variant").agg(pl.col("id").sort())
    # Each planted cluster under the look-alike that made it (a benchmark reports recall per kind).
    dupes = flagged.filter(pl.col("check") == sd.D).group_by("group")
    kinds = dupes.agg(pl.col("id").sort(), kind=pl.col("variant").filter(pl.col("variant") != "base").sort())
    by_kind: dict[str, list[list[int]]] = {}
    for ids, kind in kinds.select("id", "kind").iter_rows():
        by_kind.setdefault("+".join(dict.fromkeys(kind)), []).append(ids)
    counts = planted.group_by("check", "variant", "flagged").len().sort("check", "variant")
    cases = []
    for row in planted.filter(pl.col("hand").is_not_null()).iter_rows(named=True):
        p = sample.accounts[row["hand"]].plant
        assert p is not None
        case = {
            "id": row["id"],
            "email": row["email"],
            "check": p.check,
            "variant": p.variant,
            "flagged": p.flagged,
        }
        extra = {"evidence": p.evidence, "also": list(p.also), "group": p.group if p.check == sd.D else ""}
        cases.append(case | {k: v for k, v in extra.items() if v})
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    expected = {
        "as_of": as_of.isoformat(),
        "seed": seed,
        "generator": "bulk",
        "n_accounts": accounts.height,
        "n_events": sum(lines.values()),
        "events_per_domain": dict(sorted(lines.items())),
        "reset_window": [f"{end - dt.timedelta(days=d):%Y-%m-%dT%H:%M:%SZ}" for d in (7, 0)],
        "checks": checks,
        "near_misses": {v: ids for v, ids in sorted(near.iter_rows())},
        "duplicate_clusters_by_variant": {k: sorted(v) for k, v in sorted(by_kind.items())},
        "planted": [dict(zip(counts.columns, r, strict=True)) for r in counts.iter_rows()],
        "notes": (
            "checks lists every account a check must report, by construction. Background accounts are "
            "built far apart (unique full names, unique normalised local parts per domain), so "
            "duplicate_signups should report exactly these clusters, but look-alikes between background "
            "accounts are not ruled out edit by edit as in the small sample."
        ),
        "cases": sorted(cases, key=lambda c: (CHECKS.index(c["check"]), c["id"])),
    }
    path.write_text(json.dumps(expected, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    flat = dict(checks)
    flat[sd.D] = [i for cluster in checks[sd.D] for i in cluster]
    return {check: sorted(ids) for check, ids in flat.items()}
