"""What every input loader shares: opening plain or gzipped files, hashing them, and accounting.

Accounting is the contract that nothing is dropped silently: for every input file,
rows_read == rows_loaded + rows_rejected + rows_duplicate, or the run fails.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import duckdb
import pyarrow as pa

from audit.errors import DataError, InputError

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20

REJECT_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("line", pa.int64()),
        ("code", pa.string()),
        ("message", pa.string()),
        ("raw_sha256", pa.string()),
    ]
)


@dataclass
class InputStats:
    """One input file's accounting, as written to the manifest."""

    kind: str  # 'accounts' | 'events'
    path: str
    domain: str | None = None
    sha256: str = ""
    bytes: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    blank_lines: int = 0
    notes: dict[str, Any] = field(default_factory=dict)

    def check_balance(self) -> None:
        accounted = self.rows_loaded + self.rows_rejected + self.rows_duplicate
        if accounted != self.rows_read:
            raise DataError(
                f"accounting mismatch: read {self.rows_read} rows but loaded {self.rows_loaded}, "
                f"rejected {self.rows_rejected}, duplicate {self.rows_duplicate}",
                file=self.path,
            )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Rejects:
    """Rows that cannot be used. Holds a hash of the raw row, never the row (it is personal data)."""

    rows: list[tuple[str, int, str, str, str]] = field(default_factory=list)

    def add(self, file: str, line: int, code: str, message: str, raw: bytes | str) -> None:
        data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
        self.rows.append((file, line, code, message, hashlib.sha256(data).hexdigest()))

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create stg_rejects, sorted so the report is deterministic."""
        columns = {name: [row[i] for row in self.rows] for i, name in enumerate(REJECT_SCHEMA.names)}
        con.register("py_rejects", pa.table(columns, schema=REJECT_SCHEMA))
        con.execute(
            "CREATE OR REPLACE TABLE stg_rejects AS SELECT * FROM py_rejects ORDER BY file, line, code"
        )
        con.unregister("py_rejects")


def expand(pattern: str) -> list[Path]:
    """A path or a glob, as a sorted list of existing files; no match is an input error."""
    if glob.has_magic(pattern):
        paths = sorted(Path(p) for p in glob.glob(pattern) if Path(p).is_file())
        if not paths:
            raise InputError("no file matches this pattern", file=pattern)
        return paths
    path = Path(pattern)
    if not path.exists():
        raise InputError("input file not found", file=pattern)
    if path.is_dir():
        raise InputError("input is a folder; give a file or a glob such as DIR/*.jsonl.gz", file=pattern)
    return [path]


def sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise InputError(f"cannot read input: {exc.strerror}", file=str(path)) from None
    return digest.hexdigest(), size


def open_binary(path: Path) -> IO[bytes]:
    """Open plain or gzipped input, deciding by the magic bytes rather than the file name."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot open input: {exc.strerror}", file=str(path)) from None
    head = fh.read(2)
    fh.seek(0)
    if head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=fh, mode="rb")  # type: ignore[return-value]
    if path.name.endswith(".gz"):
        fh.close()
        raise DataError("file name ends in .gz but the file is not gzip data", file=str(path))
    return fh


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Physical lines (1-based number, bytes without the line ending); a broken gzip stops the run."""
    number = 0
    with open_binary(path) as fh:
        try:
            for number, raw in enumerate(fh, start=1):
                yield number, raw.rstrip(b"\r\n")
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise DataError(
                f"compressed input is truncated or corrupt after line {number}: {exc}", file=str(path)
            ) from None
