"""Load the portal's accounts export (CSV, plain or gzipped) into stg_accounts.

Columns are matched by header name through the config's mapping, never by position, because
exports from different tools order and name them differently; the header is checked before any row
is read, so a changed export stops the run instead of loading wrong data. Rows that cannot be used
go to the rejects report with their physical line and the run goes on; rows kept despite a data
problem (duplicate id, empty or invalid email) are listed there too, with their own codes.
Physical lines come from rawlines and lineblocks (raw newline count, independent of the CSV parsing),
records from accounts_rows (an unterminated quote costs one row, not the rest of the file).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from audit.accounts_header import check_header, codec, shown
from audit.accounts_lines import LINES_TABLE, Lines, fetch, read_lines, stream
from audit.accounts_rows import (
    MAX_RECORD_LINES,
    convert,
    email_problem,
    parse_timestamp,
    records,
)
from audit.accounts_sql import BLANK, PRINTABLE_ASCII, conversion_sql, email_problem_sql
from audit.config import ACCOUNT_COLUMNS, Config
from audit.errors import InputError
from audit.inputs import REJECTED_CODES, InputStats, Rejects
from audit.lineblocks import Overlong
from audit.rawlines import RawFile
from audit.schema import STG_ACCOUNTS, create_sql

__all__ = ["load_accounts", "parse_timestamp"]
log = logging.getLogger(__name__)

ARROW_TYPES = {
    "BIGINT": pa.int64(),
    "VARCHAR": pa.string(),
    "TIMESTAMP": pa.timestamp("us"),
    "BOOLEAN": pa.bool_(),
}
# Job column -> its DuckDB type (the job's `id` is stg_accounts.account_id), and how stg_accounts
# is selected from the typed rows (whose columns carry the job's names, plus `start`).
_KINDS = {**{c: STG_ACCOUNTS.get(c, "VARCHAR") for c in ACCOUNT_COLUMNS}, "id": "BIGINT", "start": "BIGINT"}
_STG_SELECT = {
    **{c: c for c in STG_ACCOUNTS},
    "account_id": "id",
    "email_norm": "NULLIF(lower(trim(email)), '')",
    "source_line": "start",
}
SPECIAL = ('"', "\r", "\n", "\x00")  # a delimiter the SQL split cannot stand for: every line to Python
PLAIN_LINE = "NOT (contains(raw, chr(34)) OR contains(raw, chr(13)) OR contains(raw, chr(0)))"


def load_accounts(con: duckdb.DuckDBPyConnection, cfg: Config, path: Path, rejects: Rejects) -> InputStats:
    """Check the header, convert every record (rejecting what cannot be used) and create stg_accounts."""
    if path.exists() and not path.is_file():
        raise InputError("input is not a file", file=str(path))
    encoding = codec(cfg.encoding)
    file = str(path)
    stats = InputStats(kind="accounts", path=file)
    raw = RawFile(path, count_newlines=True)
    try:
        lines = read_lines(con, raw, encoding, cfg.encoding, cfg.max_line_bytes)

        def decode(number: int, data: bytes) -> str:
            return data.decode(encoding)  # acc_lines holds only lines that decode

        # The header: the first record, read as the line-by-line reader reads it.
        header: list[str] | None = None
        positions: dict[str, int] = {}
        header_end = 0
        for item in records(stream(con, lines, 1), decode, cfg.csv_delimiter, lambda: None):
            if isinstance(item, int):
                stats.blank_lines += 1
                continue
            if item.start < lines.failure_line:
                header, positions = check_header(item, cfg, file)
                header_end, stats.header_lines = item.end, 1
                stats.continuation_lines += item.end - item.start
            break
        if lines.failure is not None:
            raise lines.failure
        stats.sha256, stats.bytes, stats.lines = raw.sha256, raw.size, raw.raw_lines
        record_count = 0
        if header is not None:
            record_count = _records(con, cfg, lines, header_end, len(header), decode, stats)
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
        con.execute(create_sql("stg_accounts", STG_ACCOUNTS))
        if record_count:
            _convert(con, positions, len(header or []), stats, rejects, file)
        stats.rows_loaded = int(con.execute("SELECT count(*) FROM stg_accounts").fetchall()[0][0])
        stats.finish(cfg.reject_limit, rejects)
    finally:
        _drop(con)
    log.info(
        "accounts: read %d rows, loaded %d, rejected %d",
        stats.rows_read,
        stats.rows_loaded,
        stats.rows_rejected,
    )
    return stats


def _records(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    lines: Lines,
    header_end: int,
    width: int,
    decode: Callable[[int, bytes], str],
    stats: InputStats,
) -> int:
    """Create acc_records(start, fields, code, message, sha): one row per record after the header.

    A plain line (no quote, CR or NUL) is split on the delimiter in SQL, which is what the csv module
    does with it. Every other line goes through accounts_rows.records as before: quoted fields, and
    the lines a record with an odd number of quotes may join. Returns how many records there are.
    """
    delimiter = cfg.csv_delimiter
    plain = "false" if delimiter in SPECIAL else PLAIN_LINE
    after = {"h": header_end, "blank": BLANK}
    special = con.execute(
        f"SELECT line, (strlen(raw) - strlen(replace(raw, chr(34), ''))) % 2 = 1 AS odd "  # noqa: S608
        f"FROM {LINES_TABLE} WHERE line > $h AND NOT ({plain}) AND NOT regexp_full_match(raw, $blank) "
        "ORDER BY line",
        after,
    ).fetchall()
    # a line with an odd number of quotes may join the lines after it: fetch those too
    wanted = [n + k for n, odd in special for k in range(MAX_RECORD_LINES if odd else 1)]
    found = fetch(con, wanted)
    starts = sorted({*(n for n, _ in special), *(n for n in lines.overlong if n > header_end)})
    consumed: set[int] = set()
    rows: list[tuple[int, list[str] | None, str | None, str | None, str | None]] = []
    for number in starts:
        if number in consumed:
            continue
        if number in lines.overlong:
            rows.append((number, None, "line_too_long", "line is longer than inputs.max_line_bytes",
                         lines.overlong[number]))  # fmt: skip
            continue
        item = next(r for r in records(_window(number, found, lines), decode, delimiter, lambda: width)
                    if not isinstance(r, int))  # fmt: skip
        consumed.update(range(item.start + 1, item.end + 1))
        stats.continuation_lines += item.end - item.start
        rows.append((item.start, item.fields, item.code or None, item.message or None, item.sha256))
    con.register(
        "acc_python",
        pa.table(
            {
                "start": pa.array([r[0] for r in rows], pa.int64()),
                "fields": pa.array([r[1] for r in rows], pa.list_(pa.string())),
                "code": pa.array([r[2] for r in rows], pa.string()),
                "message": pa.array([r[3] for r in rows], pa.string()),
                "sha": pa.array([r[4] for r in rows], pa.string()),
            }
        ),
    )
    con.register("acc_consumed", pa.table({"line": pa.array(sorted(consumed), pa.int64())}))
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE acc_records AS
        SELECT line AS start, string_split(raw, $delimiter) AS fields, NULL::VARCHAR AS code,
               NULL::VARCHAR AS message, NULL::VARCHAR AS sha
        FROM {LINES_TABLE}
        WHERE line > $h AND NOT regexp_full_match(raw, $blank) AND {plain}
          AND line NOT IN (SELECT line FROM acc_consumed)
        UNION ALL
        SELECT start, fields, code, message, sha FROM acc_python
        """,  # noqa: S608 - constants
        after | {"delimiter": delimiter},
    )
    blank = con.execute(
        f"SELECT count(*) FROM {LINES_TABLE} WHERE line > $h AND regexp_full_match(raw, $blank) "  # noqa: S608
        "AND line NOT IN (SELECT line FROM acc_consumed)",
        after,
    ).fetchall()[0][0]
    stats.blank_lines += int(blank)
    con.unregister("acc_python")
    con.unregister("acc_consumed")
    return int(con.execute("SELECT count(*) FROM acc_records").fetchall()[0][0])


