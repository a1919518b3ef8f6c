"""Write reports: Parquet and CSV with the same columns, owner-readable only, published atomically.

A run writes into a hidden temporary folder next to OUT/<as-of>/ and renames it into place only
when every file (manifest.json last) is written, so a failed run never damages earlier reports.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from audit.errors import OutputError

FILE_MODE = 0o600
DIR_MODE = 0o700
# OWASP CSV-injection advice: a cell starting with one of these is run as a formula by spreadsheets.
# Spaces before the sign do not stop every spreadsheet (some trim on import), nor do the full-width
# signs some locales type (＝), so they count too.
FORMULA_PREFIX = r"^(?:[\t\r]|\s*[=+\-@＝＋－＠])"
CSV_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # Parquet keeps microseconds


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Prefix risky text cells with a single quote; Parquet keeps the true values."""
    text_columns = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(FORMULA_PREFIX))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in text_columns
    )


def write_table(folder: Path, name: str, table: pa.Table) -> None:
    """`name`.parquet and `name`.csv, byte-identical for identical tables."""
    parquet_path = folder / f"{name}.parquet"
    csv_path = folder / f"{name}.csv"
    try:
        pq.write_table(table, parquet_path, compression="zstd", write_statistics=True)
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        neutralise_formulas(frame).write_csv(csv_path, datetime_format=CSV_DATETIME_FORMAT, float_precision=3)
    except OSError as exc:
        raise OutputError(f"cannot write report: {exc.strerror}", file=str(folder / name)) from None
    for path in (parquet_path, csv_path):
        os.chmod(path, FILE_MODE)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    try:
        path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
        os.chmod(path, FILE_MODE)
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror}", file=str(path)) from None


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Files created during a run are owner-only whatever the caller's umask."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def staging_folder(out: Path, as_of: str) -> Path:
    """A fresh hidden folder in OUT to build this run's reports in."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        folder = out / f".tmp-{as_of}-{os.getpid()}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(mode=DIR_MODE)
        os.chmod(folder, DIR_MODE)
    except OSError as exc:
        raise OutputError(f"cannot create the report folder: {exc.strerror}", file=str(out)) from None
    return folder


def check_publishable(out: Path, as_of: str) -> None:
    """Refuse, before any work, what publish could not finish cleanly: an OUT/<as-of> or OUT/latest
    that the job did not make (a file where its folder goes, a folder where its link goes)."""
    final, latest = out / as_of, out / "latest"
    if os.path.lexists(final) and not final.is_dir():  # a file, or a link to nothing
        raise OutputError(
            "is not a folder, so this date's reports cannot go here: move it away", file=str(final)
        )
    if latest.exists() and not latest.is_symlink():
        raise OutputError(
            "is not a symbolic link, so it cannot point at the newest reports: move it away", file=str(latest)
        )


def publish(staged: Path, out: Path, as_of: str) -> Path:
    """Swap the staged folder into OUT/<as-of> and move OUT/latest when this is the newest date."""
    check_publishable(out, as_of)
    final = out / as_of
    retired = out / f".old-{as_of}-{os.getpid()}"
    try:
        if final.exists():
            os.rename(final, retired)
        os.rename(staged, final)
    except OSError as exc:
        if retired.exists() and not final.exists():  # put the date's earlier reports back
            with contextlib.suppress(OSError):
                os.rename(retired, final)
        raise OutputError(f"cannot publish reports: {exc.strerror}", file=str(final)) from None
    shutil.rmtree(retired, ignore_errors=True)  # published: a leftover is tidied by the next run (recover)
    try:
        _point_latest(out, as_of)
    except OSError as exc:
        raise OutputError(
            f"the reports are published in {final}, but this link cannot point at them: {exc.strerror}",
            file=str(out / "latest"),
        ) from None
    return final


def _point_latest(out: Path, as_of: str) -> None:
    latest = out / "latest"
    current = os.readlink(latest) if latest.is_symlink() else ""
    if current and current > as_of and (out / current).is_dir():
        return  # a newer date is already published; re-running an old date does not move latest
    temporary = out / f".latest-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    os.symlink(as_of, temporary)
    os.replace(temporary, latest)


def recover(out: Path) -> list[str]:
    """Tidy what a killed run left in OUT; call only while holding the run lock.

    A run killed between the two renames of `publish` leaves its date's previous reports under
    .old-*: they are put back. Half-built .tmp-* folders and stray .latest-* links are removed.
    """
    done: list[str] = []
    if not out.is_dir():
        return done
    for path in sorted(out.iterdir()):
        name = path.name
        if name.startswith(".old-"):
            final = out / name.removeprefix(".old-").rsplit("-", 1)[0]
            if not final.exists():
                os.rename(path, final)
                done.append(f"restored {final.name}")
            else:
                shutil.rmtree(path, ignore_errors=True)
        elif name.startswith(".tmp-"):
            shutil.rmtree(path, ignore_errors=True)
            done.append(f"removed {name}")
        elif name.startswith(".latest-"):
            path.unlink(missing_ok=True)
    return done


def discard(staged: Path) -> None:
    shutil.rmtree(staged, ignore_errors=True)
