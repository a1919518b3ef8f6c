"""Incremental Mailgun: read only the dumps not read before, and see the whole window through the state.

Dumps overlap from one night to the next and Mailgun forgets after a few days, so a night's run
skips every dump whose sha256 the state already holds for its domain, de-duplicates new events
against the state's events on (domain, id) (in mailgun_dedup, where the state's copy wins), and then
checks the union. The state's events are classified again (domain role, mail kind) with this run's
configuration first.
"""

from __future__ import annotations

import datetime as dt
import glob
import logging
from pathlib import Path
from typing import Any

import duckdb

from audit.config import Config, EventsInput
from audit.inputs import InputStats, expand, sha256_many, sha256_of, unseen
from audit.mailgun_sql import RECLASSIFY, bind, class_lists
from audit.schema import STG_EVENTS

log = logging.getLogger(__name__)
STATE_EVENTS = "hist_events"  # the state's events in the run's database (history.load_history)


def new_dumps(
    con: duckdb.DuckDBPyConnection, inputs: tuple[EventsInput, ...], as_of: dt.date
) -> tuple[tuple[EventsInput, ...], list[dict[str, Any]]]:
    """Split the given dumps into those to read now (one input per file) and those already read.

    A dump is known by its bytes *and* the domain it was given for: the same bytes given for another
    domain are that domain's events, not read before."""
    named: set[Path] = set()
    given: list[tuple[str, Path, str]] = []  # (domain, path, sha256), in input order
    for item in inputs:
        paths = unseen(expand(item.pattern), named)
        sha256_many(paths)
        given += [(item.domain, path, sha256_of(path)[0]) for path in paths]
    _read_again(con, as_of, {(sha, domain) for domain, _, sha in given})
    known = {
        (sha, domain): first
        for sha, domain, first in con.execute(
            "SELECT sha256, domain, min(first_as_of) FROM hist_dumps GROUP BY ALL"
        ).fetchall()
    }
    to_read: list[EventsInput] = []
    skipped: list[dict[str, Any]] = []
    for domain, path, sha in given:
        if (sha, domain) in known:
            skipped.append({"path": str(path), "domain": domain, "sha256": sha,
                            "read_on": known[sha, domain].isoformat()})  # fmt: skip
        else:
            to_read.append(EventsInput(domain, glob.escape(str(path))))
    if skipped:
        log.info("%d dump(s) already read by an earlier run are skipped", len(skipped))
    return tuple(to_read), skipped


def _read_again(con: duckdb.DuckDBPyConnection, as_of: dt.date, given: set[tuple[str, str]]) -> None:
    """A re-run of a date given every dump its earlier run read reads them again, so it gives the same
    reports, rejects included; history.save_history then replaces what that run kept. Given fewer, the
    dumps it read stay known and their events kept: nothing the state alone holds is lost."""
    dated = set(
        con.execute(
            "SELECT sha256, domain FROM hist_dumps WHERE first_as_of = $as_of", {"as_of": as_of}
        ).fetchall()
    )
    if dated and dated <= given:
        for table in ("hist_events", "hist_dumps"):
            con.execute(f"DELETE FROM {table} WHERE first_as_of = $as_of", {"as_of": as_of})  # noqa: S608
        log.info(
            "re-run of %s with all %d dump(s) it read: they are read again", as_of.isoformat(), len(dated)
        )


def reclassify_state_events(con: duckdb.DuckDBPyConnection, cfg: Config) -> None:
    """The state's events as this run's [domains] and subjects classify them (not as when first read)."""
    con.execute(RECLASSIFY, bind(RECLASSIFY, class_lists(cfg)))


def merge_state_events(con: duckdb.DuckDBPyConnection) -> int:
    """Add the state's events to this run's; load_events has already dropped the dumps' copies of them."""
    columns = ", ".join(STG_EVENTS)
    con.execute(f"INSERT INTO stg_events SELECT {columns} FROM {STATE_EVENTS}")  # noqa: S608 - schema names
    return int(con.execute(f"SELECT count(*) FROM {STATE_EVENTS}").fetchall()[0][0])  # noqa: S608


def dumps_table(con: duckdb.DuckDBPyConnection, stats: list[InputStats], as_of: dt.date) -> None:
    """run_dumps: the dumps this run read, for the state."""
    rows = [(s.sha256, s.path, s.domain, as_of, s.rows_loaded) for s in stats if s.kind == "events"]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE run_dumps (sha256 VARCHAR, path VARCHAR, domain VARCHAR, "
        "first_as_of DATE, rows_loaded BIGINT)"
    )
    if rows:
        con.executemany("INSERT INTO run_dumps VALUES (?, ?, ?, ?, ?)", rows)
