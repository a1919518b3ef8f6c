"""The fast path: DuckDB's own JSON reader loads a plain v3 JSON-lines dump with one parse per line.

DuckDB's reader is several times faster than its JSON functions, but it skips blank lines, accepts
unknown keys silently and converts some wrong types. So it runs only where those cannot matter: the
scan beside it (mailgun_scan) counts the raw lines (the reader must return exactly that many rows, so
a skipped blank line sends the file line by line), rules out a BOM and multi-line documents, checks
the key lists of its sample lines (shape, repeated or unknown keys), and keeps sentinel lines that
prove the reader kept the file's order (a row's line is its position in the order-preserving,
parallel insert). Slot values are read as JSON text, so a wrong type is still seen exactly; a line
the reader cannot parse (bad JSON, not an object, a repeated key in an object it reads, invalid
UTF-8, too long) makes it fail, and the file is then loaded line by line instead. Nothing here ever
decides a row differently from the line-by-line path.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from audit.inputs import InputStats
from audit.mailgun_scan import Scan, scan
from audit.mailgun_shapes import key_problems, shape_of
from audit.mailgun_sql import MAIL_KIND, ROLE, bind, diagnose, type_check

log = logging.getLogger(__name__)

# Fields the checks compare are read as JSON text (so their type is seen); descriptive text is read
# as VARCHAR, which keeps any JSON value as text -- the same rule as the line-by-line path.
READ_COLUMNS = (
    "{'id': 'JSON', 'event': 'JSON', 'timestamp': 'JSON', 'recipient': 'JSON', 'severity': 'VARCHAR', "
    "'reason': 'VARCHAR', 'message': 'STRUCT(headers STRUCT(subject VARCHAR, \"message-id\" VARCHAR))', "
    "'delivery-status': 'STRUCT(code JSON, description VARCHAR, message VARCHAR)', "
    "'domain': 'STRUCT(name JSON)'}"
)
SOURCES = (
    "r.id", "r.event", "r.timestamp", None, "r.recipient", "r.message.headers.subject",
    'r.message.headers."message-id"', "r.severity", "r.reason", 'r."delivery-status".code',
    'r."delivery-status".description', 'r."delivery-status".message', "r.domain.name",
)  # fmt: skip
S = [f"s{i}" for i in range(1, len(SOURCES) + 1)]
JSON_SLOTS = {"s1", "s2", "s3", "s5", "s10", "s13"}
SLOT_COLUMNS = ", ".join(
    ("NULL::VARCHAR" if src is None else f"CAST({src} AS VARCHAR)" if name in JSON_SLOTS else src)
    + f" AS {name}"
    for src, name in zip(SOURCES, S, strict=True)
)
# Everything in its place, checked with the cheapest operations: a JSON string's text starts with a
# quote, the casts fail for anything but a number, and without a backslash the text between the
# quotes is the value. Any other line goes to diagnose(), which names the problem exactly.
FAST_OK = (
    "starts_with(s1, '\"') AND starts_with(s2, '\"') AND starts_with(s5, '\"') "
    "AND strlen(s1) > 2 AND strlen(s2) > 2 AND strlen(s5) > 2 "
    "AND epoch BETWEEN $lo AND $hi AND (s10 IS NULL OR dcode = TRY_CAST(s10 AS DOUBLE)) AND s13 IS NULL"
)


def _value(slot: str) -> str:
    return f"CASE WHEN escaped THEN mg_str({slot}) ELSE {slot}[2:-2] END"


FAST_SQL = f"""
INSERT INTO mg_rows
SELECT d, {ROLE},
    event_id, event, event_at, recipient, NULLIF(lower(trim(recipient)), ''), subject,
    {MAIL_KIND},
    message_id, severity, reason, dcode, delivery_description, $source_file, line,
    $file_no, NULL, code,
    CASE code WHEN 'bad_type' THEN {type_check(S)} WHEN 'bad_timestamp' THEN 'timestamp' END,
    NULL, NULL, 'v3', NULL
