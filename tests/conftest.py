"""Shared fixtures: tiny stg_* tables built from Python rows, so each check's test reads like its spec."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from audit.config import Config
from audit.schema import STG_ACCOUNTS, STG_EVENTS, create_sql

AS_OF = dt.date(2026, 11, 20)
ARROW_TYPES = {
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "VARCHAR": pa.string(),
    "TIMESTAMP": pa.timestamp("us"),
    "BOOLEAN": pa.bool_(),
}


def ts(text: str) -> dt.datetime:
    """'2026-11-18 10:00' -> naive UTC datetime."""
    return dt.datetime.fromisoformat(text)


def account(account_id: int, email: str | None, **fields: Any) -> dict[str, Any]:
    """A confirmed, unlinked account unless the test says otherwise."""
    row: dict[str, Any] = {
        "account_id": account_id,
        "email": email,
        "email_norm": email.strip().lower() if email and email.strip() else None,
        "created_at": ts("2026-01-05 09:00"),
        "confirmed_at": ts("2026-01-05 09:30"),
        "login_activated": True,
        "source_line": account_id + 1,
    }
    row.update(fields)
    return row


def event(
    event_id: str,
    domain: str,
    kind: str,
    at: str,
    recipient: str,
    *,
    event_type: str = "delivered",
    message_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    role = {"mg.gitlab.com": "gitlab", "customers.gitlab.com": "portal"}.get(domain, "other")
    subject = {
        "password_reset": "Reset password instructions",
        "confirmation": "Confirmation instructions",
    }.get(kind, "Your pipeline has failed")
    row: dict[str, Any] = {
        "domain": domain,
        "domain_role": role,
        "event_id": event_id,
        "event": event_type,
        "event_at": ts(at),
        "recipient": recipient,
        "recipient_norm": recipient.strip().lower(),
        "subject": subject,
        "mail_kind": kind,
        "message_id": message_id or f"msg-{event_id}@{domain}",
        "source_file": "test.jsonl",
        "source_line": 1,
    }
    row.update(fields)
    return row


def load_rows(
    con: duckdb.DuckDBPyConnection, table: str, schema: dict[str, str], rows: list[dict[str, Any]]
) -> None:
    con.execute(create_sql(table, schema))
    arrow = pa.table(
        {name: pa.array([r.get(name) for r in rows], type=ARROW_TYPES[kind]) for name, kind in schema.items()}
    )
    con.register("rows_arrow", arrow)
    con.execute(f"INSERT INTO {table} SELECT * FROM rows_arrow")
    con.unregister("rows_arrow")


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    yield connection
    connection.close()


@pytest.fixture
def staged(con: duckdb.DuckDBPyConnection) -> Callable[..., duckdb.DuckDBPyConnection]:
    """Build stg_accounts/stg_events from rows and run the stage SQL, as the pipeline does."""
    from audit.checks import load_checks, run_check, sql_dir
    from audit.pipeline import parameters

    def build(
        accounts: list[dict[str, Any]],
        events: list[dict[str, Any]] | None = None,
        events_given: bool = True,
        **cfg: Any,
    ) -> duckdb.DuckDBPyConnection:
        load_rows(con, "stg_accounts", STG_ACCOUNTS, accounts)
        load_rows(con, "stg_events", STG_EVENTS, events or [])
        config = Config(as_of=AS_OF, **cfg)
        params = parameters(config, events_given=events_given)
        for stage in load_checks(sql_dir() / "stage"):
            run_check(con, stage, params, table=stage.name)
        checks = {c.name: c for c in load_checks()}
        for check in checks.values():
            run_check(con, check, params)
        return con

    return build
