"""Load Mailgun Events API v3 dumps (JSON lines, plain or gzipped) into stg_events.

Python only splits physical lines (so every line keeps its number); DuckDB's JSON functions do
the parsing and validation in bulk, so the per-line cost stays low. The sending domain is not in
a v3 item: it is the domain the dump was exported for, given as `--events DOMAIN=PATH`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pyarrow as pa

from audit.config import Config, EventsInput
from audit.inputs import InputStats, Rejects, expand, iter_lines, sha256_of
from audit.schema import STG_EVENTS, create_sql

log = logging.getLogger(__name__)

BATCH_LINES = 200_000
# Plausible Mailgun timestamps: 2010-01-01 .. 2100-01-01 (epoch seconds).
MIN_EPOCH, MAX_EPOCH = 1_262_304_000, 4_102_444_800

# (column, JSON path) pulled from every item in one parse.
FIELDS = (
    ("event_id", "$.id"),
    ("event", "$.event"),
    ("ts", "$.timestamp"),
    ("recipient", "$.recipient"),
    ("subject", "$.message.headers.subject"),
    ("message_id", '$.message.headers."message-id"'),
    ("severity", "$.severity"),
    ("reason", "$.reason"),
    ("delivery_code", '$."delivery-status".code'),
    ("delivery_description", '$."delivery-status".description'),
    ("delivery_message", '$."delivery-status".message'),
)

EXTRACT_SQL = """
WITH src AS (
    SELECT line, raw, json_valid(raw) AS ok FROM batch
), parsed AS (
    SELECT line, raw, json_type(raw::JSON) AS kind, json_extract_string(raw, $paths) AS v
    FROM src WHERE ok
)
SELECT line, raw, kind,
       v[1] AS event_id, v[2] AS event, TRY_CAST(v[3] AS DOUBLE) AS ts, v[3] AS ts_text,
       v[4] AS recipient, v[5] AS subject, v[6] AS message_id, v[7] AS severity, v[8] AS reason,
       TRY_CAST(v[9] AS INTEGER) AS delivery_code,
       coalesce(NULLIF(v[10], ''), NULLIF(v[11], '')) AS delivery_description
FROM parsed
"""

INVALID_SQL = "SELECT line, raw FROM batch WHERE NOT json_valid(raw)"


def load_events(
    con: duckdb.DuckDBPyConnection, cfg: Config, inputs: tuple[EventsInput, ...], rejects: Rejects
) -> list[InputStats]:
    """Load every dump, reject unusable lines, then de-duplicate on (domain, event_id) into stg_events."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE stg_events_all ("
        "domain VARCHAR, event_id VARCHAR, event VARCHAR, event_at TIMESTAMP, recipient VARCHAR, "
        "subject VARCHAR, message_id VARCHAR, severity VARCHAR, reason VARCHAR, delivery_code INTEGER, "
        "delivery_description VARCHAR, source_file VARCHAR, source_line BIGINT, input_order INTEGER)"
    )
    stats: list[InputStats] = []
    seen_files: set[Path] = set()
    for item in inputs:
        for path in expand(item.pattern):
            resolved = path.resolve()
            if resolved in seen_files:  # the same file named by two globs is read once
                continue
            seen_files.add(resolved)
            stats.append(_load_file(con, item.domain, path, len(stats), rejects))
    _deduplicate(con, cfg, stats)
    for s in stats:
        s.check_balance()
    return stats


def _load_file(
    con: duckdb.DuckDBPyConnection, domain: str, path: Path, order: int, rejects: Rejects
) -> InputStats:
    sha, size = sha256_of(path)
    stats = InputStats(kind="events", path=str(path), domain=domain, sha256=sha, bytes=size)
    numbers: list[int] = []
    texts: list[str] = []
    for number, raw in iter_lines(path):
        if not raw.strip():
            stats.blank_lines += 1
            continue
        stats.rows_read += 1
        try:
            texts.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            rejects.add(str(path), number, "not_utf8", "line is not valid UTF-8", raw)
            stats.rows_rejected += 1
            continue
        numbers.append(number)
        if len(texts) >= BATCH_LINES:
            _load_batch(con, domain, path, order, numbers, texts, stats, rejects)
            numbers, texts = [], []
    if texts:
        _load_batch(con, domain, path, order, numbers, texts, stats, rejects)
    log.info("events %s: read %d lines, rejected %d", domain, stats.rows_read, stats.rows_rejected)
    return stats


