"""The fast path: DuckDB's own JSON reader loads plain v3 JSON-lines dumps with one parse per line.

DuckDB's reader is several times faster than its JSON functions, but it skips blank lines, accepts
unknown keys silently and converts some wrong types. So it runs only where those cannot matter: the
scan before it (mailgun_scan) counts the raw lines (the reader must return exactly that many rows for
the file, so a skipped blank line sends the file line by line), rules out a BOM and multi-line
documents, and keeps sample and sentinel lines; after the reader, mailgun_proof checks the key lists
of the sample lines (shape, repeated or unknown keys) and that the sentinel lines prove the reader
kept the file's order (a row's line is its position in the order-preserving, parallel insert). A row
whose values are not all plainly right (a missing field, a wrong type, a value that could be a
converted non-string, a required one that could be blank: it starts with a space, a control
character or a non-ASCII one) is marked RECHECK; mailgun then replaces it with the line-by-line
statement's row for that line. A line the reader cannot parse (bad JSON, a repeated key in an object
it reads, invalid UTF-8, too long, a `message`, `message.headers`, `delivery-status` or `domain` that is
no object) makes it fail, and that file is then loaded line by line instead. Nothing here ever decides
a row differently from the line-by-line path.

All candidate files are read by one statement (one for plain files, one for gzipped ones): a file's
rows carry its number (from the reader's file_index), and its domain, role and name come from
list parameters indexed by that number. One statement per night instead of one per dump saves the
planning and the ragged end of every file, and lets DuckDB read gzipped dumps in parallel. When the
reader fails, the file its message names is set aside and the others are read again; a failure that
names no file sends every file of the statement through a statement of its own. The scan of every
file runs first, two files at a time, the largest first (hashing is most of its work): run beside the
reader, it slowed the reader by more than its own cost.
"""

from __future__ import annotations

import glob
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from audit.database import is_resource_failure
from audit.mailgun_proof import UNREADABLE, verify
from audit.mailgun_scan import Scan, scan
from audit.mailgun_sql import RECIPIENT_NORM, SUBJECT_KIND, bind
from audit.rawlines import GZIP_MAGIC

log = logging.getLogger(__name__)

SCAN_WORKERS = 2  # the scan runs before the reader, on every core: beside it, it slows the reader more
MAX_RETRIES = 3  # failed multi-file statements before every file gets a statement of its own

# The three required strings are read as VARCHAR: their value, escapes decoded, without a copy of the
# JSON text to strip. A number, boolean, object or array read that way turns into text, so a value
# that could be such text (see DOUBTFUL) sends its row to the exact check. The other fields the checks
# compare are read as JSON text, so their type is seen; descriptive text is read as VARCHAR, which
# keeps any JSON value as text -- the same rule as the line-by-line path.
READ_COLUMNS = (
    "{'id': 'VARCHAR', 'event': 'VARCHAR', 'timestamp': 'JSON', 'recipient': 'VARCHAR', "
    "'severity': 'VARCHAR', 'reason': 'VARCHAR', "
    "'message': 'STRUCT(headers STRUCT(subject VARCHAR, \"message-id\" VARCHAR))', "
    "'delivery-status': 'STRUCT(code JSON, description VARCHAR, message VARCHAR)', "
    "'domain': 'STRUCT(name JSON)'}"
)
# A VARCHAR value a JSON non-string could have become: a number's text (anything DOUBLE parses, a
# superset, which includes the NaN and Infinity the reader accepts in any case), true, false, an
# object or an array. A real string that looks like one is only rechecked. A failing TRY_CAST costs
# about 0.3 us, so only values that start like a number (code points 45-57: - . / 0-9) or are spelt
# like nan, inf or infinity (I, N, i, n) pay for it.
# ({0} is the value, {1} its first code point: ord() is taken once per value, in the reader's select.)
DOUBTFUL = (
    "(CASE WHEN {1} BETWEEN 45 AND 57 OR (strlen({0}) IN (3, 8) AND {1} IN (73, 78, 105, 110)) "
    "THEN TRY_CAST({0} AS DOUBLE) IS NOT NULL WHEN {1} IN (123, 91) THEN true "
    "ELSE {0} IN ('true', 'false') END)"
)
# A required value that could be blank (only white space: mailgun_sql's mg_empty) starts with a space,
# a control character (a tab, a line break) or a non-ASCII one (a Unicode space); the exact check is left
# to the line-by-line path. An empty value (ord -1) or a missing one (NULL) fails it too.
CANNOT_BE_BLANK = "({0} > 32 AND {0} < 128)"
# (the reader's field, its value's name, its first code point's name)
REQUIRED = (
    ("id", "id", "id_ord"),
    ("event", "event_text", "event_ord"),
    ("recipient", "recipient", "recipient_ord"),
)
FIRST_CODE_POINTS = ", ".join(f"ord(r.{field}) AS {o}" for field, _, o in REQUIRED)
# Everything in its place, checked with the cheapest operations: the casts fail for anything but a
# number and a domain.name, when given, is a JSON string. Any other row is marked RECHECK and later
# replaced by the line-by-line statement's row for the same line, which names the problem exactly.
FAST_OK = (
    " AND ".join(CANNOT_BE_BLANK.format(o) for _, _, o in REQUIRED)
    + "".join(f" AND NOT {DOUBTFUL.format(v, o)}" for _, v, o in REQUIRED)
    + " AND epoch BETWEEN $lo AND $hi AND (code_text IS NULL OR dcode = TRY_CAST(code_text AS DOUBLE)) "
    "AND (domain_text IS NULL OR starts_with(domain_text, '\"'))"
)
RECHECK = "recheck"
READER_STOPPED = "the fast reader stopped"

