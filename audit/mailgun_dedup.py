"""De-duplicate Mailgun events on (domain, id) across every dump of a run, then build stg_events.

Nightly dumps overlap, so most duplicates are exact copies: counted in rows_duplicate, not listed.
A copy with the same (domain, id) whose loaded content differs (any stg_events column but the source)
is a conflicting duplicate: the first copy in input order is kept (inputs in the order given, the
files of a glob by name, then line and item) and each later conflicting copy is counted in
rows_duplicate and listed (data_quality) as conflicting_duplicate. Keeping the first copy makes
the result independent of what a later, possibly re-exported, dump says. In a nightly run the
events the state kept from earlier runs come before every dump: a dump's copy of one is a duplicate
(listed when it differs), and the state's copy stays.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from audit.config import Config
from audit.inputs import InputStats, Rejects, sha256_hex
from audit.lineblocks import Overlong, split_lines
from audit.mailgun_docs import PageError, page_items, read_document, split_document
from audit.mailgun_sql import EXTRA
from audit.rawlines import RawFile
from audit.schema import STG_EVENTS, create_sql

FileInfo = tuple[int, Path, InputStats, bool, int]  # (file_no, path, stats, document, usable rows)
CONTENT = (
    "event, event_at, recipient, subject, message_id, severity, reason, delivery_code, delivery_description"
)

STATE_FILE = -1  # the file number a state's copy takes: it comes before every dump of the run
KEY_HASH = "hash(domain, event_id)"  # one expression for every hash of the key, or copies go unseen


def copies_sql(state: str | None) -> str:
    """mg_copies: every copy of a repeated (domain, id), numbered in keep order, the first one kept.

    `state` names a table of events kept by earlier runs (STG_EVENTS columns and first_as_of): its
    copy of an event comes first, so a new copy of it is a duplicate (and a conflict if it differs)."""
    rows = f"""SELECT rowid AS rid, file_no, source_line, coalesce(item, 0) AS item, NULL::DATE AS read_on,
        domain, event_id, {CONTENT} FROM mg_rows WHERE code IS NULL"""  # noqa: S608 - constants
    if state is not None:
        rows += f"""
        UNION ALL SELECT NULL, {STATE_FILE}, NULL, 0, first_as_of, domain, event_id, {CONTENT}
        FROM {state}"""  # noqa: S608 - constants and a table name
    return f"""
CREATE OR REPLACE TEMP TABLE mg_copies AS
WITH candidate AS (  -- the rows whose hash is repeated ($none: no hash is)
    SELECT * FROM ({rows}) WHERE NOT $none AND {KEY_HASH} IN (SELECT h FROM mg_dup_hashes)
), dup AS (
    SELECT domain, event_id FROM candidate GROUP BY ALL HAVING count(*) > 1
)
SELECT rid, file_no, source_line, item, row_number() OVER w AS copy_no,
       row({CONTENT}) IS DISTINCT FROM first_value(row({CONTENT})) OVER w AS differs,
       first_value(file_no) OVER w AS kept_file, first_value(source_line) OVER w AS kept_line,
       first_value(read_on) OVER w AS kept_on
