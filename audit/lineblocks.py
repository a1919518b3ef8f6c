"""Physical lines: input bytes split on b"\\n" only, before any parser sees them.

Every report names a physical line as an operator finds it (`sed -n Np` on the decompressed file), so
lines are numbered here, and handed to DuckDB in blocks as Arrow tables (number, text). Lines longer
than the configured limit are hashed and skipped, never held in memory; lines that are not text are
rejects with their hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from audit.inputs import sha256_hex
from audit.rawlines import RawFile

BLOCK_BYTES = 64 << 20  # bytes per block handed to DuckDB
BATCH_ROWS = 16_384  # Arrow record batch size: DuckDB scans record batches in parallel
Reject = tuple[int, str, str, str]  # (line, code, message, sha256 of the raw line)


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
