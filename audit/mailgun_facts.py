"""What a dump's rows in mg_rows say, once loaded: its problem rows (the rejects) and its counts by
shape, event type and key list (the manifest's schema drift notes), for one file or every file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from audit.inputs import InputStats, Rejects
from audit.mailgun_shapes import KNOWN_EVENTS, key_problems, message, safe_event, safe_key

MAX_LISTED = 100  # unknown event types or fields named per file in the manifest


@dataclass
class Facts:
    """What one file's rows in mg_rows say: problem rows, and counts by shape, event and key list."""

    found: list[tuple[int, int | None, str, str | None, str | None]] = field(default_factory=list)
    by_event: list[tuple[str, str, int]] = field(default_factory=list)  # (shape, event, rows)
    key_lists: list[tuple[str, list[str], int]] = field(default_factory=list)  # (shape, keys, rows)


# Problem rows and counts by shape, event and key list: of every row in mg_rows, or of one file's.
_FACT_SQL = (
    "SELECT file_no, source_line, item, code, detail, sha FROM mg_rows "
    "WHERE code IS NOT NULL AND code NOT IN ('blank', 'page'){and_file} ORDER BY file_no, source_line, item",
    "SELECT file_no, shape, event, count(*) FROM mg_rows WHERE code IS NULL{and_file} GROUP BY ALL",
    "SELECT file_no, shape, from_json(keys, '[\"VARCHAR\"]'), n FROM (SELECT file_no, shape, keys, "
    "count(*) AS n FROM mg_rows WHERE code IS NULL AND keys IS NOT NULL{and_file} GROUP BY ALL)",
)
FACT_SQL = {
    scope: tuple(sql.replace("{and_file}", where) for sql in _FACT_SQL)
    for scope, where in (("all", ""), ("file", " AND file_no = $no"))
}


def file_facts(con: duckdb.DuckDBPyConnection, file_no: int | None) -> dict[int, Facts]:
    """What the rows of one file in mg_rows say, or (None) of every file with rows there now."""
    found_sql, events_sql, keys_sql = FACT_SQL["all" if file_no is None else "file"]
    bound = {} if file_no is None else {"no": file_no}
    facts: dict[int, Facts] = {}
    for no, *row in con.execute(found_sql, bound).fetchall():
        facts.setdefault(no, Facts()).found.append(tuple(row))
    for no, shape, event, n in con.execute(events_sql, bound).fetchall():
        facts.setdefault(no, Facts()).by_event.append((shape, event, int(n)))
    for no, shape, keys, n in con.execute(keys_sql, bound).fetchall():
        facts.setdefault(no, Facts()).key_lists.append((shape, keys, int(n)))
    return facts


def account(stats: InputStats, facts: Facts, rejects: Rejects, early: int) -> int:
    """A file's rejects (`early` were counted before its rows reached mg_rows, all whole lines) and
    schema drift; returns how many lines were rejected whole (not an item of a page or document)."""
    for line, item, code, detail, sha in facts.found:  # every problem row comes from BLOCK_SQL, hashed there
        rejects.add_hashed(stats.path, line, code, message(code, detail, item), sha or "")
    stats.rows_rejected = early + len(facts.found)
    shapes = _counts((shape, n) for shape, _, n in facts.by_event)
    if set(shapes) - {"v3"}:
        stats.notes["shapes"] = shapes
    unknown_events = _counts((safe_event(e), n) for _, e, n in facts.by_event if e not in KNOWN_EVENTS)
    unknown_fields = _counts(
        (safe_key(k), n) for shape, ks, n in facts.key_lists for k in key_problems(shape, ks)[1]
    )
    _note_names(stats, "unknown_events", unknown_events)
    _note_names(stats, "unknown_fields", unknown_fields)
    return early + sum(1 for _, item, *_ in facts.found if item is None)


def _note_names(stats: InputStats, note: str, counts: dict[str, int]) -> None:
    """Schema drift by name, the MAX_LISTED most frequent ones: a dump with a new name on every line
    must not turn the manifest into a copy of the dump. The others are summed in `<note>_not_listed`."""
    if len(counts) > MAX_LISTED:
        listed = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_LISTED]
        rows = sum(counts.values()) - sum(n for _, n in listed)
        stats.notes[f"{note}_not_listed"] = {"names": len(counts) - MAX_LISTED, "rows": rows}
        counts = dict(sorted(listed))
    if counts:
        stats.notes[note] = counts


def _counts(pairs: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, n in pairs:
        out[key] = out.get(key, 0) + int(n)
    return dict(sorted(out.items()))
