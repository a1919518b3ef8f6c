"""The run's DuckDB database: where it lives and spills, and what its resource failures mean to the user.

A full disk or too small a memory limit shows up deep inside whichever pass happens to need the space,
as a DuckDB error of one of several kinds (a failed commit of the --debug database, a block that
cannot be spilled, a database DuckDB then declares invalid). `resource_failures` turns each into the
documented exit code with one line that names the place and what to change, instead of an internal
error.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from audit.config import Config, memory_bytes
from audit.errors import ConfigError, OutputError

log = logging.getLogger(__name__)

# DuckDB's words for "the disk under the database or its spill files is full": an OS error (a full disk,
# a quota, a file size limit), or its own cap, max_temp_directory_size (by default that disk's free space).
DISK_FULL = (
    "No space left on device", "Disk quota exceeded", "File too large", "max_temp_directory_size",
    "failed to offload",
)  # fmt: skip


def debug_database(cfg: Config) -> Path | None:
    """With --debug, the file beside the reports that keeps every stg_/chk_ table; else None (memory)."""
    return cfg.out / "debug" / f"{cfg.as_of.isoformat()}.duckdb" if cfg.debug else None


def spill_folder(cfg: Config, folder: Path) -> Path:
    """Where DuckDB may spill: inside the run's private staging folder unless [duckdb] temp_directory
    names another place (then a folder of this process inside it). Removed when the run ends."""
    if cfg.temp_directory is None:
        return folder / ".spill"
    return cfg.temp_directory / f".account-audit-spill-{os.getpid()}"


def connect(cfg: Config, folder: Path) -> duckdb.DuckDBPyConnection:
    """In memory normally; with --debug a file beside the reports keeps every stg_/chk_ table.

    DuckDB's memory is bounded by [duckdb] memory_limit (the Python passes share the process) and it
    spills what does not fit into `spill_folder`; the settings go in as connection options, not SQL.
    """
    database = debug_database(cfg)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
        database.unlink(missing_ok=True)
    spill = spill_folder(cfg, folder)
    try:
        spill.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create DuckDB's spill folder: {exc.strerror}", file=str(spill)) from None
    config: dict[str, Any] = {"memory_limit": cfg.memory_limit.strip(), "temp_directory": str(spill)}
    con = duckdb.connect(str(database) if database is not None else ":memory:", config=config)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = true")
    return con


def _disk_full(text: str) -> bool:
    return any(words in text for words in DISK_FULL)


def is_resource_failure(exc: duckdb.Error) -> bool:
    """No room to work in (memory, or disk for spilled data or a database file): not the fault of any
    input, and the next statement would fail too."""
    return isinstance(
        exc, (duckdb.OutOfMemoryException, duckdb.FatalException, duckdb.InterruptException)
    ) or _disk_full(str(exc))


@contextlib.contextmanager
def resource_failures(cfg: Config) -> Iterator[None]:
    """A full disk under DuckDB's own files exits 73 naming them; running out of memory within
    [duckdb] memory_limit exits 78 naming the key. Any other DuckDB error stays an internal one."""
    try:
        yield
    except duckdb.Error as exc:
        text = str(exc)
        database = debug_database(cfg)
        # the spill folder goes when the run ends: name the folder it was made in
        place = database if database is not None and str(database) in text else cfg.temp_directory or cfg.out
        if _disk_full(text):
            if place == database:
                what, advice = "the --debug database", "free space there"
            else:
                what = "the data it spills"
                advice = "free space there, or set [duckdb] temp_directory to a disk with room"
            raise OutputError(
                f"DuckDB cannot write {what}: no room on its disk ({_reason(text)}): {advice}",
                file=str(place),
            ) from None
        if isinstance(exc, duckdb.OutOfMemoryException) or "Out of Memory Error" in text:
            raise ConfigError(
                f"DuckDB ran out of memory within duckdb.memory_limit = {cfg.memory_limit.strip()!r} "
                f"({_reason(text)}): raise [duckdb] memory_limit"
            ) from None
        raise


def _reason(text: str) -> str:
    """DuckDB's cause in one line: after "Original error:" when it wrapped one, without its advice."""
    if "Original error:" in text:
        text = text.split("Original error:", 1)[1]
    first = text.strip().strip('"').splitlines()[0] if text.strip() else ""
    return first.strip().strip('"').rstrip(".")


@contextlib.contextmanager
def python_pass(con: duckdb.DuckDBPyConnection, cfg: Config) -> Iterator[None]:
    """A Python pass (matching in polars) needs the memory itself: DuckDB spills down to a quarter of
    its limit while the pass runs (at least 128 MiB), and gets its limit back afterwards."""
    limit = memory_bytes(cfg.memory_limit)
    try:
        con.execute(f"SET memory_limit = '{max(limit // 4, 128 << 20)}B'")  # an int: nothing to escape
    except duckdb.Error as exc:  # what is pinned cannot be spilled: run the pass anyway
        log.info("DuckDB could not shrink its memory for a Python pass: %s", exc)
    try:
        yield
    finally:
        con.execute(f"SET memory_limit = '{limit}B'")
