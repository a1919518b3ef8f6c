"""Input bytes: plain or gzip (decided by content), hashed while read, split into physical lines.

Every report names a physical line as an operator finds it (`sed -n Np` on the decompressed file),
so lines are split here, on b"\\n" only, before any parser sees them. The split is also the raw line
count that accounting trusts. The file's SHA-256 is taken from the same read, so a 3 GB dump is read
once; lines longer than the configured limit are hashed and skipped, never held in memory.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from audit.errors import DataError, InputError
from audit.inputs import known_sha256, remember_sha256, sha256_hex

GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"
NEWLINE = 10
BLOCK_BYTES = 64 << 20  # bytes per block handed to DuckDB
BATCH_ROWS = 16_384  # Arrow record batch size: DuckDB scans record batches in parallel
CR_ONLY = "the file's lines may end in CR alone: export it with LF or CRLF line endings"
Reject = tuple[int, str, str, str]  # (line, code, message, sha256 of the raw line)


class _Hashing:
    """A read-only file wrapper that hashes (unless the hash is known) and counts every byte read."""

    def __init__(self, fh: IO[bytes], hashing: bool) -> None:
        self.fh = fh
        self.digest = hashlib.sha256() if hashing else None
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        if self.digest is not None:
            self.digest.update(data)
        self.size += len(data)
        return data

    def readinto(self, buffer: bytearray) -> int:
        n = self.fh.readinto(buffer)  # type: ignore[attr-defined]
        if self.digest is not None:
            self.digest.update(memoryview(buffer)[:n])
        self.size += n
        return int(n)


def _reuse(wrapper: _Hashing, size: int) -> Iterator[bytes]:
    buffer = bytearray(size)
    while n := wrapper.readinto(buffer):
        yield buffer if n == size else bytes(buffer[:n])  # type: ignore[misc]


@dataclass
class RawFile:
    """One input file. After `chunks()` is exhausted: sha256 and bytes of the file as stored."""

    path: Path
    count_newlines: bool = False
    sha256: str = ""
    size: int = 0  # bytes of the file as stored
    newlines: int = 0  # raw b"\n" count of the decompressed bytes (only with count_newlines)
    last_byte: bytes = b""
    bom: bool = False

    @property
    def file(self) -> str:
        return str(self.path)

    def _open(self) -> IO[bytes]:
        try:
            return self.path.open("rb")
        except FileNotFoundError:
            raise InputError("input file not found", file=self.file) from None
        except IsADirectoryError:
            raise InputError("input is a folder, not a file", file=self.file) from None
        except OSError as exc:
            raise InputError(f"cannot open input: {exc.strerror}", file=self.file) from None

    def chunks(self, size: int, reuse: bool = False) -> Iterator[bytes]:
        """Decompressed bytes; a leading UTF-8 BOM is dropped (and noted); broken gzip stops the run.

        With `reuse`, a plain file is read into one buffer again and again (no fresh pages per
        chunk): the caller must not keep a chunk past the next one.
        """
        with self._open() as fh:
            head = fh.read(2)
            fh.seek(0)
            known = known_sha256(self.path)
            wrapper = _Hashing(fh, hashing=known is None)
            source: Any = wrapper
            if head == GZIP_MAGIC:
                source = gzip.GzipFile(fileobj=wrapper, mode="rb")  # type: ignore[call-overload]
            elif head and self.path.name.lower().endswith(".gz"):  # an empty file is empty, not fake
                raise DataError("file name ends in .gz but the file is not gzip data", file=self.file)
            produced = 0
            step = size if source is wrapper else min(size, 1 << 20)  # gzip: small steps, precise errors
            reader = (
                _reuse(wrapper, size) if reuse and source is wrapper else iter(lambda: source.read(step), b"")
            )
            try:
                for data in reader:
                    if produced == 0 and data.startswith(BOM):
                        data, self.bom = data[len(BOM) :], True
                    produced += len(data)
                    if self.count_newlines:
                        self.newlines += count_newlines(data)
                    if data:
                        self.last_byte = data[-1:]
                        yield data
                while wrapper.read(1 << 20):  # bytes after the last gzip member still count in the hash
                    pass
            except EOFError:
                raise DataError(
                    "gzip data is truncated: the stream ends before its end marker"
                    + (f", after {produced} decompressed bytes" if produced else ""),
                    file=self.file,
                ) from None
            except (gzip.BadGzipFile, zlib.error):
                raise DataError(  # a bad CRC, or bytes after the last member that are not gzip
                    "gzip data is corrupt" + (f" after {produced} decompressed bytes" if produced else ""),
                    file=self.file,
                ) from None
            except OSError as exc:
                raise InputError(f"cannot read input: {exc.strerror}", file=self.file) from None
            if wrapper.digest is None and known is not None:
                self.sha256, self.size = known
            elif wrapper.digest is not None:
                self.sha256, self.size = wrapper.digest.hexdigest(), wrapper.size
                remember_sha256(self.path, self.sha256, self.size)

    @property
    def raw_lines(self) -> int:
        """Physical lines from the raw newline count: a last line without b"\\n" still counts."""
        return self.newlines + (1 if self.last_byte not in (b"", b"\n") else 0)


def _byte_series(data: bytes) -> pl.Series:
    """The bytes as a polars UInt8 series, without a copy."""
    series = pl.from_arrow(pa.Array.from_buffers(pa.uint8(), len(data), [None, pa.py_buffer(data)]))
    assert isinstance(series, pl.Series)
    return series


def head(path: Path, size: int = 1 << 20) -> str:
    """The first `size` decompressed bytes of a file as text (invalid UTF-8 replaced)."""
    for chunk in RawFile(path).chunks(size):  # the generator (and the file) closes when dropped
        return chunk.decode("utf-8", "replace")
    return ""


def bare_cr(path: Path) -> bool:
    """Does the file's first 64 KiB hold a CR followed by anything but LF? Lines end at LF only, so a
    file whose lines end in CR alone reads as one long line: an error about it should say so (a file
    that cannot be read again gives no advice; its own error is raised where it is read)."""
    try:
        return re.search(r"\r[^\n]", head(path, 1 << 16)) is not None
    except (InputError, DataError):
        return False


def count_newlines(data: bytes) -> int:
    """Raw b"\\n" count: a SIMD compare over the bytes (several times faster than bytes.count)."""
    if len(data) < 1 << 16:
        return data.count(b"\n")
    return int((_byte_series(data) == NEWLINE).sum())


def newline_gaps(data: bytes) -> tuple[int, int]:
    """(raw b"\\n" count, the longest run of bytes between two of them, or -1 with fewer than two)."""
    where = (_byte_series(data) == NEWLINE).arg_true()
    gap = where.diff().max() if len(where) >= 2 else None
    return len(where), -1 if gap is None else int(gap) - 1  # type: ignore[arg-type]


@dataclass(frozen=True)
class Overlong:
    """A line longer than the limit: only its size and hash were kept."""

    size: int
    sha256: str


def strip_cr(line: bytes) -> bytes:
    return line[:-1] if line.endswith(b"\r") else line


def over_limit(line: bytes, max_line_bytes: int, before: bytes = b"") -> bool:
    """Is this line, or the start of one, longer than the limit without a CRLF's b"\r" (a b"\r" at its
    end may be that of its ending, so it is not counted: the line's length is not less than that)?
    `before`: the line's start read earlier, so the two need not be joined to be measured."""
    return len(before) + len(line) - (line or before).endswith(b"\r") > max_line_bytes