def _load_batch(
    con: duckdb.DuckDBPyConnection,
    domain: str,
    path: Path,
    order: int,
    numbers: list[int],
    texts: list[str],
    stats: InputStats,
    rejects: Rejects,
) -> None:
    file = str(path)
    batch = pa.table({"line": pa.array(numbers, pa.int64()), "raw": pa.array(texts, pa.string())})
    con.register("batch", batch)
    try:
        for line, raw in con.execute(INVALID_SQL).fetchall():
            rejects.add(file, line, "not_json", "line is not valid JSON", raw)
            stats.rows_rejected += 1
        con.execute(
            "CREATE OR REPLACE TEMP TABLE batch_parsed AS " + EXTRACT_SQL,
            {"paths": [p for _, p in FIELDS]},
        )
        problems = con.execute(
            """
            SELECT line, raw, CASE
                WHEN kind <> 'OBJECT' THEN 'not_object'
                WHEN event_id IS NULL OR event_id = '' THEN 'missing_id'
                WHEN event IS NULL OR event = '' THEN 'missing_event'
                WHEN ts_text IS NULL THEN 'missing_timestamp'
                WHEN recipient IS NULL OR recipient = '' THEN 'missing_recipient'
                WHEN ts IS NULL OR ts < $lo OR ts > $hi THEN 'bad_timestamp'
            END AS code
            FROM batch_parsed
            """,
            {"lo": MIN_EPOCH, "hi": MAX_EPOCH},
        ).fetchall()
        messages = {
            "not_object": "line is JSON but not an object",
            "missing_id": "required field 'id' is missing or empty",
            "missing_event": "required field 'event' is missing or empty",
            "missing_timestamp": "required field 'timestamp' is missing",
            "missing_recipient": "required field 'recipient' is missing or empty",
            "bad_timestamp": "field 'timestamp' is not epoch seconds between 2010 and 2100",
        }
        for line, raw, code in problems:
            if code is not None:
                rejects.add(file, line, code, messages[code], raw)
                stats.rows_rejected += 1
        con.execute(
            """
            INSERT INTO stg_events_all
            SELECT $domain, event_id, lower(event), make_timestamp(CAST(round(ts * 1e6) AS BIGINT)),
                   recipient, subject, message_id, lower(severity), lower(reason), delivery_code,
                   delivery_description, $file, line, $order
            FROM batch_parsed
            WHERE kind = 'OBJECT' AND event_id <> '' AND event <> '' AND recipient <> ''
              AND ts BETWEEN $lo AND $hi
            """,
            {"domain": domain, "file": file, "order": order, "lo": MIN_EPOCH, "hi": MAX_EPOCH},
        )
    finally:
        con.unregister("batch")
        con.execute("DROP TABLE IF EXISTS batch_parsed")


def _deduplicate(con: duckdb.DuckDBPyConnection, cfg: Config, stats: list[InputStats]) -> None:
    """Keep the first copy of each (domain, id) in input order; count the rest per file."""
    con.execute(create_sql("stg_events", STG_EVENTS))
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE stg_events_ranked AS
        SELECT *, row_number() OVER (
            PARTITION BY domain, event_id ORDER BY input_order, source_line) AS copy_no
        FROM stg_events_all
        """
    )
    con.execute(
        """
        INSERT INTO stg_events
        SELECT domain,
               CASE WHEN list_contains($gitlab, domain) THEN 'gitlab'
                    WHEN list_contains($portal, domain) THEN 'portal'
                    ELSE 'other' END,
               event_id, event, event_at, recipient, NULLIF(lower(trim(recipient)), ''), subject,
               CASE WHEN list_contains($reset, lower(trim(split_part(subject, ' | ', 1))))
                        THEN 'password_reset'
                    WHEN list_contains($confirm, lower(trim(split_part(subject, ' | ', 1))))
                        THEN 'confirmation'
                    ELSE 'other' END,
               message_id, severity, reason, delivery_code, delivery_description, source_file, source_line
        FROM stg_events_ranked WHERE copy_no = 1
        ORDER BY domain, event_at, event_id
        """,
        {
            "gitlab": list(cfg.gitlab_domains),
            "portal": list(cfg.portal_domains),
            "reset": [s.strip().lower() for s in cfg.reset_subjects],
            "confirm": [s.strip().lower() for s in cfg.confirmation_subjects],
        },
    )
    counts = dict(
        con.execute(
            "SELECT input_order, count(*) FILTER (WHERE copy_no = 1) FROM stg_events_ranked GROUP BY 1"
        ).fetchall()
    )
    dupes = dict(
        con.execute(
            "SELECT input_order, count(*) FILTER (WHERE copy_no > 1) FROM stg_events_ranked GROUP BY 1"
        ).fetchall()
    )
    for order, s in enumerate(stats):
        s.rows_loaded = int(counts.get(order, 0))
        s.rows_duplicate = int(dupes.get(order, 0))
    con.execute("DROP TABLE stg_events_ranked")
    con.execute("DROP TABLE stg_events_all")


def create_empty_events(con: duckdb.DuckDBPyConnection) -> None:
    """With no dumps given, checks still find a (empty) stg_events table."""
    con.execute(create_sql("stg_events", STG_EVENTS))
