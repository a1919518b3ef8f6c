"""The state database: findings history, the Mailgun events the checks need, and which dumps were read.

Mailgun keeps logs for a few days only, so the job keeps what it needs itself. The state file is
read once at the start of a run (copied into the run's in-memory database as hist_* tables) and
written once at the end in one transaction, so `lookup` can read it between runs and a failed run
leaves it as it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from audit.errors import OutputError
from audit.schema import STG_ACCOUNTS, STG_EVENTS

log = logging.getLogger(__name__)
ATTACH_PATIENCE_S = 30.0

# Tables of the state file; `hist_<name>` is the in-memory copy a run works with.
STATE_TABLES: dict[str, dict[str, str]] = {
    "runs": {
        "as_of": "DATE",
        "finished_at": "TIMESTAMP",
        "version": "VARCHAR",
        "events_given": "BOOLEAN",
        "report_rows": "VARCHAR",  # JSON object: report name -> rows
    },
    "findings": {
        "as_of": "DATE",
        "finding_key": "VARCHAR",  # check:account_id, or duplicate_signups:cluster_id
        "check_name": "VARCHAR",
        "account_id": "BIGINT",
        "email": "VARCHAR",
        "severity": "VARCHAR",
        "evidence": "VARCHAR",
        "action": "VARCHAR",
        "first_seen": "DATE",
    },
    "events": {**STG_EVENTS, "first_as_of": "DATE"},
    "dumps": {
        "sha256": "VARCHAR",
        "path": "VARCHAR",
        "domain": "VARCHAR",
        "first_as_of": "DATE",
        "rows_loaded": "BIGINT",
    },
    "accounts": {**STG_ACCOUNTS, "as_of": "DATE"},  # the newest run's accounts, for lookup
}
# Events the checks need: resets and confirmations, every failure or complaint, every delivery to a
# recipient that ever failed (it decides whether the failure still stands), and the latest delivery
# to any other recipient (the evidence "last delivered" when a failure comes later).
KEEP_EVENTS = """
    mail_kind <> 'other'
    OR event IN ('failed', 'complained', 'rejected')
    OR (event = 'delivered' AND (
        recipient_norm IN (
            SELECT recipient_norm FROM {source} WHERE event IN ('failed', 'complained', 'rejected'))
        OR (domain, event_id) IN (
            SELECT (domain, event_id) FROM {source} WHERE event = 'delivered'
            QUALIFY row_number() OVER (
                PARTITION BY recipient_norm ORDER BY event_at DESC, domain, event_id) = 1)))
"""


def _ddl(schema: str, name: str, columns: dict[str, str]) -> str:
    cols = ", ".join(f"{col} {kind}" for col, kind in columns.items())
    return f"CREATE TABLE IF NOT EXISTS {schema}.{name} ({cols})"


@contextlib.contextmanager
def attached(con: duckdb.DuckDBPyConnection, path: Path, read_only: bool) -> Iterator[str]:
    """Attach the state file as schema `state` for the duration of the block."""
    if read_only and not path.exists():
        con.execute("ATTACH ':memory:' AS state")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        _attach_with_retry(con, path, read_only)
    try:
        if not read_only or not path.exists():
            for name, columns in STATE_TABLES.items():
                con.execute(_ddl("state", name, columns))
        yield "state"
    finally:
        con.execute("DETACH state")
        if not read_only and path.exists():
            os.chmod(path, 0o600)


def _attach_with_retry(con: duckdb.DuckDBPyConnection, path: Path, read_only: bool) -> None:
    """A `lookup` may hold the file open for a moment; wait for it rather than fail the night's run."""
    sql = "ATTACH $path AS state" + (" (READ_ONLY)" if read_only else "")
    deadline = time.monotonic() + ATTACH_PATIENCE_S
    while True:
        try:
            con.execute(sql, {"path": str(path)})
            return
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def load_history(con: duckdb.DuckDBPyConnection, path: Path, as_of: dt.date) -> None:
    """Copy the state into hist_* tables: findings and runs before as_of, all events and dumps."""
    try:
        with attached(con, path, read_only=True):
            for name in STATE_TABLES:
                where = " WHERE as_of < $as_of" if name in ("runs", "findings") else ""
                params = {"as_of": as_of} if where else {}
                copy = f"CREATE OR REPLACE TABLE hist_{name} AS SELECT * FROM state.{name}{where}"  # noqa: S608
                con.execute(copy, params)
    except duckdb.IOException as exc:
        raise OutputError(f"cannot open the state database: {exc}", file=str(path)) from None


