"""Load Mailgun dumps (every shape, plain or gzipped, a file or a glob) into stg_events.

Each file takes one of two paths that end in the same rows of mg_rows (outcome code NULL = usable):
- the fast path (mailgun_fast): DuckDB's reader, for plain v3 JSON lines -- the usual nightly dump;
- the line-by-line path (below): Python splits physical lines in big blocks and one DuckDB statement
  per block (mailgun_sql.BLOCK_SQL) classifies, checks and converts them; API pages and multi-line
  documents are split into items first (mailgun_docs). Every line of every shape and every problem
  goes this way, so it is the reference behaviour: the fast path only ever declines, a whole file
  or (through _recheck) the few rows it could not decide, which this statement then judges.
Then rows are de-duplicated on (domain, id) and mg_rows becomes stg_events (mailgun_dedup). The
sending domain is the item's own `domain.name` when it has one, else the `--events DOMAIN=` domain.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from audit.config import Config, EventsInput
from audit.errors import InputError
from audit.inputs import InputStats, Rejects, expand, sha256_hex, unseen
from audit.lineblocks import line_blocks
from audit.mailgun_dedup import create_empty_events, deduplicate
from audit.mailgun_docs import (
    PageError,
    item_table,
    opens_document,
    page_items,
    read_document,
    split_document,
)
from audit.mailgun_facts import Facts, account, file_facts
from audit.mailgun_fast import RECHECK, Candidate, Outcome, load_fast
from audit.mailgun_scan import wanted_lines
from audit.mailgun_shapes import key_problems
from audit.mailgun_sql import MACROS, MG_ROWS, bind, block_sql, class_lists, params, role
from audit.rawlines import CR_ONLY, RawFile, bare_cr

__all__ = ["create_empty_events", "load_events"]
log = logging.getLogger(__name__)

ITEM_BATCH = 16_384
MAX_GOOD_LISTS = 256  # a query parameter checked per line: keep it short


@dataclass
class _KeyLists:
    """Top-level key lists already checked in Python, by DuckDB hash; `good` ones skip the per-line check."""

    good: list[int]
    seen: set[int]

    def learn(self, con: duckdb.DuckDBPyConnection, file_no: int) -> None:
        rows = con.execute(
            "SELECT hash(k), shape, k FROM (SELECT DISTINCT shape, from_json(keys, '[\"VARCHAR\"]') AS k "
            "FROM mg_rows WHERE file_no = ? AND keys IS NOT NULL)",
            [file_no],
        ).fetchall()
        for digest, shape, keys in rows:
            if digest in self.seen:
                continue
            self.seen.add(digest)
            repeated, unknown = key_problems(shape, keys)
            if not repeated and not unknown and len(self.good) < MAX_GOOD_LISTS:
                self.good.append(digest)


@dataclass
class _File:
    no: int
    path: Path
    domain: str
    stats: InputStats
    document: bool = False
    candidates: int = 0  # usable rows before de-duplication
    whole_lines_rejected: int = 0  # lines rejected whole (an API page so rejected loses all its events)


def load_events(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    inputs: tuple[EventsInput, ...],
    rejects: Rejects,
    state: str | None = None,
) -> list[InputStats]:
    """Load every dump, reject unusable rows, de-duplicate on (domain, event_id) into stg_events.

    `state`: a table of the events earlier runs kept; a dump's copy of one of them is a duplicate.

    The fast path takes every dump it can in one go; the others are then read line by line, in input
    order, so that errors are raised in the order the files were given."""
    con.execute(MG_ROWS).fetchall()
    for macro in MACROS:
        con.execute(macro).fetchall()
    lists = class_lists(cfg)
    keys = _KeyLists([], set())
    files: list[_File] = []
    plan: list[_File | InputError] = []  # files in input order; a pattern that matched nothing in its place
    seen: set[Path] = set()
    for item in inputs:
        try:
            paths = expand(item.pattern)
        except InputError as exc:
            plan.append(exc)
            continue
        for path in unseen(paths, seen):
            f = _File(
                len(files), path, item.domain, InputStats(kind="events", path=str(path), domain=item.domain)
            )
            files.append(f)
            plan.append(f)
    first_error = next((i for i, entry in enumerate(plan) if isinstance(entry, InputError)), len(plan))
    shared = params(lists, 0, "", "", cfg.max_line_bytes)
    candidates = [
        Candidate(f.no, f.stats.path, f.domain, role(f.domain, lists))
        for f in plan[:first_error]
        if isinstance(f, _File)
    ]
    outcomes = load_fast(con, candidates, shared) or {}
    _recheck(con, cfg, {f.no: f for f in files}, outcomes, lists, keys)
    facts = file_facts(con, None) if outcomes else {}
    for entry in plan:
        if isinstance(entry, InputError):
            raise entry
        f = entry
        outcome = outcomes.get(f.no)
        if outcome is not None and outcome.scan is not None:
            raw = outcome.scan.raw
            f.stats.sha256, f.stats.bytes, f.stats.lines = raw.sha256, raw.size, outcome.scan.lines
            f.stats.rows_from_lines(outcome.rows)
            _collect(con, cfg, f, rejects, 0, facts.get(f.no, Facts()))
            continue
        bound = params(lists, f.no, f.stats.path, f.domain, cfg.max_line_bytes) | {"good": keys.good}
        _load_lines(con, cfg, f, bound, rejects, keys)
    deduplicate(con, cfg, [(f.no, f.path, f.stats, f.document, f.candidates) for f in files], rejects, state)
    for f in files:  # a dump read as one rejected line may have lines ending in CR alone
        cr_only = f.stats.lines == 1 and f.stats.rows_rejected > 0 and bare_cr(f.path)
        f.stats.finish(cfg.reject_limit, rejects, CR_ONLY if cr_only else "", f.whole_lines_rejected)
    return [f.stats for f in files]


def _recheck(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    files: dict[int, _File],
    outcomes: dict[int, Outcome],
    lists: dict[str, list[Any]],
    keys: _KeyLists,
) -> None:
    """The rows the fast statement could not decide get the line-by-line statement's row for their line.

    A line that is no plain v3 item after all (an API page, another shape) sends its file line by
    line, as any doubt about a file does."""
    pending = con.execute(
        "SELECT file_no, list(source_line) FROM mg_rows WHERE code = ? GROUP BY 1 ORDER BY 1", [RECHECK]
    ).fetchall()
    for no, lines in pending:
        f = files[no]
        table = wanted_lines(f.path, cfg.max_line_bytes, set(lines))
        con.execute("DELETE FROM mg_rows WHERE file_no = ? AND code = ?", [no, RECHECK]).fetchall()
        if table is not None:
            bound = params(lists, f.no, f.stats.path, f.domain, cfg.max_line_bytes) | {"good": keys.good}
            _insert(con, table, bound, False, keys)
            odd = con.execute(
                "SELECT count(*) FROM mg_rows WHERE file_no = ? "
                "AND (shape <> 'v3' OR code IN ('page', 'blank'))",
                [no],
            ).fetchall()[0][0]
            if not odd:
                continue
        log.info("%s: loading line by line (a line is not a plain v3 item)", f.stats.path)
        con.execute("DELETE FROM mg_rows WHERE file_no = ?", [no]).fetchall()
        del outcomes[no]


def _load_lines(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    f: _File,
    bound: dict[str, Any],
    rejects: Rejects,
    keys: _KeyLists,
) -> None:
    """The line-by-line path: every shape, every problem, one DuckDB statement per block of lines."""
    raw = RawFile(f.path)
    blocks = line_blocks(raw, cfg.max_line_bytes)
    early = 0
    for block in blocks:
        if f.stats.lines == 0 and opens_document(block, f.path):
            blocks.close()
            _load_document(con, cfg, f, bound, rejects, keys)
            return
        f.stats.lines += block.count
        for line, code, text, sha in block.rejects:
            rejects.add_hashed(f.stats.path, line, code, text, sha)
        early += len(block.rejects)
        if block.table is not None:
            _insert(con, block.table, bound, False, keys)
    f.stats.sha256, f.stats.bytes = raw.sha256, raw.size
    f.stats.notes.update({"bom": True} if raw.bom else {})
    _expand_pages(con, f, bound, keys)
    counts = con.execute(
        "SELECT code, item IS NULL, count(*) FROM mg_rows WHERE file_no = ? GROUP BY ALL", [f.no]
    ).fetchall()
    whole = {code: n for code, is_whole, n in counts if is_whole}
    pages, items = whole.get("page", 0), sum(n for _, is_whole, n in counts if not is_whole)
    f.stats.blank_lines = whole.get("blank", 0)
    records = early + sum(n for code, n in whole.items() if code != "blank")
    f.stats.rows_from_lines(records, extra_rows=items - pages)
    _collect(con, cfg, f, rejects, early)


def _insert(
    con: duckdb.DuckDBPyConnection, table: pa.Table, bound: dict[str, Any], items: bool, keys: _KeyLists
) -> None:
    sql = block_sql(items)
    con.register("mg_batch", table)
    try:
        con.execute(sql, bind(sql, bound)).fetchall()
    finally:
        con.unregister("mg_batch")
    keys.learn(con, int(bound["file_no"]))


def _load_document(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    f: _File,
    bound: dict[str, Any],
    rejects: Rejects,
    keys: _KeyLists,
) -> None:
    """A pretty-printed page (or array, or several) as one document: rows are its items."""
    text, raw = read_document(f.path)
    doc = split_document(text, f.stats.path)
    f.document = True
    f.stats.sha256, f.stats.bytes = raw.sha256, raw.size
    f.stats.lines, f.stats.blank_lines = doc.lines, doc.blank_lines
    f.stats.continuation_lines = doc.lines - doc.blank_lines - doc.starts
    f.stats.notes["document"] = {"values": doc.starts, "api_pages": doc.pages}
    for start in range(0, len(doc.rows), ITEM_BATCH):
        _insert(con, item_table(doc.rows[start : start + ITEM_BATCH]), bound, True, keys)
    f.stats.rows_from_lines(doc.starts, extra_rows=len(doc.rows) - doc.starts)
    _collect(con, cfg, f, rejects, 0)


def _expand_pages(con: duckdb.DuckDBPyConnection, f: _File, bound: dict[str, Any], keys: _KeyLists) -> None:
    """An API page on one line becomes one row per item, all with the page's line number."""
    pages = con.execute(
        "SELECT source_line, page FROM mg_rows WHERE file_no = ? AND code = 'page' ORDER BY 1", [f.no]
    ).fetchall()
    pending: list[tuple[int, int | None, str]] = []
    empty = 0
    for line, text in pages:
        try:
            items, _ = page_items(text, len(text) - len(text.lstrip()))
        except PageError as exc:
            code = (
                "duplicate_key"
                if "repeats" in str(exc)
                else "bad_type"
                if "items" in str(exc)
                else "not_json"
            )
            con.execute(
                "UPDATE mg_rows SET code = ?, detail = ?, sha = ? WHERE file_no = ? AND source_line = ? "
                "AND item IS NULL",
                [code, "items:" if code == "bad_type" else None, sha256_hex(text), f.no, line],
            ).fetchall()
            continue
        empty += not items
        pending += [(line, n, item) for n, (_, item) in enumerate(items, start=1)]
        if len(pending) >= ITEM_BATCH:
            _insert(con, item_table(pending), bound, True, keys)
            pending = []
    if pending:
        _insert(con, item_table(pending), bound, True, keys)
    if pages:
        con.execute("UPDATE mg_rows SET page = NULL WHERE file_no = ? AND code = 'page'", [f.no]).fetchall()
        f.stats.notes["api_pages"] = len(pages)
    if empty:
        f.stats.notes["empty_api_pages"] = empty


def _collect(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    f: _File,
    rejects: Rejects,
    early: int,
    facts: Facts | None = None,
) -> None:
    """Rejects, usable rows and schema drift of one file, from its rows in mg_rows."""
    if facts is None:
        facts = file_facts(con, f.no).get(f.no, Facts())
    f.whole_lines_rejected = account(f.stats, facts, rejects, early)
    f.candidates = f.stats.rows_read - f.stats.rows_rejected
    if f.stats.rows_read == 0 and not cfg.allow_empty:
        raise InputError("Mailgun dump holds no events (set inputs.allow_empty to accept)", file=f.stats.path)
    log.info("events %s: %d rows read, %d rejected", f.stats.path, f.stats.rows_read, f.stats.rows_rejected)
