"""The state database: findings history, the Mailgun events the checks need, and which dumps were read.

Mailgun keeps logs for a few days only, so the job keeps what it needs itself. The state file is
read once at the start of a run (copied into the run's in-memory database as hist_* tables) and
written once at the end in one transaction, so `lookup` can read it between runs and a run that fails
before that commit leaves it as it was. (A run whose commit succeeds but whose checkpoint fails, on a
full disk, publishes nothing but is kept in the state's log: a re-run of the date gives its reports.)
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
# to any other recipient (the evidence "last delivered" when a failure comes later). `latest_delivery`
# is one GROUP BY: per recipient the smallest (-event_at, domain, event_id), i.e. the newest delivery,
# ties broken by domain and id.
KEEP_EVENTS = """
    WITH failing AS (
        SELECT DISTINCT recipient_norm FROM {source} WHERE event IN ('failed', 'complained', 'rejected')
    ),
    latest_delivery AS (
        SELECT min({{'t': -epoch_us(event_at), 'domain': domain, 'event_id': event_id}}) AS k
        FROM {source} WHERE event = 'delivered' GROUP BY recipient_norm
    )
    SELECT e.domain, e.event_id FROM {source} e
    LEFT JOIN failing f ON f.recipient_norm = e.recipient_norm
    LEFT JOIN (SELECT k.domain, k.event_id FROM latest_delivery) l
        ON l.domain = e.domain AND l.event_id = e.event_id
    WHERE e.mail_kind <> 'other'
       OR e.event IN ('failed', 'complained', 'rejected')
       OR (e.event = 'delivered' AND (f.recipient_norm IS NOT NULL OR l.event_id IS NOT NULL))
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
    """Copy the state into hist_* tables: findings and runs before as_of, all events and dumps (a
    re-run of a date given all its dumps again reads them again: incremental.new_dumps).

    The accounts stay in the file: only `lookup` reads them (and save_history compares with them).
    """
    try:
        with attached(con, path, read_only=True):
            for name in (n for n in STATE_TABLES if n != "accounts"):
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
    committed = False
    try:
        with attached(con, path, read_only=False):
            con.execute("BEGIN TRANSACTION")
            try:
                pruned = _save(con, as_of, run, retention_days)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            try:
                con.execute("COMMIT")
            except duckdb.TransactionException as exc:  # a write failing at COMMIT; it ended the transaction
                raise OutputError(f"cannot write the state database: {exc}", file=str(path)) from None
            committed = True
    except duckdb.IOException as exc:
        if committed:  # the checkpoint at DETACH failed; the next ATTACH replays the committed log
            raise OutputError(
                f"the state database kept this run in its write-ahead log but cannot be checkpointed: {exc}",
                file=str(path),
            ) from None
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
    # What to keep is decided once, in memory, over the state's events (hist_events) and this run's
    # (stg_events already holds the former when dumps were given): insert the kept events the state
    # lacks, delete the state's events no longer kept (deliveries superseded by a newer one). What an
    # earlier run of this date read is replaced when this run read all its dumps again (new_dumps then
    # took them out of hist_dumps); otherwise it stays.
    for table in ("events", "dumps"):
        con.execute(
            f"DELETE FROM state.{table} WHERE first_as_of = $as_of "  # noqa: S608 - table names
            "AND NOT EXISTS (SELECT 1 FROM hist_dumps WHERE first_as_of = $as_of)",
            p,
        )
    columns = ", ".join(STG_EVENTS)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW all_events AS SELECT {columns} FROM stg_events UNION ALL "  # noqa: S608
        f"SELECT {columns} FROM hist_events h "
        "ANTI JOIN stg_events e ON e.domain = h.domain AND e.event_id = h.event_id"
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE keep_events AS {KEEP_EVENTS.format(source='all_events')}")
    con.execute(
        "INSERT INTO state.events SELECT e.*, $as_of FROM stg_events e "
        "SEMI JOIN keep_events k ON k.domain = e.domain AND k.event_id = e.event_id "
        "ANTI JOIN state.events s ON s.domain = e.domain AND s.event_id = e.event_id",
        p,
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE stale_events AS SELECT h.domain, h.event_id FROM hist_events h "
        "ANTI JOIN keep_events k ON k.domain = h.domain AND k.event_id = h.event_id"
    )
    con.execute(
        "DELETE FROM state.events s USING stale_events x "
        "WHERE s.domain = x.domain AND s.event_id = x.event_id"
    )
    con.execute("INSERT INTO state.dumps SELECT * FROM run_dumps r WHERE NOT EXISTS (SELECT 1 FROM "
                "state.dumps d WHERE d.sha256 = r.sha256 AND d.domain = r.domain)")  # fmt: skip
    newest = con.execute("SELECT max(as_of) FROM state.runs").fetchall()[0][0]
    if newest == as_of:
        _save_accounts(con, as_of)
    for table in ("keep_events", "stale_events"):
        con.execute(f"DROP TABLE {table}")
    con.execute("DROP VIEW all_events")
    cutoff = dt.datetime.combine(newest - dt.timedelta(days=retention_days), dt.time())
    pruned = con.execute("SELECT count(*) FROM state.events WHERE event_at < $cutoff", {"cutoff": cutoff})
    count = int(pruned.fetchall()[0][0])
    con.execute("DELETE FROM state.events WHERE event_at < $cutoff", {"cutoff": cutoff})
    return count