def previous_run(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    rows = con.execute("SELECT max(as_of) FROM hist_runs").fetchall()
    return rows[0][0] if rows else None


def save_history(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    as_of: dt.date,
    run: dict[str, Any],
    retention_days: int,
) -> int:
    """Write this run into the state in one transaction; returns how many old events were pruned."""
    try:
        with attached(con, path, read_only=False):
            con.execute("BEGIN TRANSACTION")
            try:
                pruned = _save(con, as_of, run, retention_days)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
    except duckdb.IOException as exc:
        raise OutputError(f"cannot write the state database: {exc}", file=str(path)) from None
    return pruned


def _save(con: duckdb.DuckDBPyConnection, as_of: dt.date, run: dict[str, Any], retention_days: int) -> int:
    p = {"as_of": as_of}
    con.execute("DELETE FROM state.runs WHERE as_of = $as_of", p)
    con.execute(
        "INSERT INTO state.runs VALUES ($as_of, $finished_at, $version, $events_given, $report_rows)",
        {**p, "finished_at": dt.datetime.fromisoformat(run["finished_at"]).replace(tzinfo=None),
         "version": run["version"],
         "events_given": run["events_given"], "report_rows": json.dumps(run["reports"], sort_keys=True)},
    )  # fmt: skip
    con.execute("DELETE FROM state.findings WHERE as_of = $as_of", p)
    con.execute("INSERT INTO state.findings SELECT $as_of, finding_key, check_name, account_id, email, "
                "severity, evidence, action, first_seen FROM run_findings", p)  # fmt: skip
    keep = KEEP_EVENTS.format(source="stg_events")
    con.execute(
        f"INSERT INTO state.events SELECT *, $as_of FROM stg_events e WHERE ({keep}) "  # noqa: S608
        "AND NOT EXISTS (SELECT 1 FROM state.events s WHERE s.domain = e.domain AND s.event_id = e.event_id)",
        p,
    )
    # Deliveries that are neither needed by a failure nor the latest to their recipient any more.
    stale = f"DELETE FROM state.events WHERE NOT ({KEEP_EVENTS.format(source='state.events')})"  # noqa: S608
    con.execute(stale)
    con.execute("INSERT INTO state.dumps SELECT * FROM run_dumps WHERE sha256 NOT IN "
                "(SELECT sha256 FROM state.dumps)")  # fmt: skip
    newest = con.execute("SELECT max(as_of) FROM state.runs").fetchall()[0][0]
    if newest == as_of:
        con.execute("DELETE FROM state.accounts")
        con.execute("INSERT INTO state.accounts SELECT *, $as_of FROM stg_accounts", p)
    cutoff = dt.datetime.combine(newest - dt.timedelta(days=retention_days), dt.time())
    pruned = con.execute("SELECT count(*) FROM state.events WHERE event_at < $cutoff", {"cutoff": cutoff})
    count = int(pruned.fetchall()[0][0])
    con.execute("DELETE FROM state.events WHERE event_at < $cutoff", {"cutoff": cutoff})
    return count


def finding_key_sql(check: str) -> str:
    """A finding's stable identity: one per cluster for duplicates, else one per account."""
    if check == "duplicate_signups":
        return "'duplicate_signups:' || cluster_id"
    return f"'{check}:' || account_id"


def apply_history(con: duckdb.DuckDBPyConnection, checks: list[str], as_of: dt.date) -> None:
    """Add first_seen and status (new / ongoing) to every chk_ table; build run_findings and resolved.

    `new` means not in the previous run; first_seen is the earliest run that ever had the finding.
    """
    previous = previous_run(con)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE hist_keys AS SELECT finding_key, min(first_seen) AS first_seen, "
        "bool_or(as_of = $previous) AS in_previous FROM hist_findings GROUP BY finding_key",
        {"previous": previous},
    )
    for check in checks:
        table = f"chk_{check}"
        con.execute(
            f"CREATE OR REPLACE TABLE {table} AS "  # noqa: S608 - identifiers from sql/ file names
            f"SELECT c.*, coalesce(h.first_seen, $as_of) AS first_seen, "
            f"CASE WHEN coalesce(h.in_previous, false) THEN 'ongoing' ELSE 'new' END AS status "
            f"FROM (SELECT *, {finding_key_sql(check)} AS _key, row_number() OVER () AS _order "
            f"FROM {table}) c "
            f"LEFT JOIN hist_keys h ON h.finding_key = c._key ORDER BY c._order",
            {"as_of": as_of},
        )
    parts = [
        f"SELECT '{check}' AS check_name, account_id, email, severity, evidence, action, "  # noqa: S608
        f"{finding_key_sql(check)} AS finding_key, first_seen, status FROM chk_{check}"
        for check in checks
    ]
    con.execute(f"CREATE OR REPLACE TEMP TABLE run_findings AS {' UNION ALL '.join(parts)}")
    for check in checks:
        con.execute(f"ALTER TABLE chk_{check} DROP COLUMN _key")
        con.execute(f"ALTER TABLE chk_{check} DROP COLUMN _order")
    con.execute(
        """
        CREATE OR REPLACE TABLE resolved AS
        SELECT h.check_name, h.account_id, h.email, h.finding_key, h.first_seen,
               h.as_of AS last_seen, h.severity, h.evidence, 'resolved' AS status,
               'No action: the problem is no longer seen.' AS action
        FROM hist_findings h
        WHERE h.as_of = $previous
          AND h.finding_key NOT IN (SELECT finding_key FROM run_findings)
        ORDER BY h.check_name, h.account_id
        """,
        {"previous": previous},
    )
