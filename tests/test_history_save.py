"""Saving the state at scale: which events are kept, and accounts written only where they changed."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import duckdb
import pytest

from audit.history import KEEP_EVENTS, _save_accounts, attached
from audit.schema import STG_ACCOUNTS, create_sql

# The rule as first written (IN subqueries and a window), the reference for the GROUP BY form.
KEEP_AS_FIRST_WRITTEN = """
    mail_kind <> 'other'
    OR event IN ('failed', 'complained', 'rejected')
    OR (event = 'delivered' AND (
        recipient_norm IN (
            SELECT recipient_norm FROM ev WHERE event IN ('failed', 'complained', 'rejected'))
        OR (domain, event_id) IN (
            SELECT (domain, event_id) FROM ev WHERE event = 'delivered'
            QUALIFY row_number() OVER (
                PARTITION BY recipient_norm ORDER BY event_at DESC, domain, event_id) = 1)))
"""


@pytest.mark.parametrize("seed", range(25))
def test_kept_events_are_those_of_the_rule_as_first_written(seed: int) -> None:
    r = random.Random(seed)
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE ev (domain VARCHAR, event_id VARCHAR, event VARCHAR, event_at TIMESTAMP, "
        "recipient_norm VARCHAR, mail_kind VARCHAR)"
    )
    keys = {(r.choice("abc"), f"id{r.randint(0, 300)}") for _ in range(r.randint(1, 250))}
    events = ["delivered", "delivered", "failed", "accepted", "opened", "complained", "rejected"]
    con.executemany(
        "INSERT INTO ev VALUES (?, ?, ?, ?, ?, ?)",
        [
            (d, e, r.choice(events), dt.datetime(2026, 11, r.randint(1, 3), 10, 0, r.randint(0, 2)),
             r.choice(["x", "y", "z", None, "w"]), r.choice(["other", "other", "password_reset", None]))
            for d, e in sorted(keys)
        ],
    )  # fmt: skip
    want = set(con.execute(f"SELECT domain, event_id FROM ev WHERE ({KEEP_AS_FIRST_WRITTEN})").fetchall())
    assert set(con.execute(KEEP_EVENTS.format(source="ev")).fetchall()) == want


def account(i: int, line: int, **values: object) -> dict[str, object]:
    row: dict[str, object] = {c: None for c in STG_ACCOUNTS}
    row.update(account_id=i, email=f"u{i}@acme.com", email_norm=f"u{i}@acme.com", sign_in_count=1)
    row.update(source_line=line, **values)
    return row


def save(path: Path, rows: list[dict[str, object]], as_of: dt.date) -> list[tuple[object, ...]]:
    con = duckdb.connect()
    con.execute(create_sql("stg_accounts", STG_ACCOUNTS))
    columns = list(STG_ACCOUNTS)
    con.executemany(
        f"INSERT INTO stg_accounts VALUES ({', '.join('?' for _ in columns)})",
        [[r[c] for c in columns] for r in rows],
    )
    with attached(con, path, read_only=False):
        _save_accounts(con, as_of)
        saved = con.execute(
            "SELECT account_id, email, sign_in_count, source_line, as_of FROM state.accounts "
            "ORDER BY account_id, sign_in_count, source_line"
        ).fetchall()
    con.close()
    return saved


def test_only_changed_accounts_are_written_and_the_table_holds_exactly_the_new_export(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    night1, night2 = dt.date(2026, 11, 19), dt.date(2026, 11, 20)
    first = [account(1, 2), account(2, 3), account(3, 4), account(3, 5), account(4, 6)]
    assert [r[-1] for r in save(path, first, night1)] == [night1] * 5
    # account 1 deleted (every later line shifts), 2 unchanged, one copy of 3 left, 4 changed, 5 new
    second = [account(2, 2), account(3, 3), account(4, 4, sign_in_count=9), account(5, 5)]
    assert save(path, second, night2) == [
        (2, "u2@acme.com", 1, 3, night1),  # unchanged: not rewritten, keeps its line and date
        (3, "u3@acme.com", 1, 4, night1),
        (4, "u4@acme.com", 9, 4, night2),
        (5, "u5@acme.com", 1, 5, night2),
    ]
    # a repeated row is kept exactly as often as the export has it
    third = [account(2, 2), account(3, 3), account(3, 4), account(3, 5)]
    assert [(r[0], r[-1]) for r in save(path, third, dt.date(2026, 11, 21))] == [
        (2, night1), (3, night1), (3, dt.date(2026, 11, 21)), (3, dt.date(2026, 11, 21)),
    ]  # fmt: skip
