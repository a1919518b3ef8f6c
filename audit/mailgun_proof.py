"""What proves that a dump the fast path read is in mg_rows as its lines, one row each, in order.

DuckDB's reader gives no line numbers and skips blank lines, and the fast path reads only the keys it
needs, so a file stays on the fast path only when (verify):
- the reader read it and the scan found nothing that rules it out (mailgun_scan);
- the reader returned exactly as many rows as the scan counted raw lines, stored contiguously;
- its sample lines (mailgun_scan) are all plain v3 items: the shape, every key known, none repeated at
  the top level or in a nested object the loader reads;
- the rows at its sentinel lines hold the ids those lines hold, once each row is numbered by its
  position in the order-preserving insert.
Any other file is loaded line by line.
"""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa

from audit.lineblocks import batched
from audit.mailgun_scan import Scan
from audit.mailgun_shapes import key_problems, shape_of
from audit.mailgun_sql import ITEM_KEY_PATHS

UNREADABLE = "the file cannot be read"


def verify(
    con: duckdb.DuckDBPyConnection, scans: dict[int, Scan | None], failed: dict[int, str]
) -> tuple[dict[int, int], dict[int, str]]:
    """({file number: rows in mg_rows}, {file number: why it must go line by line}), and the kept
    files' rows numbered. `scans` in input order (None: the scan raised); `failed`: why the reader did
    not read these files."""
    counts: dict[int, tuple[int, int, int]] = {}  # file number -> (rows, first, last rowid)
    for no, n, first, last in con.execute(
        "SELECT file_no, count(*), min(rowid), max(rowid) FROM mg_rows GROUP BY file_no"
    ).fetchall():
        counts[no] = (n, first, last)
    why: dict[int, str] = {}
    for no, result in scans.items():
        reason = failed.get(no) or _ruled_out(result, counts.get(no))
        if reason is not None:
            why[no] = reason
    read = {no: s for no, s in scans.items() if no not in why and s}
    why |= _sample_problems(con, read)
    kept = {no: s for no, s in read.items() if no not in why}
    _number_lines(con, {no: counts[no][1] for no in kept if no in counts})
    sentinels = _sentinel_rows(con, kept)
    for no, result in kept.items():
        if not _order_kept(sentinels.get(no, {}), result):
            why[no] = "order check failed"
    return {no: n for no, (n, _, _) in counts.items()}, why


def _ruled_out(result: Scan | None, counts: tuple[int, int, int] | None) -> str | None:
    if result is None:
        return UNREADABLE
    if not result.fast:
        return result.why
    inserted, first, last = counts if counts is not None else (0, 0, -1)
    if inserted != result.lines:
        return f"reader saw {inserted} lines, the raw count is {result.lines}"
    if inserted and last - first + 1 != inserted:
        return "rows not stored contiguously"
    return None


def _sample_problems(con: duckdb.DuckDBPyConnection, results: dict[int, Scan]) -> dict[int, str]:
    """Files whose sample lines are not all plain v3 items (checked by distinct key list)."""
    why: dict[int, str] = {}
    numbers: list[int] = []
    texts: list[pa.Array] = []
    for no, result in results.items():
        try:  # Arrow checks the UTF-8 in C++, far faster than decoding each line in Python
            texts.append(pa.array(result.samples, pa.large_binary()).cast(pa.large_string()))
        except pa.ArrowInvalid:
            why[no] = "a line is not UTF-8"
            continue
        numbers += [no] * len(result.samples)
    if not numbers:
        return why
    samples = pa.table({"no": pa.array(numbers, pa.int32()), "raw": pa.concat_arrays(texts)})
    con.register("mg_samples", batched(samples))
    try:  # the top-level keys, then those of each nested object the loader reads (as BLOCK_SQL does)
        lists = con.execute(
            "SELECT no, TRY(json_keys(raw, $paths)) AS k FROM mg_samples GROUP BY ALL",
            {"paths": ITEM_KEY_PATHS},
        ).fetchall()
    finally:
        con.unregister("mg_samples")
    verdicts: dict[tuple[tuple[str, ...] | None, ...] | None, bool] = {}
    for no, found in lists:
        key = None if found is None else tuple(None if k is None else tuple(k) for k in found)
        if key not in verdicts:
            verdicts[key] = found is not None and found[0] is not None and _plain_v3(found[0], found[1:])
        if not verdicts[key]:
            why.setdefault(no, "a sample line is not a plain v3 item")
    return why


def _plain_v3(keys: list[str], nested: list[list[str] | None]) -> bool:
    """Top-level keys of a v3 item, all known, none repeated there or in a nested object read."""
    if shape_of(keys) != "v3" or any(key_problems("v3", keys)):
        return False
    return all(inner is None or len(set(inner)) == len(inner) for inner in nested)


def _number_lines(con: duckdb.DuckDBPyConnection, firsts: dict[int, int]) -> None:
    """Line = position in the file. The insert keeps the reader's order (preserve_insertion_order) and
    appends each file contiguously, so a row's line is its rowid minus the file's first rowid, plus
    one; the sentinel lines then prove it. (WITH ORDINALITY would number the rows but read
    single-threaded.)"""
    if not firsts:
        return
    con.execute(
        "UPDATE mg_rows SET source_line = mg_rows.rowid - f.first + 1 "
        "FROM (SELECT unnest($nos) AS no, unnest($firsts) AS first) AS f WHERE mg_rows.file_no = f.no",
        {"nos": list(firsts), "firsts": list(firsts.values())},
    ).fetchall()


def _sentinel_rows(con: duckdb.DuckDBPyConnection, results: dict[int, Scan]) -> dict[int, dict[int, str]]:
    """{file: {line: event_id}} of the rows at the sentinel lines of these files."""
    pairs = [(no, line) for no, result in results.items() for line in result.sentinels]
    if not pairs:
        return {}
    found: dict[int, dict[int, str]] = {}
    rows = con.execute(
        "SELECT m.file_no, m.source_line, m.event_id FROM mg_rows AS m "
        "SEMI JOIN (SELECT unnest($nos) AS no, unnest($lines) AS line) AS s "
        "ON m.file_no = s.no AND m.source_line = s.line",
        {"nos": [no for no, _ in pairs], "lines": [line for _, line in pairs]},
    ).fetchall()
    for no, line, event_id in rows:
        found.setdefault(no, {})[line] = event_id
    return found


def _order_kept(found: dict[int, str], result: Scan) -> bool:
    """The ids of the sentinel lines are where the reader put them (line = record number)."""
    expected: dict[int, str] = {}
    for line, raw in result.sentinels.items():
        try:
            item = json.loads(raw)
        except ValueError:
            continue
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            expected[line] = item["id"]
    return all(found.get(line) == event_id for line, event_id in expected.items())