class LineHash:
    """SHA-256 of an overlong line fed in pieces, without the b"\r" of a CRLF ending: a trailing
    b"\r" is held back until more of the line comes (a line of any length is hashed as the short
    ones are, without its line ending)."""

    def __init__(self, first: bytes = b"") -> None:
        self._hash = hashlib.sha256()
        self._cr = False
        self.size = 0
        self.update(first)

    def update(self, data: bytes) -> None:
        if not data:
            return
        if self._cr:
            self._hash.update(b"\r")
        self._cr = data.endswith(b"\r")
        self._hash.update(data[:-1] if self._cr else data)
        self.size += len(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def split_lines(
    raw: RawFile, max_line_bytes: int, chunk: int = 8 << 20
) -> Iterator[tuple[int, bytes | Overlong]]:
    """Physical lines: (1-based number, bytes without the line ending) or an Overlong marker."""
    number, carry = 1, b""
    skipping: LineHash | None = None  # while inside an overlong line
    for data in raw.chunks(chunk):
        start = 0
        while True:
            end = data.find(b"\n", start)
            piece = data[start:] if end < 0 else data[start:end]
            if skipping is not None:
                skipping.update(piece)
            elif over_limit(piece, max_line_bytes, before=carry):
                skipping = LineHash(carry + piece)
                carry = b""
            elif end < 0:
                carry += piece
            if end < 0:
                break
            if skipping is not None:
                yield number, Overlong(skipping.size, skipping.hexdigest())
                skipping = None
            else:
                yield number, strip_cr(carry + piece)
                carry = b""
            number += 1
            start = end + 1
    if skipping is not None:
        yield number, Overlong(skipping.size, skipping.hexdigest())
    elif carry:
        yield number, strip_cr(carry)


@dataclass
class Block:
    """Consecutive physical lines ready for DuckDB, plus lines rejected before any parsing."""

    table: pa.Table | None  # columns line BIGINT, raw VARCHAR (valid UTF-8, no line ending)
    count: int  # physical lines covered, including rejected ones
    rejects: list[Reject] = field(default_factory=list)


def whole_lines(raw: RawFile, max_line_bytes: int, block_bytes: int) -> Iterator[tuple[int, bytes | str]]:
    """Blocks of whole lines, split without a Python step per line.

    Yields (first line number, the lines' bytes without the last b"\\n"), or (line number, SHA-256 hex)
    for a line longer than `max_line_bytes` that runs past a block: it is hashed while streaming, never
    held, and without its line ending (LineHash).
    """
    number, carry = 1, b""
    skipping: LineHash | None = None
    for data in raw.chunks(block_bytes):
        if skipping is not None:
            newline = data.find(b"\n")
            end = data if newline < 0 else data[:newline]
            skipping.update(end)
            if newline < 0:
                continue
            yield number, skipping.hexdigest()
            number, skipping, data = number + 1, None, data[newline + 1 :]
        data = carry + data if carry else data
        cut = data.rfind(b"\n")
        if cut < 0:  # no line ends in this block: all of it is the start of the next line
            carry = data
            if over_limit(carry, max_line_bytes):
                skipping, carry = LineHash(carry), b""
            continue
        body = data[:cut]
        yield number, body
        number += body.count(b"\n") + 1
        carry = data[cut + 1 :]
        if over_limit(carry, max_line_bytes):
            skipping, carry = LineHash(carry), b""
    if skipping is not None:
        yield number, skipping.hexdigest()
    elif carry:
        yield number, carry


def line_blocks(
    raw: RawFile, max_line_bytes: int, block_bytes: int = BLOCK_BYTES, batch_rows: int = BATCH_ROWS
) -> Generator[Block, None, None]:
    """Split a file into blocks of whole lines without a Python loop per line (the fast path)."""
    for number, item in whole_lines(raw, max_line_bytes, block_bytes):
        yield _too_long(number, item) if isinstance(item, str) else _block(item, number, batch_rows)


def _too_long(number: int, sha: str) -> Block:
    return Block(None, 1, [(number, "line_too_long", "line is longer than inputs.max_line_bytes", sha)])


def _block(body: bytes, start: int, batch_rows: int) -> Block:
    try:
        text = pa.array([body], pa.large_binary()).cast(pa.large_string())  # validates UTF-8 in C++
    except pa.ArrowInvalid:
        return _block_checked(body, start, batch_rows)
    lines = pc.split_pattern(text, pattern="\n").flatten()
    if b"\r" in body:  # a CRLF ending: one b"\r" (strip_cr), not every trailing one
        lines = pc.if_else(pc.ends_with(lines, "\r"), pc.utf8_slice_codeunits(lines, 0, -1), lines)
    count = len(lines)
    numbers = pl.int_range(start, start + count, dtype=pl.Int64, eager=True).to_arrow()
    return Block(_table(numbers, lines, batch_rows), count)


def _block_checked(body: bytes, start: int, batch_rows: int) -> Block:
    """The slow path for a block holding invalid UTF-8: find the bad lines one by one."""
    numbers: list[int] = []
    texts: list[str] = []
    rejects: list[Reject] = []
    parts = body.split(b"\n")
    for offset, part in enumerate(parts):
        line = strip_cr(part)
        try:
            texts.append(line.decode("utf-8"))
            numbers.append(start + offset)
        except UnicodeDecodeError:
            rejects.append((start + offset, "not_utf8", "line is not valid UTF-8", sha256_hex(line)))
    table = _table(pa.array(numbers, pa.int64()), pa.array(texts, pa.large_string()), batch_rows)
    return Block(table, len(parts), rejects)


def _table(numbers: pa.Array, lines: pa.Array, batch_rows: int) -> pa.Table:
    return batched(pa.Table.from_arrays([numbers, lines], names=["line", "raw"]), batch_rows)


def batched(table: pa.Table, batch_rows: int = BATCH_ROWS) -> pa.Table:
    """The table in record batches of `batch_rows`: DuckDB scans an Arrow table's batches in parallel,
    so a table in one batch would be read on one core."""
    return pa.Table.from_batches(table.to_batches(max_chunksize=batch_rows), schema=table.schema)