def _window(first: int, found: dict[int, bytes], lines: Lines) -> Iterator[tuple[int, bytes | Overlong]]:
    """The lines a record starting at `first` may span (stops at an overlong line or the end)."""
    for number in range(first, min(first + MAX_RECORD_LINES, lines.count + 1)):
        if number in lines.overlong:
            yield number, Overlong(0, lines.overlong[number])
        elif number in found:
            yield number, found[number]
        else:
            return


def _convert(
    con: duckdb.DuckDBPyConnection,
    positions: dict[str, int],
    width: int,
    stats: InputStats,
    rejects: Rejects,
    file: str,
) -> None:
    """Type every record of the header's width into stg_accounts; list rejects and kept problems."""
    columns = list(ACCOUNT_COLUMNS)
    fitting = "(SELECT start, fields FROM acc_records WHERE len(fields) = $width)"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE acc_typed AS {conversion_sql(fitting, positions, columns)}",
        {"width": width},
    )
    problems: list[tuple[int, str, str, str | None]] = []  # (line, code, message, sha or None)
    # Rows SQL could not decide: the Python converters judge them, exactly as before.
    uncertain = con.execute(
        "SELECT t.start, r.fields, r.sha FROM acc_typed t JOIN acc_records r USING (start) "
        "WHERE NOT t.certain ORDER BY t.start"
    ).fetchall()
    loaded: dict[str, list[Any]] = {name: [] for name in (*columns, "start")}
    for start, fields, sha in uncertain:
        record, problem = convert(fields, positions)
        if problem is not None:
            problems.append((start, problem[0], problem[1], sha))
            continue
        for name in columns:
            loaded[name].append(record.get(name))
        loaded["start"].append(start)
    python_rows = pa.table({name: pa.array(loaded[name], type=ARROW_TYPES[_KINDS[name]]) for name in loaded})
    con.register("acc_python_rows", python_rows)
    names = ", ".join(STG_ACCOUNTS)
    select = ", ".join(_STG_SELECT[n] for n in STG_ACCOUNTS)
    con.execute(
        f"INSERT INTO stg_accounts ({names}) SELECT {select} FROM ("  # noqa: S608 - schema names
        f"SELECT {', '.join(columns)}, start FROM acc_typed WHERE certain AND id IS NOT NULL "
        f"UNION ALL SELECT {', '.join(columns)}, start FROM acc_python_rows)"
    )
    con.unregister("acc_python_rows")
    listed = con.execute(
        f"""
        SELECT start, code, message, sha FROM acc_records WHERE fields IS NULL
        UNION ALL
        SELECT start, 'field_count', 'expected ' || $width || ' fields, found ' || len(fields), sha
        FROM acc_records WHERE len(fields) <> $width
        UNION ALL
        SELECT start, 'missing_id', 'column id is empty', NULL FROM acc_typed WHERE certain AND id IS NULL
        UNION ALL
        SELECT s.source_line, 'duplicate_id', 'kept: same id as line ' || f.first_line, NULL
        FROM stg_accounts s JOIN (
            SELECT account_id, min(source_line) AS first_line FROM stg_accounts
            GROUP BY account_id HAVING count(*) > 1) f USING (account_id)
        WHERE s.source_line > f.first_line
        UNION ALL
        SELECT source_line, p.code, p.message, NULL
        FROM (SELECT source_line, {email_problem_sql("email")} AS p FROM stg_accounts) WHERE p IS NOT NULL
        """,  # noqa: S608 - constants
        {"width": width},
    ).fetchall()
    problems.extend(listed)
    # Addresses that are not printable ASCII: the Python rule judges them.
    for line, email in con.execute(
        f"SELECT source_line, email FROM stg_accounts WHERE NOT regexp_full_match(email, '{PRINTABLE_ASCII}')"  # noqa: S608
    ).fetchall():
        quality = email_problem(email)
        if quality is not None:
            problems.append((line, quality[0], quality[1], None))
    _list(con, problems, stats, rejects, file)