# The input's own domain has its role worked out once per file ($roles); an item's domain.name is
# looked up (the same rule as mailgun_sql.ROLE, per file).
FILE_ROLE = """CASE WHEN domain_text IS NULL OR d = file_domain THEN file_role
         WHEN list_contains($gitlab, d) THEN 'gitlab'
         WHEN list_contains($portal, d) THEN 'portal' ELSE 'other' END"""

FAST_SQL = f"""
INSERT INTO mg_rows
SELECT d, {FILE_ROLE},
    event_id, event, event_at, recipient, {RECIPIENT_NORM}, subject,
    {SUBJECT_KIND},  -- not MAIL_KIND: a RECHECK row is replaced, and testing `code` computes FAST_OK twice
    message_id, severity, reason, dcode, delivery_description, source_file, NULL::BIGINT,
    file_no, NULL, code, NULL, NULL, NULL, 'v3', NULL
FROM (
    SELECT *,
        CASE WHEN domain_text IS NULL THEN file_domain
             ELSE coalesce(NULLIF(lower(trim(mg_str(domain_text))), ''), file_domain) END AS d,
        id AS event_id, lower(event_text) AS event,
        lower(severity_text) AS severity, lower(reason_text) AS reason,
        coalesce(NULLIF(description_text, ''), NULLIF(message_text, '')) AS delivery_description,
        CASE WHEN {FAST_OK} THEN NULL ELSE '{RECHECK}' END AS code,
        CASE WHEN epoch BETWEEN $lo AND $hi
             THEN make_timestamp(CAST(round(epoch * 1e6) AS BIGINT)) END AS event_at
    FROM (
        SELECT file_no, $domains[file_no + 1] AS file_domain, $roles[file_no + 1] AS file_role,
            $paths[file_no + 1] AS source_file, r.id, r.event AS event_text, r.recipient,
            {FIRST_CODE_POINTS},
            r.message.headers.subject AS subject, r.message.headers."message-id" AS message_id,
            r.severity AS severity_text, r.reason AS reason_text,
            CAST(r."delivery-status".code AS VARCHAR) AS code_text,
            r."delivery-status".description AS description_text,
            r."delivery-status".message AS message_text,
            CAST(r.domain.name AS VARCHAR) AS domain_text,
            TRY_CAST(CAST(r.timestamp AS VARCHAR) AS DOUBLE) AS epoch,
            TRY_CAST(CAST(r."delivery-status".code AS VARCHAR) AS INTEGER) AS dcode
        FROM (
            SELECT $read_nos[CAST(file_index AS INTEGER) + 1] AS file_no, *
            FROM read_json($read, format = 'newline_delimited', columns = {READ_COLUMNS},
                           maximum_object_size = {{max_bytes}}, compression = '{{compression}}',
                           hive_partitioning = false)
        ) AS r))
"""  # noqa: S608 - constants; paths and domains are bound parameters
# DuckDB's reader takes a path its own way: it expands a glob (`d[1].jsonl` reads d1.jsonl, `d*.jsonl`
# several files), a leading `~` (the home folder) and, unless told not to (hive_partitioning), reads a
# folder named like `severity=permanent` as that column's value. So the reader is given each dump's
# absolute path, and a path with glob characters never reaches it: file_index, a row's position in
# $read, would then name the wrong file.
NAMED_LIKE_A_GLOB = "its path reads as a glob to DuckDB's reader"