FROM candidate SEMI JOIN dup USING (domain, event_id)
WINDOW w AS (PARTITION BY domain, event_id ORDER BY file_no, source_line, item, read_on, rid)
"""  # noqa: S608 - built above from constants


def deduplicate(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    files: list[FileInfo],
    rejects: Rejects,
    state: str | None = None,
) -> None:
    """Keep one row per (domain, id), set rows_loaded / rows_duplicate, and turn mg_rows into stg_events.

    With `state`, a dump's copy of an event that table holds is a duplicate: the state's copy stays."""
    if state is not None and not state.isidentifier():  # it is written into the SQL text
        raise ValueError(f"not a table name: {state!r}")
    repeated = _repeated_hashes(con, state)
    con.register("mg_dup_hashes", repeated)
    try:
        con.execute(copies_sql(state), {"none": repeated.num_rows == 0}).fetchall()
    finally:
        con.unregister("mg_dup_hashes")
    dupes = dict(
        con.execute("SELECT file_no, count(*) FROM mg_copies WHERE copy_no > 1 GROUP BY 1").fetchall()
    )
    conflicts = con.execute(
        "SELECT file_no, source_line, item, kept_file, kept_line, kept_on FROM mg_copies "
        "WHERE copy_no > 1 AND differs ORDER BY ALL"
    ).fetchall()
    paths = {f[0]: f[1] for f in files}
    for no, path, stats, document, usable in files:
        stats.rows_duplicate = int(dupes.get(no, 0))
        stats.rows_loaded = usable - stats.rows_duplicate
        mine = [c for c in conflicts if c[0] == no]
        if not mine:
            continue
        stats.notes["conflicting_duplicates"] = len(mine)
        shas = raw_shas(path, document, {(line, item) for _, line, item, *_ in mine}, cfg.max_line_bytes)
        for _, line, item, kept_file, kept_line, kept_on in mine:
            if kept_file == STATE_FILE:
                first = f"an event kept from an earlier run (first read on {kept_on})"
                kept = "that copy was kept"
            else:
                first = f"line {kept_line} of {'this file' if kept_file == no else paths[kept_file]}"
                kept = "the first copy was kept"
            rejects.add_hashed(
                str(path), line, "conflicting_duplicate",
                f"{'item ' + str(item) + ': ' if item else ''}same (domain, id) as {first} "
                f"but different content; {kept}",
                shas.get((line, item), ""),
            )  # fmt: skip
    _finish(con)


def _repeated_hashes(con: duckdb.DuckDBPyConnection, state: str | None) -> pa.Table:
    """The 64-bit hashes of (domain, id) that occur more than once among the usable rows, or that
    the state holds too.

    Sorting the hashes in polars and comparing neighbours costs about a third of a DuckDB GROUP BY
    over millions of distinct keys (when there are few copies); a hash found twice is only a
    candidate (the pairs are compared as strings next), and a night without copies skips the rest."""
    hashes = con.sql(f"SELECT {KEY_HASH} AS h FROM mg_rows WHERE code IS NULL").pl()["h"].sort()  # noqa: S608
    repeated = hashes.filter(hashes == hashes.shift(1))
    if state is not None:
        known = con.sql(f"SELECT {KEY_HASH} AS h FROM {state}").pl()["h"]  # noqa: S608 - a table name
        repeated = pl.concat([repeated, hashes.filter(hashes.is_in(known.implode()))])
    return repeated.unique().to_frame().to_arrow()


def _finish(con: duckdb.DuckDBPyConnection) -> None:
    """mg_rows without rejected rows and later copies, and without its extra columns, is stg_events."""
    con.execute(
        "DELETE FROM mg_rows WHERE code IS NOT NULL OR rowid IN (SELECT rid FROM mg_copies WHERE copy_no > 1)"
    ).fetchall()
    for column in EXTRA:
        con.execute(f'ALTER TABLE mg_rows DROP COLUMN "{column}"').fetchall()
    con.execute("DROP TABLE IF EXISTS mg_copies").fetchall()
    con.execute("DROP TABLE IF EXISTS stg_events").fetchall()
    con.execute("ALTER TABLE mg_rows RENAME TO stg_events").fetchall()


def raw_shas(
    path: Path, document: bool, wanted: set[tuple[int, int]], max_line_bytes: int
) -> dict[tuple[int, int], str]:
    """SHA-256 of the raw text of a few rows, found by reading the file again (conflicts are rare)."""
    found: dict[tuple[int, int], str] = {}
    if document:
        text, _ = read_document(path)
        for line, item, body in split_document(text, str(path)).rows:
            if (line, item or 0) in wanted:
                found[(line, item or 0)] = sha256_hex(body)
        return found
    lines = {line for line, _ in wanted}
    for number, raw in split_lines(RawFile(path), max_line_bytes):
        if number not in lines or isinstance(raw, Overlong):
            continue
        if (number, 0) in wanted:
            found[(number, 0)] = sha256_hex(raw)
        try:
            text = raw.decode("utf-8")
            items, _ = page_items(text, len(text) - len(text.lstrip()))
        except (UnicodeDecodeError, PageError):
            continue
        for n, (_, body) in enumerate(items, start=1):
            if (number, n) in wanted:
                found[(number, n)] = sha256_hex(body)
    return found


def create_empty_events(con: duckdb.DuckDBPyConnection) -> None:
    """With no dumps given, checks still find an (empty) stg_events table."""
    con.execute(create_sql("stg_events", STG_EVENTS)).fetchall()