def _save_accounts(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> None:
    """Make state.accounts hold this run's accounts, writing only the rows that changed.

    Rows are compared by account and a hash of every column but source_line (a deleted account
    shifts the lines of all later ones without changing them); the k-th copy of a row matches the
    k-th, so repeated rows are kept exactly as often as the export has them. An unchanged row keeps
    the `as_of` and `source_line` of the run that wrote it. (A 64-bit hash collision between an old
    and a new version of one account would keep the old row for lookup: about 1 in 1.8e19.)
    """
    columns = [c for c in STG_ACCOUNTS if c != "source_line"]
    digest = f"hash({', '.join(columns)})"
    numbered = "row_number() OVER (PARTITION BY account_id, h ORDER BY {order})"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE acc_old AS SELECT rid, account_id, h, "  # noqa: S608 - schema names
        f"{numbered.format(order='rid')} AS k FROM (SELECT rowid AS rid, account_id, {digest} AS h "
        "FROM state.accounts)"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE acc_new AS SELECT source_line, account_id, h, "  # noqa: S608
        f"{numbered.format(order='source_line')} AS k FROM (SELECT source_line, account_id, {digest} AS h "
        "FROM stg_accounts)"
    )
    con.execute(
        "DELETE FROM state.accounts WHERE rowid IN (SELECT rid FROM acc_old o ANTI JOIN acc_new n "
        "ON n.account_id IS NOT DISTINCT FROM o.account_id AND n.h = o.h AND n.k = o.k)"
    )
    con.execute(
        "INSERT INTO state.accounts SELECT s.*, $as_of FROM stg_accounts s SEMI JOIN ("
        "SELECT source_line FROM acc_new n ANTI JOIN acc_old o "
        "ON n.account_id IS NOT DISTINCT FROM o.account_id AND n.h = o.h AND n.k = o.k"
        ") c ON c.source_line = s.source_line",
        {"as_of": as_of},
    )
    for table in ("acc_old", "acc_new"):
        con.execute(f"DROP TABLE {table}")


def finding_key_sql(check: str, table: str = "") -> str:
    """A finding's stable identity: one per cluster for duplicates, else one per account."""
    qualified = f"{table}." if table else ""
    if check == "duplicate_signups":
        return f"'duplicate_signups:' || {qualified}cluster_id"
    return f"'{check}:' || {qualified}account_id"


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
    # In place (ALTER + UPDATE) rather than rebuilt through a join, so each report keeps the row
    # order its check gave it without numbering rows by insertion order.
    for check in checks:
        table = f"chk_{check}"
        key = finding_key_sql(check, table)
        con.execute(f"ALTER TABLE {table} ADD COLUMN first_seen DATE")
        con.execute(f"ALTER TABLE {table} ADD COLUMN status VARCHAR")
        con.execute(f"UPDATE {table} SET first_seen = $as_of, status = 'new'", {"as_of": as_of})  # noqa: S608
        con.execute(
            f"UPDATE {table} SET first_seen = h.first_seen, "  # noqa: S608 - identifiers from sql/ file names
            f"status = CASE WHEN h.in_previous THEN 'ongoing' ELSE 'new' END "
            f"FROM hist_keys h WHERE h.finding_key = {key}"
        )
    parts = [
        f"SELECT '{check}' AS check_name, account_id, email, severity, evidence, action, "  # noqa: S608
        f"{finding_key_sql(check)} AS finding_key, first_seen, status FROM chk_{check}"
        for check in checks
    ]
    con.execute(f"CREATE OR REPLACE TEMP TABLE run_findings AS {' UNION ALL '.join(parts)}")
    con.execute(
        """
        CREATE OR REPLACE TABLE resolved AS
        SELECT h.check_name, h.account_id, h.email, h.finding_key, h.first_seen,
               h.as_of AS last_seen, h.severity, h.evidence, 'resolved' AS status,
               'No action: the problem is no longer seen.' AS action
        FROM hist_findings h
        WHERE h.as_of = $previous
          AND h.finding_key NOT IN (SELECT finding_key FROM run_findings)
        ORDER BY h.check_name, h.account_id, h.finding_key, h.email, h.evidence
        """,
        {"previous": previous},
    )
