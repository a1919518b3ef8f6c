"""The line-by-line accounts loader of commit cf3a547, kept as the reference the SQL loader must match.

Every physical line goes through accounts_rows.records and every cell through the Python converters.
tests/test_accounts_equivalence.py loads generated exports with both and compares everything. The header
check and its messages are the loader's own (audit.accounts_header.check_header), not a copy.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from audit.accounts_header import check_header, codec, shown
from audit.accounts_rows import Record, convert, email_problem, records
from audit.config import Config
from audit.errors import DataError, InputError
from audit.inputs import InputStats, Rejects
from audit.lineblocks import split_lines
from audit.rawlines import RawFile
from audit.schema import STG_ACCOUNTS, create_sql

log = logging.getLogger(__name__)

ARROW_TYPES = {
    "BIGINT": pa.int64(),
    "VARCHAR": pa.string(),
    "TIMESTAMP": pa.timestamp("us"),
    "BOOLEAN": pa.bool_(),
}


def load_accounts(con: duckdb.DuckDBPyConnection, cfg: Config, path: Path, rejects: Rejects) -> InputStats:
    """Check the header, convert every record (rejecting what cannot be used) and create stg_accounts."""
    if path.exists() and not path.is_file():
        raise InputError("input is not a file", file=str(path))
    encoding = codec(cfg.encoding)
    file = str(path)
    stats = InputStats(kind="accounts", path=file)
    raw = RawFile(path, count_newlines=True)

    def decode(number: int, data: bytes) -> str:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            raise DataError(
                f"line is not valid {cfg.encoding}; set csv.encoding in the config if the export uses "
                "another encoding",
                file=file,
                line=number,
            ) from None

    positions: dict[str, int] = {}
    header: list[str] | None = None
    columns: dict[str, list[Any]] = {name: [] for name in STG_ACCOUNTS}
    first_seen: dict[int, int] = {}
    record_count = 0
    stream = split_lines(raw, cfg.max_line_bytes)
    width: list[int | None] = [None]  # the header's field count, once read
    for item in records(stream, decode, cfg.csv_delimiter, lambda: width[0]):
        if isinstance(item, int):
            stats.blank_lines += 1
            continue
        stats.continuation_lines += item.end - item.start
        if header is None:
            header, positions = check_header(item, cfg, file)
            width[0], stats.header_lines = len(header), 1
            continue
        record_count += 1
        _row(item, header, positions, columns, first_seen, stats, rejects, file)
    stats.sha256, stats.bytes, stats.lines = raw.sha256, raw.size, raw.raw_lines
    if header is None or record_count == 0:
        if not cfg.allow_empty:
            what = "is empty" if header is None else "has a header but no rows"
            raise InputError(f"accounts export {what} (set inputs.allow_empty to accept)", file=file)
        stats.header_lines = 0 if header is None else 1
    if header is not None:
        stats.notes["ignored_columns"] = sorted(
            shown(h) for i, h in enumerate(header) if i not in positions.values()
        )
    stats.rows_from_lines(record_count)
    stats.rows_loaded = len(columns["account_id"])
    stats.finish(cfg.reject_limit, rejects)
    _create_table(con, columns)
    log.info(
        "accounts: read %d rows, loaded %d, rejected %d",
        stats.rows_read,
        stats.rows_loaded,
        stats.rows_rejected,
    )
    return stats


def _row(
    item: Record,
    header: list[str],
    positions: dict[str, int],
    columns: dict[str, list[Any]],
    first_seen: dict[int, int],
    stats: InputStats,
    rejects: Rejects,
    file: str,
) -> None:
    """Convert one record into `columns`, or reject it; list the data problems of kept rows."""
    if item.fields is None:
        rejects.add_hashed(file, item.start, item.code, item.message, item.sha256)
        stats.rows_rejected += 1
        return
    if len(item.fields) != len(header):
        message = f"expected {len(header)} fields, found {len(item.fields)}"
        rejects.add_hashed(file, item.start, "field_count", message, item.sha256)
        stats.rows_rejected += 1
        return
    record, problem = convert(item.fields, positions)
    if problem is not None:
        rejects.add_hashed(file, item.start, problem[0], problem[1], item.sha256)
        stats.rows_rejected += 1
        return
    account_id = record.pop("id")
    if account_id in first_seen:
        message = f"kept: same id as line {first_seen[account_id]}"
        rejects.add_hashed(file, item.start, "duplicate_id", message, item.sha256)
    first_seen.setdefault(account_id, item.start)
    quality = email_problem(record.get("email"))
    if quality is not None:
        rejects.add_hashed(file, item.start, quality[0], quality[1], item.sha256)
    record.update(account_id=account_id, source_line=item.start)
    for name in STG_ACCOUNTS:
        columns[name].append(record.get(name))


def _create_table(con: duckdb.DuckDBPyConnection, columns: dict[str, list[Any]]) -> None:
    arrow = pa.table(
        {name: pa.array(columns[name], type=ARROW_TYPES[kind]) for name, kind in STG_ACCOUNTS.items()}
    )
    con.execute(create_sql("stg_accounts", STG_ACCOUNTS)).fetchall()
    con.register("accounts_arrow", arrow)
    names = ", ".join(STG_ACCOUNTS)
    select = ", ".join(
        "NULLIF(lower(trim(email)), '') AS email_norm" if n == "email_norm" else n for n in STG_ACCOUNTS
    )
    con.execute(f"INSERT INTO stg_accounts ({names}) SELECT {select} FROM accounts_arrow").fetchall()
    con.unregister("accounts_arrow")
