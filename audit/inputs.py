"""What every input loader shares: finding files, per-file accounting, and the rejects report.

Accounting is the contract that nothing is dropped silently. Every physical line of a file is a
header, a blank line, the continuation of a multi-line record, or the start of a record; `rows_read`
is derived from the raw newline count of the decompressed bytes (never from the parser's own count),
and for every file rows_read == rows_loaded + rows_rejected + rows_duplicate, or the run fails.
"""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from audit.errors import DataError, InputError

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

# Rows with these codes were not loaded: they count as rows_rejected and toward the reject limit.
REJECTED_CODES = {
    "not_utf8": "the line is not valid UTF-8 (Mailgun dumps; an accounts export stops the run instead)",
    "line_too_long": "the line is longer than inputs.max_line_bytes; it was not parsed",
    "field_count": "the CSV record has more or fewer fields than the header",
    "unterminated_quote": "a quoted CSV field is never closed; only this line is rejected, reading resumes",
    "bad_csv": "the CSV record cannot be parsed (e.g. text after a closing quote, a CR outside quotes)",
    "missing_id": "the id is missing, null or empty",
    "bad_integer": "an integer column (id, sign_in_count) holds something else",
    "bad_timestamp": "a timestamp does not parse or is impossible (Mailgun: outside 2010-2100)",
    "bad_boolean": "login_activated is not true/false",
    "not_json": "the line is not JSON",
    "not_object": "the line (or an item of an API page) is JSON but not an object",
    "duplicate_key": "an object repeats a key",
    "missing_event": "the event type is missing, null or empty",
    "missing_timestamp": "timestamp (or @timestamp) is missing or null",
    "missing_recipient": "the recipient is missing, null or empty",
    "bad_type": "a field has the wrong JSON type (e.g. a string timestamp, a numeric id)",
}
# Rows with these codes are listed for data quality only: the row was kept (or, for a conflicting
# duplicate, counted in rows_duplicate), so they do not count as rejected.
KEPT_CODES = {
    "duplicate_id": "kept: another row of the accounts export has the same id",
    "empty_email": "kept: the account's email is empty",
    "invalid_email": "kept: the account's email is not a syntactically valid address",
    "conflicting_duplicate": "not loaded: same (domain, id) as an earlier event but different content",
}


@dataclass
class InputStats:
    """One input file's accounting, as written to the manifest (notes as-is)."""

    kind: str  # 'accounts' | 'events'
    path: str
    domain: str | None = None
    sha256: str = ""
    bytes: int = 0
    lines: int = 0  # physical lines of the decompressed file, from its raw newline count
    header_lines: int = 0
    blank_lines: int = 0
    continuation_lines: int = 0  # lines inside a multi-line record or document, after its first line
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    notes: dict[str, Any] = field(default_factory=dict)

    def rows_from_lines(self, records_seen: int, extra_rows: int = 0) -> None:
        """Set rows_read from the raw line count and check the parser saw exactly those records.

        `extra_rows` is what API pages add: a page is one record start but holds many rows.
        """
        starts = self.record_lines
        if starts != records_seen:
            raise DataError(
                f"line accounting mismatch: {self.lines} physical line(s) hold {starts} record(s) "
                f"besides header, blank and continuation lines, but the parser saw {records_seen}",
                file=self.path,
            )
        self.rows_read = starts + extra_rows

    def check_balance(self) -> None:
        accounted = self.rows_loaded + self.rows_rejected + self.rows_duplicate
        if accounted != self.rows_read:
            raise DataError(
                f"accounting mismatch: read {self.rows_read} rows but loaded {self.rows_loaded}, "
                f"rejected {self.rows_rejected}, duplicate {self.rows_duplicate}",
                file=self.path,
            )

    @property
    def record_lines(self) -> int:
        """Lines that start a record (a row, or an API page or document of many)."""
        return self.lines - self.header_lines - self.blank_lines - self.continuation_lines

    def finish(
        self, reject_limit: float, rejects: Rejects, hint: str = "", whole_lines: int | None = None
    ) -> None:
        """Called once a file is fully accounted: fail on a mismatch or too many rejected rows (`hint`:
        advice on the likely cause, for the message).

        `whole_lines`: records rejected whole, of record_lines. A rejected API page counts as one row,
        but the events in it are lost too, however many: its share of the lines must pass the limit."""
        self.check_balance()
        shares = [(self.rows_rejected, self.rows_read, "rows", "")]
        if whole_lines is not None and self.record_lines < self.rows_read:  # pages hold several rows
            shares.append(
                (whole_lines, self.record_lines, "lines", "a rejected API page loses all its events")
            )
        for bad, total, unit, why in shares:
            if not total or bad / total <= reject_limit:
                continue
            first = ", ".join(f"line {line} {code}" for line, code in rejects.first(self.path, 5))
            share = bad / total
            digits = next(d for d in (1, 2, 3, 4, 6) if f"{share:.{d}%}" != f"{reject_limit:.{d}%}" or d == 6)
            raise DataError(
                f"{bad} of {total} {unit} rejected ({share:.{digits}%}), above "
                f"inputs.reject_limit ({reject_limit:.{digits}%}){f' ({why})' if why else ''}; first: {first}"
                + (f"; {hint}" if hint else ""),
                file=self.path,
            )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def sha256_hex(raw: bytes | str) -> str:
    data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
    return hashlib.sha256(data).hexdigest()


