"""Accuracy of duplicate_signups on a labelled synthetic export: pairwise precision, recall and F1.

    .venv/bin/python bench/eval_matching.py [--people 10000] [--seed 7] [--errors 10]

Generates accounts with `matching_labelled` (which knows nothing of the matcher), runs the real pass on
them in DuckDB, and compares the clusters with the truth pair by pair: a predicted pair is two accounts
in one cluster, a true pair two accounts of one person. Recall is also given per pattern (how the second
account differs from the first); `--errors N` prints N false merges and N misses for inspection.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path

import duckdb
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from matching_labelled import Account, generate

from audit.matching import MatchingConfig, duplicate_signups
from audit.schema import STG_ACCOUNTS, create_sql

# A second account that shares nothing with the first but the person's name (stormtiger1980@ beside
# ayse.zotor@): none of the patterns the matcher must recognise, and indistinguishable from a namesake.
OUT_OF_SCOPE = "unrelated_handle"


@dataclass
class Result:
    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int
    seconds: float
    per_pattern: dict[str, tuple[int, int]] = field(default_factory=dict)  # pattern -> (found, total)
    false_pairs: list[tuple[Account, Account]] = field(default_factory=list)
    missed_pairs: list[tuple[Account, Account]] = field(default_factory=list)
    listed: tuple[int, int] = (0, 0)  # (found, total) of the true pairs with no OUT_OF_SCOPE account


def load(con: duckdb.DuckDBPyConnection, accounts: list[Account]) -> None:
    """stg_accounts as ingest would leave it: every account confirmed, none linked."""
    frame = pl.DataFrame([asdict(a) for a in accounts]).select(
        account_id=pl.col("id").cast(pl.Int64),
        email=pl.col("email"),
        first_name=pl.col("first_name").replace("", None),
        last_name=pl.col("last_name").replace("", None),
        company=pl.col("company").replace("", None),
        source_line=pl.col("id").cast(pl.Int64),
    )
    con.execute(create_sql("stg_accounts", STG_ACCOUNTS)).fetchall()
    con.register("_labelled", frame)
    con.execute(
        "INSERT INTO stg_accounts (account_id, email, first_name, last_name, company, source_line) "
        "SELECT account_id, email, first_name, last_name, company, source_line FROM _labelled"
    ).fetchall()
    con.execute("UPDATE stg_accounts SET confirmed_at = TIMESTAMP '2026-01-01'").fetchall()
    con.unregister("_labelled")


def evaluate(accounts: list[Account], cfg: MatchingConfig | None = None) -> Result:
    """Run the pass on `accounts` and score its clusters against the truth."""
    with duckdb.connect() as con:
        load(con, accounts)
        started = time.perf_counter()
        duplicate_signups(con, cfg or MatchingConfig())
        seconds = time.perf_counter() - started
        found = con.sql("SELECT cluster_id, account_id FROM chk_duplicate_signups").fetchall()
    by_id = {a.id: a for a in accounts}
    clusters: dict[str, list[int]] = defaultdict(list)
    for cluster, account in found:
        clusters[cluster].append(account)
    predicted = {tuple(sorted(p)) for ids in clusters.values() for p in combinations(ids, 2)}
    people: dict[int, list[Account]] = defaultdict(list)
    for a in accounts:
        people[a.person].append(a)
    truth = {tuple(sorted((x.id, y.id))) for accs in people.values() for x, y in combinations(accs, 2)}
    hits = predicted & truth
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for x, y in truth:
        a, b = by_id[x], by_id[y]
        pattern = (
            b.pattern if a.pattern == "first" else a.pattern if b.pattern == "first" else "second_to_third"
        )
        per[pattern][0] += (x, y) in hits
        per[pattern][1] += 1
    listed = {(x, y) for x, y in truth if OUT_OF_SCOPE not in (by_id[x].pattern, by_id[y].pattern)}
    precision = len(hits) / len(predicted) if predicted else 1.0
    recall = len(hits) / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Result(
        precision, recall, f1, len(truth), len(predicted), seconds,
        {k: (v[0], v[1]) for k, v in sorted(per.items())},
        [(by_id[x], by_id[y]) for x, y in sorted(predicted - truth)],
        [(by_id[x], by_id[y]) for x, y in sorted(truth - hits)],
        (len(listed & hits), len(listed)),
    )  # fmt: skip


def _cause(x: Account, y: Account) -> str:
    """A coarse reason a true pair can be hard: what evidence besides the addresses the two rows carry."""
    if "unrelated_handle" in (x.pattern, y.pattern):
        return "unrelated addresses"
    names = [(a.first_name.strip().casefold(), a.last_name.strip().casefold()) for a in (x, y)]
    if any(len(part) < 2 for name in names for part in name):
        return "a name missing or a placeholder"
    return "names agree" if names[0] == names[1] else "names written differently"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--errors", type=int, default=0, help="print this many false merges and misses")
    args = parser.parse_args()
    accounts = generate(args.people, args.seed)
    r = evaluate(accounts)
    print(f"{len(accounts)} accounts of {args.people} people (seed {args.seed}); pass took {r.seconds:.2f}s")
    print(f"true pairs {r.true_pairs}, predicted pairs {r.predicted_pairs}")
    print(f"precision {r.precision:.4f}  recall {r.recall:.4f}  F1 {r.f1:.4f}")
    found, total = r.listed
    print(f"recall without pairs involving an {OUT_OF_SCOPE} account: {found / total:.4f} ({found}/{total})")
    print("recall per pattern:")
    for pattern, (hit, total) in r.per_pattern.items():
        print(f"  {pattern:<18} {hit / total:.3f}  ({hit}/{total})")
    kinds = Counter(a.pattern for a in accounts)
    print("accounts per pattern:", dict(sorted(kinds.items())))
    causes = Counter(_cause(x, y) for x, y in r.missed_pairs)
    print("missed pairs by what the two accounts offer:", dict(causes.most_common()))
    for title, pairs in (("false merges", r.false_pairs), ("missed", r.missed_pairs)):
        for x, y in pairs[: args.errors]:
            print(f"{title}: {x.email!r} {x.first_name!r} {x.last_name!r} {x.company!r} {x.pattern} | "
                  f"{y.email!r} {y.first_name!r} {y.last_name!r} {y.company!r} {y.pattern}")  # fmt: skip


if __name__ == "__main__":
    main()