def _list(
    con: duckdb.DuckDBPyConnection,
    problems: list[tuple[int, str, str, str | None]],
    stats: InputStats,
    rejects: Rejects,
    file: str,
) -> None:
    """Add the problems to rejects, hashing the raw line of those read in SQL."""
    need = [line for line, _, _, sha in problems if sha is None]
    hashes: dict[int, str] = {}
    if need:
        # a record's own hash when it spans lines (read in Python), else its line's
        con.register("acc_need", pa.table({"line": pa.array(sorted(set(need)), pa.int64())}))
        hashes = dict(
            con.execute(
                f"SELECT n.line, coalesce(r.sha, CASE WHEN l.orig IS NULL THEN sha256(l.raw) "  # noqa: S608
                f"ELSE sha256(l.orig) END) FROM acc_need n JOIN {LINES_TABLE} l USING (line) "
                "LEFT JOIN acc_records r ON r.start = n.line"
            ).fetchall()
        )
        con.unregister("acc_need")
    for line, code, message, sha in problems:
        rejects.add_hashed(file, line, code, message, sha if sha is not None else hashes[line])
        if code in REJECTED_CODES:
            stats.rows_rejected += 1


def _drop(con: duckdb.DuckDBPyConnection) -> None:
    for table in (LINES_TABLE, "acc_records", "acc_typed"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
