"""The duplicate_signups pass: groups of portal accounts that probably belong to one person.

Customers who sign up twice (`first_last@org.com` and `first.last@org.com`) cannot tell which account
holds their subscription, and a false merge sends support to the wrong person. The pass runs in four
stages, each in its own module so each can be read and tested alone:

1. `matching_features`: normalised forms of every address, name and company (polars expressions that
   implement the pure functions of `normalize`);
2. `matching_blocking`: candidate pairs from exact blocking keys (same inbox, skeleton, one-letter
   deletions, uncommon name in a domain, stem, rare name), O(n * window), never all pairs;
3. `matching_score`: a base score from what the addresses show, lifted or cut by names and company
   (`matching_names`: when two spellings are one name, and when two addresses name two people);
4. `matching_report`: clusters (connected components of the accepted links), reasons, the account to keep.

Emails are personal data: only counts and timings are logged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb
import polars as pl

from audit import matching_blocking as mb
from audit import matching_features as mf
from audit import matching_report as mr
from audit import matching_score as ms
from audit import normalize as nz
from audit.matching_config import MatchingConfig
from audit.schema import create_sql

log = logging.getLogger(__name__)
OUTPUT_COLUMNS = mr.OUTPUT_COLUMNS
__all__ = ["MatchingConfig", "Stats", "duplicate_signups", "score_pair"]
_BATCH = 1_000_000  # candidate pairs scored at once: bounds memory at any input size


@dataclass
class Stats:
    """What one run did, for logs and the benchmark: seconds per stage and pair counts per blocking key."""

    seconds: dict[str, float] = field(default_factory=dict)
    candidates: dict[str, int] = field(default_factory=dict)
    links: int = 0
    accounts_in_clusters: int = 0
    _t: float = field(default_factory=time.perf_counter)

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = round(now - self._t, 3)
        self._t = now


def duplicate_signups(con: duckdb.DuckDBPyConnection, cfg: MatchingConfig, stats: Stats | None = None) -> int:
    """Reads table stg_accounts, creates (CREATE OR REPLACE) table chk_duplicate_signups, returns its row count.

    Deterministic: rows are ordered by (smallest account id of the cluster, account_id), and a cluster's
    id is its smallest account id, so accounts unrelated to a cluster never change it.
    """  # noqa: E501
    cfg.validate()
    stats = stats if stats is not None else Stats()
    accounts = _load(con)
    stats.lap("load")
    feats = mf.features(accounts, cfg)
    stats.lap("features")
    pairs, stats.candidates = mb.candidates(feats, cfg)
    stats.lap("blocking")
    links = _links(feats, pairs, cfg)
    stats.lap("scoring")
    rows = mr.rows(accounts, _names(feats, links), links, cfg.plus_tag_domains)
    stats.lap("clusters and report")
    con.execute(create_sql("chk_duplicate_signups", OUTPUT_COLUMNS)).fetchall()
    if rows.height:
        con.register("_matching_duplicate_rows", rows)
        try:
            con.execute("INSERT INTO chk_duplicate_signups SELECT * FROM _matching_duplicate_rows").fetchall()
        finally:
            con.unregister("_matching_duplicate_rows")
    stats.lap("write")
    stats.links, stats.accounts_in_clusters = links.height, rows.height
    log.info(
        "duplicate_signups: %d candidate pairs, %d links, %d accounts in clusters; seconds %s",
        stats.candidates.get("distinct", 0), links.height, rows.height, stats.seconds,
    )  # fmt: skip
    return rows.height


Person = tuple[str | None, str | None, str | None]  # (email, first_name, last_name)


def score_pair(
    a: Person,
    b: Person,
    cfg: MatchingConfig | None = None,
    companies: tuple[str | None, str | None] = (None, None),
) -> tuple[float, bool, str]:
    """(score, accepted, reason) of two accounts, scored exactly as the pass scores a candidate pair.

    Unlike the pass it always computes the edit distance, so rejected pairs get a meaningful score.
    Counts over the export (how many domains carry a name) are those of these two accounts alone.
    A pair with an unusable address is never compared: (0.0, False, "").
    """
    cfg = cfg or MatchingConfig()
    accounts = pl.DataFrame(
        {"email": [a[0], b[0]], "first_name": [a[1], b[1]], "last_name": [a[2], b[2]], "company": companies},
        schema=dict.fromkeys(("email", "first_name", "last_name", "company"), pl.String),
    )
    feats = mf.features(accounts, cfg)
    if feats.height < 2:
        return 0.0, False, ""
    pair = _pairs(feats, pl.DataFrame({"a": [0], "b": [1]}, schema={"a": pl.UInt32, "b": pl.UInt32}))
    row = ms.score(pair, cfg, mf.name_counts(feats), every_similarity=True).row(0, named=True)
    names = _names(feats, pl.DataFrame({"lo": [0], "hi": [1]}))
    plus = frozenset(d.strip().lower() for d in cfg.plus_tag_domains)
    reason = mr.link_reason(
        {**row, "lo": 0, "hi": 1}, nz.mailbox(a[0], plus), nz.mailbox(b[0], plus),
        {0: a[0], 1: b[0]}, names[0], names[1],
    )  # fmt: skip
    return round(row["score"], 3), bool(row["accepted"]), reason


def _load(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The account facts the pass needs, one row per account, in account_id order."""
    rel = con.sql(
        """
        SELECT account_id, email, first_name, last_name, company, confirmed_at IS NOT NULL AS confirmed,
               coalesce(trim(uid), '') <> '' AS linked, epoch_us(last_sign_in_at) AS signin_us,
               strftime(last_sign_in_at, '%Y-%m-%d') AS signin_day,
               nullif(trim(billing_account_id), '') AS billing
        FROM stg_accounts WHERE account_id IS NOT NULL ORDER BY account_id, source_line
        """
    )
    assert rel is not None  # a SELECT always gives a relation
    frame = pl.from_arrow(rel.to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def _pairs(feats: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """Features of both accounts of each pair, side by side: columns X and b_X."""
    second = feats.select(pl.all().gather(pairs["b"]).name.prefix("b_"))
    return feats.select(pl.all().gather(pairs["a"])).hstack(second)


def _links(feats: pl.DataFrame, pairs: pl.DataFrame, cfg: MatchingConfig) -> pl.DataFrame:
    """Accepted links (rows lo < hi, kind, rel, crel, sim, score, spelled), scored in bounded batches."""
    kept = (pl.col("i").alias("lo"), pl.col("b_i").alias("hi"), "kind", "rel", "crel", "sim", "score",
            "spelled")  # fmt: skip
    batches = (pairs.slice(offset, _BATCH) for offset in range(0, max(pairs.height, 1), _BATCH))
    names = mf.name_counts(feats)
    return pl.concat(
        [ms.score(_pairs(feats, batch), cfg, names).filter("accepted").select(kept) for batch in batches]
    )


def _names(feats: pl.DataFrame, links: pl.DataFrame) -> dict[int, Any]:
    """(first, nickname, last) keys of the linked accounts, by row: reasons say how the names relate."""
    rows = pl.concat([links["lo"], links["hi"]]).unique()
    chosen = feats.filter(pl.col("i").is_in(rows.implode())).select("i", "first", "nick", "last")
    return {r[0]: r[1:] for r in chosen.rows()}