FROM (
    SELECT *,
        CASE WHEN s13 IS NULL THEN $domain
             ELSE coalesce(NULLIF(lower(trim(mg_str(s13))), ''), $domain) END AS d,
        {_value("s1")} AS event_id, lower({_value("s2")}) AS event, {_value("s5")} AS recipient,
        s6 AS subject, s7 AS message_id, lower(s8) AS severity, lower(s9) AS reason,
        coalesce(NULLIF(s11, ''), NULLIF(s12, '')) AS delivery_description
    FROM (
        SELECT *, CASE WHEN ok THEN NULL ELSE {diagnose(S)} END AS code,
            CASE WHEN ok THEN contains(s1, '\\') OR contains(s2, '\\') OR contains(s5, '\\') ELSE true END
                AS escaped
        FROM (
            SELECT *, {FAST_OK} AS ok,
                CASE WHEN epoch BETWEEN $lo AND $hi
                     THEN make_timestamp(CAST(round(epoch * 1e6) AS BIGINT)) END AS event_at
            FROM (
                SELECT NULL::BIGINT AS line, {SLOT_COLUMNS},
                    TRY_CAST(CAST(r.timestamp AS VARCHAR) AS DOUBLE) AS epoch,
                    TRY_CAST(CAST(r."delivery-status".code AS VARCHAR) AS INTEGER) AS dcode
                FROM read_json($path, format = 'newline_delimited', columns = {READ_COLUMNS},
                               maximum_object_size = {{max_bytes}}, compression = '{{compression}}')
                     AS r))))
"""  # noqa: S608 - constants; the path is a bound parameter


def load_fast(con: duckdb.DuckDBPyConnection, stats: InputStats, params: dict[str, Any]) -> Scan | None:
    """Load one dump with the reader; None (and nothing kept) when it must go line by line."""
    path = stats.path
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(scan, Path(path))
        inserted: int | None = None
        try:
            sql = FAST_SQL.replace("{max_bytes}", str(int(params["max_bytes"])))
            sql = sql.replace("{compression}", "gzip" if _is_gzip(path) else "none")
            inserted = int(con.execute(sql, bind(sql, {**params, "path": path})).fetchall()[0][0])
        except duckdb.Error as exc:  # the reader's message quotes the line: never show it
            log.info("%s: loading line by line (the fast reader stopped: %s)", path, type(exc).__name__)
        result = pending.result()  # a broken file (truncated gzip, unreadable) stops the run here
    why = _ruled_out(con, result, inserted)
    if why is None and not _number_lines(con, int(params["file_no"]), int(inserted or 0)):
        why = "rows not stored contiguously"
    if why is None and not _order_kept(con, int(params["file_no"]), result):
        why = "order check failed"
    if why is not None:
        if inserted is not None:
            log.info("%s: loading line by line (%s)", path, why)
            con.execute("DELETE FROM mg_rows WHERE file_no = ?", [params["file_no"]]).fetchall()
        return None
    return result


def _number_lines(con: duckdb.DuckDBPyConnection, file_no: int, inserted: int) -> bool:
    """Line = position in the file. The insert keeps the reader's order (preserve_insertion_order) and
    appends contiguously, so a row's line is its rowid minus the file's first rowid, plus one; the
    sentinel lines then prove it. (WITH ORDINALITY would number the rows but read single-threaded.)"""
    first, last, count = con.execute(
        "SELECT min(rowid), max(rowid), count(*) FROM mg_rows WHERE file_no = ?", [file_no]
    ).fetchall()[0]
    if count == 0:
        return True
    if count != inserted or last - first + 1 != count:
        return False
    con.execute(
        "UPDATE mg_rows SET source_line = rowid - ? + 1 WHERE file_no = ?", [first, file_no]
    ).fetchall()
    return True


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _ruled_out(con: duckdb.DuckDBPyConnection, result: Scan, inserted: int | None) -> str | None:
    if inserted is None:
        return "reader failed"
    if not result.fast:
        return result.why
    if inserted != result.lines:
        return f"reader saw {inserted} lines, the raw count is {result.lines}"
    try:
        samples = pa.array([s.decode("utf-8") for s in result.samples], pa.large_string())
    except UnicodeDecodeError:
        return "a line is not UTF-8"
    con.register("mg_samples", pa.table({"raw": samples}))
    try:
        lists = con.execute("SELECT TRY(json_keys(raw)) AS k FROM mg_samples GROUP BY k").fetchall()
    finally:
        con.unregister("mg_samples")
    for (keys,) in lists:
        if keys is None or shape_of(keys) != "v3" or any(key_problems("v3", keys)):
            return "a sample line is not a plain v3 item"
    return None


def _order_kept(con: duckdb.DuckDBPyConnection, file_no: int, result: Scan) -> bool:
    """The ids of the sentinel lines are where the reader put them (line = record number)."""
    expected: dict[int, str] = {}
    for line, raw in result.sentinels.items():
        try:
            item = json.loads(raw)
        except ValueError:
            continue
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            expected[line] = item["id"]
    if not expected:
        return True
    found = dict(
        con.execute(
            "SELECT source_line, event_id FROM mg_rows WHERE file_no = ? AND list_contains(?, source_line)",
            [file_no, list(expected)],
        ).fetchall()
    )
    return all(found.get(line) == event_id for line, event_id in expected.items())