@dataclass
class Rejects:
    """Rows that cannot be used. Holds a hash of the raw row, never the row (it is personal data)."""

    rows: list[tuple[str, int, str, str, str]] = field(default_factory=list)

    def add(self, file: str, line: int, code: str, message: str, raw: bytes | str) -> None:
        self.add_hashed(file, line, code, message, sha256_hex(raw))

    def add_hashed(self, file: str, line: int, code: str, message: str, sha: str) -> None:
        if code not in REJECTED_CODES and code not in KEPT_CODES:
            raise ValueError(f"undocumented reject code {code!r}")
        self.rows.append((file, line, code, message, sha))

    def extend(self, rows: Iterable[tuple[str, int, str, str, str]]) -> None:
        for row in rows:
            self.add_hashed(*row)

    def first(self, file: str, limit: int) -> list[tuple[int, str]]:
        """The first rejected (not kept) lines of a file, for an error message."""
        found = sorted(
            (line, code) for f, line, code, _, _ in self.rows if f == file and code in REJECTED_CODES
        )
        return found[:limit]

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create stg_rejects (rows not used) and stg_data_quality (rows kept, or duplicates that differ).

        Both sorted, so their reports are deterministic; they are two reports because support acts on
        them differently: a reject is data the run did not see, a data-quality row is data it used.
        """
        columns = {name: [row[i] for row in self.rows] for i, name in enumerate(REJECT_SCHEMA.names)}
        con.register("py_rejects", pa.table(columns, schema=REJECT_SCHEMA))
        kept = sorted(KEPT_CODES)
        for table, where in (("stg_rejects", "NOT list_contains($kept, code)"),
                             ("stg_data_quality", "list_contains($kept, code)")):  # fmt: skip
            con.execute(
                f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM py_rejects "  # noqa: S608 - constant names
                f"WHERE {where} ORDER BY file, line, code, message",
                {"kept": kept},
            )
        con.unregister("py_rejects")


def unseen(paths: list[Path], seen: set[Path]) -> list[Path]:
    """The paths not named by an earlier input (added to `seen`): a file named twice, by two globs or
    for two domains, is read once, for its first input. The loader and the incremental step agree."""
    fresh = []
    for path in paths:
        real = path.resolve()  # a system call per path: once
        if real not in seen:
            seen.add(real)
            fresh.append(path)
    return fresh


def _is_file(name: str) -> bool:
    try:
        return Path(name).is_file()
    except OSError:  # a name too long for the file system is no file (Python 3.11 raises)
        return False


def expand(pattern: str) -> list[Path]:
    """A path or a glob, as a sorted list of existing files; no match is an input error.

    A file that exists under exactly this name is that file, even when its name holds glob
    characters (`dump[1].jsonl` is not read as the pattern matching `dump1.jsonl`)."""
    if glob.has_magic(pattern) and not _is_file(pattern):
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


# SHA-256 of files already hashed in this process, by identity: incremental.new_dumps hashes every dump
# to skip those read before, and the loaders reuse that instead of hashing gigabytes twice.
_HASHED: dict[tuple[str, int, int, int, int], tuple[str, int]] = {}


def _identity(path: Path) -> tuple[str, int, int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


def known_sha256(path: Path) -> tuple[str, int] | None:
    """The (sha256, size) of an unchanged file hashed earlier in this process, if any."""
    identity = _identity(path)
    return None if identity is None else _HASHED.get(identity)


def remember_sha256(path: Path, sha: str, size: int) -> None:
    identity = _identity(path)
    if identity is not None and identity[1] == size:
        _HASHED[identity] = (sha, size)


def sha256_many(paths: list[Path], workers: int = 2) -> None:
    """Hash several files at once (hashlib releases the GIL, so two threads use two cores) into the
    cache sha256_of reads; the error of the first failing file, in list order, is raised."""
    pending = [p for p in paths if known_sha256(p) is None]
    if len(pending) < 2:
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(sha256_of, p) for p in pending]
        for future in futures:
            future.result()


def sha256_of(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a file's bytes as stored (loaders get both while reading instead)."""
    known = known_sha256(path)
    if known is not None:
        return known
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise InputError(f"cannot read input: {exc.strerror}", file=str(path)) from None
    remember_sha256(path, digest.hexdigest(), size)
    return digest.hexdigest(), size