@dataclass(frozen=True)
class Candidate:
    """A dump the fast path may take: its number in the run, its name as given, its input's domain."""

    no: int
    path: str
    domain: str
    role: str

    @property
    def reader_path(self) -> str:
        """The path the reader is given: absolute, so that DuckDB cannot read a leading `~` as home."""
        return str(Path(self.path).absolute())


@dataclass
class Outcome:
    """What the fast path did with one dump: `scan` is set when it was kept (rows in mg_rows)."""

    scan: Scan | None
    rows: int = 0


def load_fast(
    con: duckdb.DuckDBPyConnection, candidates: list[Candidate], params: dict[str, Any]
) -> dict[int, Outcome]:
    """Load the dumps the reader can take; {file number: Outcome} for the kept ones only.

    A file left out has no row in mg_rows and must go line by line (which also raises, in input
    order, any error of the file itself: missing, unreadable, broken gzip)."""
    if not candidates:
        return {}
    # the largest first, so that no lone large file is left to one core at the end
    largest_first = sorted(candidates, key=lambda cand: _size(cand.path), reverse=True)
    with ThreadPoolExecutor(max_workers=SCAN_WORKERS) as pool:
        futures = {c.no: pool.submit(scan, Path(c.path), int(params["max_bytes"])) for c in largest_first}
        results = {c.no: _result(futures[c.no]) for c in candidates}  # in input order
    failed = _insert(con, candidates, params)
    rows, why = verify(con, results, failed)
    for c in candidates:
        if c.no in why:
            log.info("%s: loading line by line (%s)", c.path, why[c.no])
    dropped = [no for no in why if no in rows]
    if dropped:
        con.execute("DELETE FROM mg_rows WHERE list_contains($nos, file_no)", {"nos": dropped}).fetchall()
    return {c.no: Outcome(results[c.no], rows.get(c.no, 0)) for c in candidates if c.no not in why}


def _size(path: str) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:  # the scan meets (and the line-by-line path reports) the same error
        return 0


def _result(future: Future[Scan]) -> Scan | None:
    """A scan that raised is no fast file: the line-by-line path meets (and reports) the same error."""
    try:
        return future.result()
    except Exception:  # the line-by-line read of the same file raises it again, in input order
        return None


def _insert(
    con: duckdb.DuckDBPyConnection, candidates: list[Candidate], params: dict[str, Any]
) -> dict[int, str]:
    """Run the reader over every candidate; {file number: why} for the files it did not read."""
    failed: dict[int, str] = {}
    groups: dict[str, list[Candidate]] = {"none": [], "gzip": []}
    for c in candidates:
        if glob.has_magic(c.reader_path):
            failed[c.no] = NAMED_LIKE_A_GLOB
        elif (kind := _compression(c.path)) is None:
            failed[c.no] = UNREADABLE
        else:
            groups[kind].append(c)
    # a row's file number is its file's position in $paths, so the numbers must be the positions
    assert all(c.no == position for position, c in enumerate(candidates)), "candidates numbered 0.."
    lists = {
        "paths": [c.path for c in candidates],
        "domains": [c.domain for c in candidates],
        "roles": [c.role for c in candidates],
    }
    for compression, group in groups.items():
        pending, retries = list(group), 0
        while pending:
            error = _statement(con, pending, compression, params | lists)
            if error is None:
                break
            named = [c for c in pending if f'"{c.reader_path}"' in error]
            if len(named) == 1 and retries < MAX_RETRIES and len(pending) > 1:
                failed[named[0].no] = READER_STOPPED
                pending.remove(named[0])
                retries += 1
                continue
            for c in pending:  # one statement each: only the files that really fail are lost
                if len(pending) == 1 or _statement(con, [c], compression, params | lists) is not None:
                    failed[c.no] = READER_STOPPED
            break
    return failed


def _statement(
    con: duckdb.DuckDBPyConnection, files: list[Candidate], compression: str, params: dict[str, Any]
) -> str | None:
    """Insert the rows of these files; None, or the reader's error (never logged: it quotes a line)."""
    sql = FAST_SQL.replace("{max_bytes}", str(int(params["max_bytes"])))
    sql = sql.replace("{compression}", compression)
    read = {"read": [c.reader_path for c in files], "read_nos": [c.no for c in files]}
    try:
        con.execute(sql, bind(sql, params | read)).fetchall()
    except duckdb.Error as exc:
        if is_resource_failure(exc):
            raise  # database.resource_failures gives it its exit code
        return str(exc)
    return None


def _compression(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return "gzip" if fh.read(2) == GZIP_MAGIC else "none"
    except OSError:
        return None
