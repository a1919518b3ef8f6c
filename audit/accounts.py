"""Load the portal's accounts export (CSV, plain or gzipped) into stg_accounts.

Columns are matched by header name through the config's mapping, never by position, because
exports from different tools order and name them differently. Rows that cannot be used go to
the rejects report with their physical line; the run goes on.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from audit.config import ACCOUNT_COLUMNS, REQUIRED_ACCOUNT_COLUMNS, Config
from audit.errors import DataError, InputError
from audit.inputs import InputStats, Rejects, open_binary, sha256_of
from audit.schema import STG_ACCOUNTS, create_sql

log = logging.getLogger(__name__)

TIMESTAMP_COLUMNS = ("created_at", "updated_at", "confirmed_at", "confirmation_sent_at", "last_sign_in_at")
TRUE_WORDS = {"true", "t", "1", "yes", "y"}
FALSE_WORDS = {"false", "f", "0", "no", "n"}


def parse_timestamp(text: str) -> dt.datetime:
    """A UTC naive datetime from the forms Rails exports write; an explicit offset is honoured."""
    value = text.strip()
    if value.endswith(" UTC"):
        value = value[:-4]
    elif value.endswith("Z"):
        value = value[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"not a boolean: expected true or false, got {len(word)} characters")


def _converter(column: str) -> tuple[Callable[[str], Any], str]:
    if column == "id" or column == "sign_in_count":
        return int, "bad_integer"
    if column in TIMESTAMP_COLUMNS:
        return parse_timestamp, "bad_timestamp"
    if column == "login_activated":
        return parse_bool, "bad_boolean"
    return str, ""


def _text_stream(path: Path, encoding: str) -> io.TextIOWrapper:
    enc = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    return io.TextIOWrapper(open_binary(path), encoding=enc, errors="strict", newline="")


def _map_header(header: list[str], cfg: Config, path: Path) -> dict[str, int]:
    names = [cfg.columns.get(h.strip(), h.strip()) for h in header]
    seen: dict[str, int] = {}
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataError(f"header repeats column(s): {', '.join(dupes)}", file=str(path), line=1)
    for index, name in enumerate(names):
        if name in ACCOUNT_COLUMNS:
            seen[name] = index
    missing = [c for c in REQUIRED_ACCOUNT_COLUMNS if c not in seen]
    if missing:
        wanted = ", ".join(f"{c} (header {cfg.header_for(c)!r})" for c in missing)
        raise DataError(
            f"header lacks required column(s): {wanted}; found {len(header)} column(s): "
            f"{', '.join(repr(h) for h in header[:20])}",
            file=str(path),
            line=1,
        )
    return seen


def load_accounts(con: duckdb.DuckDBPyConnection, cfg: Config, path: Path, rejects: Rejects) -> InputStats:
    """Parse the export row by row (the csv module knows physical line numbers) and create stg_accounts."""
    if not path.is_file():
        raise InputError(
            "input file not found" if not path.exists() else "input is not a file", file=str(path)
        )
    sha, size = sha256_of(path)
    stats = InputStats(kind="accounts", path=str(path), sha256=sha, bytes=size)
    columns: dict[str, list[Any]] = {name: [] for name in STG_ACCOUNTS}
    file = str(path)
    try:
        with _text_stream(path, cfg.encoding) as text:
            reader = csv.reader(text, delimiter=cfg.csv_delimiter, strict=True)
            try:
                header = next(reader)
            except StopIteration:
                raise InputError("accounts export is empty", file=file) from None
            positions = _map_header(header, cfg, path)
            stats.notes["ignored_columns"] = sorted(
                h for i, h in enumerate(header) if i not in positions.values()
            )
            converters = {name: _converter(name) for name in positions}
            previous_end = reader.line_num
            while True:
                start = previous_end + 1
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    raise DataError(f"CSV cannot be parsed: {exc}", file=file, line=start) from None
                previous_end = reader.line_num
                if not row:
                    stats.blank_lines += 1
                    continue
                stats.rows_read += 1
                raw = cfg.csv_delimiter.join(row)
                if len(row) != len(header):
                    rejects.add(
                        file, start, "field_count", f"expected {len(header)} fields, found {len(row)}", raw
                    )
                    stats.rows_rejected += 1
                    continue
                record, problem = _convert(row, positions, converters)
                if problem is not None:
                    rejects.add(file, start, problem[0], problem[1], raw)
                    stats.rows_rejected += 1
                    continue
                record["source_line"] = start
                for name in STG_ACCOUNTS:
                    columns[name].append(record.get(name))
                stats.rows_loaded += 1
    except UnicodeDecodeError as exc:
        raise DataError(
            f"text is not valid {cfg.encoding} (byte offset {exc.start} of a chunk near line "
            f"{stats.rows_read + stats.blank_lines + 2}); set csv.encoding in the config if the export "
            "uses another encoding",
            file=file,
        ) from None
    if stats.rows_read == 0:
        raise InputError("accounts export has a header but no rows", file=file)

    _create_table(con, columns)
    stats.check_balance()
    log.info(
        "accounts: read %d rows, loaded %d, rejected %d",
        stats.rows_read,
        stats.rows_loaded,
        stats.rows_rejected,
    )
    return stats


def _convert(
    row: list[str],
    positions: dict[str, int],
    converters: dict[str, tuple[Callable[[str], Any], str]],
) -> tuple[dict[str, Any], tuple[str, str] | None]:
    record: dict[str, Any] = {}
    for name, index in positions.items():
        value = row[index]
        if value.strip() == "":
            record[name] = None
            continue
        convert, code = converters[name]
        try:
            record[name] = convert(value) if code else value
        except ValueError:
            return record, (
                code,
                f"column {name}: cannot read {len(value)}-character value as {code.removeprefix('bad_')}",
            )
    if record.get("id") is None:
        return record, ("missing_id", "column id is empty")
    record["account_id"] = record.pop("id")
    return record, None


def _create_table(con: duckdb.DuckDBPyConnection, columns: dict[str, list[Any]]) -> None:
    types = {
        "BIGINT": pa.int64(),
        "VARCHAR": pa.string(),
        "TIMESTAMP": pa.timestamp("us"),
        "BOOLEAN": pa.bool_(),
    }
    arrow = pa.table({name: pa.array(columns[name], type=types[kind]) for name, kind in STG_ACCOUNTS.items()})
    con.execute(create_sql("stg_accounts", STG_ACCOUNTS))
    con.register("accounts_arrow", arrow)
    names = ", ".join(STG_ACCOUNTS)
    select = ", ".join(
        "NULLIF(lower(trim(email)), '') AS email_norm" if n == "email_norm" else n for n in STG_ACCOUNTS
    )
    con.execute(f"INSERT INTO stg_accounts ({names}) SELECT {select} FROM accounts_arrow")  # noqa: S608 - schema names
    con.unregister("accounts_arrow")
