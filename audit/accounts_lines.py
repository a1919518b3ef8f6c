"""The accounts export's physical lines, into a DuckDB table without a Python step per line.

Lines are split on b"\\n" exactly as lineblocks.split_lines does (one trailing b"\\r" dropped, a line
longer than inputs.max_line_bytes hashed and never stored), but block by block with Arrow compute,
so a million-line export costs a few vectorised passes. Only a block that is not valid UTF-8, or an
export in another encoding, is decoded line by line, which also finds the first line that does not
decode. Nothing is raised while reading: a decoding or gzip failure is kept and raised by the
caller once the header has been checked, in the order the line-by-line reader raised them.
"""

from __future__ import annotations

import codecs
import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from audit.errors import AuditError, DataError
from audit.lineblocks import Overlong, over_limit, strip_cr, whole_lines
from audit.rawlines import RawFile

BLOCK_BYTES = 32 << 20
LINES_TABLE = "acc_lines"
WIDE_BOMS = (  # UTF-32 first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
SCHEMA = pa.schema([("line", pa.int64()), ("raw", pa.large_string()), ("orig", pa.large_binary())])


@dataclass
class Lines:
    """What was read: lines 1..count are in acc_lines(line, raw, orig) or in `overlong`."""

    count: int = 0
    overlong: dict[int, str] = field(default_factory=dict)  # line -> sha256 of the raw line
    failure: AuditError | None = None  # raised by the caller after the header check
    failure_line: float = math.inf  # where it happened (inf: at the end of the stream)


def read_lines(
    con: duckdb.DuckDBPyConnection, raw: RawFile, encoding: str, shown: str, max_line_bytes: int
) -> Lines:
    """Create acc_lines: `raw` is the decoded line, `orig` its bytes when the encoding is not UTF-8.

    `encoding` is the codec's name, `shown` the configured name (for the message)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {LINES_TABLE} (line BIGINT, raw VARCHAR, orig BLOB)")
    lines = Lines()
    try:
        for start, body in _bodies(raw, max_line_bytes, lines):
            table = _block(start, body, encoding, max_line_bytes, lines, (raw.file, shown))
            if table is not None and table.num_rows:
                con.register("acc_block", table)
                con.execute(f"INSERT INTO {LINES_TABLE} SELECT * FROM acc_block")  # noqa: S608 - constant
                con.unregister("acc_block")
            if lines.failure is not None:
                break
    except AuditError as exc:  # gzip, missing file: found while reading, raised after the header check
        lines.failure, lines.failure_line = exc, math.inf
    return lines


def _bodies(raw: RawFile, max_line_bytes: int, lines: Lines) -> Iterator[tuple[int, bytes]]:
    """(first line number, bytes of whole lines without the last b"\\n"); overlong lines that do not
    fit a block go to `lines.overlong` (hashed without their line ending, as every line is)."""
    for number, item in whole_lines(raw, max_line_bytes, BLOCK_BYTES):
        if isinstance(item, str):
            lines.overlong[number] = item
            lines.count = number
        else:
            yield number, item
            lines.count = number + item.count(b"\n")


def _block(
    start: int, body: bytes, encoding: str, max_line_bytes: int, lines: Lines, where: tuple[str, str]
) -> pa.Table | None:
    if encoding != "utf-8":
        return _block_decoded(start, body, encoding, max_line_bytes, lines, where)
    parts = pc.split_pattern(pa.array([body], pa.large_binary()), pattern=b"\n").flatten()
    numbers = pl.int_range(start, start + len(parts), dtype=pl.Int64, eager=True).to_arrow()
    # the limit leaves out the \r of a CRLF ending, as lineblocks.over_limit does
    crlf = pc.cast(pc.ends_with(parts, pattern=b"\r"), pa.int64())
    too_long = pc.greater(pc.subtract(pc.binary_length(parts), crlf), max_line_bytes)
    if pc.any(too_long).as_py():
        for index in pc.indices_nonzero(too_long).to_pylist():
            lines.overlong[start + index] = hashlib.sha256(strip_cr(parts[index].as_py())).hexdigest()
        keep = pc.invert(too_long)
        parts, numbers = parts.filter(keep), numbers.filter(keep)
    try:
        text = parts.cast(pa.large_string())  # validates UTF-8 in C++
    except pa.ArrowInvalid:
        return _block_decoded(start, body, encoding, max_line_bytes, lines, where)
    if b"\r" in body:
        text = pc.replace_substring_regex(text, pattern="\r$", replacement="")
    orig = pa.nulls(len(text), pa.large_binary())
    return pa.Table.from_arrays([numbers, text, orig], schema=SCHEMA)


def _block_decoded(
    start: int, body: bytes, encoding: str, max_line_bytes: int, lines: Lines, where: tuple[str, str]
) -> pa.Table:
    """Line by line: another encoding, or a block with a line that is not valid UTF-8."""
    numbers: list[int] = []
    texts: list[str] = []
    origs: list[bytes | None] = []
    keep_orig = encoding != "utf-8"
    for offset, part in enumerate(body.split(b"\n")):
        number = start + offset
        line = strip_cr(part)
        if over_limit(part, max_line_bytes):
            lines.overlong[number] = hashlib.sha256(line).hexdigest()
            continue
        try:
            texts.append(line.decode(encoding))
        except UnicodeDecodeError:
            lines.failure = DataError(_undecodable(number, line, where[1]), file=where[0], line=number)
            lines.failure_line = number
            lines.count = number
            break
        numbers.append(number)
        origs.append(line if keep_orig else None)
    return pa.Table.from_arrays(
        [
            pa.array(numbers, pa.int64()),
            pa.array(texts, pa.large_string()),
            pa.array(origs, pa.large_binary()),
        ],
        schema=SCHEMA,
    )


def _undecodable(number: int, line: bytes, encoding: str) -> str:
    """Why a line does not decode: a UTF-16/32 file cannot be named in csv.encoding, so say what it is."""
    wide = next((name for bom, name in WIDE_BOMS if line.startswith(bom)), None)
    if number == 1 and wide is not None:
        return (
            f"the file is {wide} (it starts with a {wide} byte-order mark): export it as UTF-8 "
            "(csv.encoding takes ASCII-compatible encodings only)"
        )
    return f"line is not valid {encoding}; set csv.encoding in the config if the export uses another encoding"


def stream(
    con: duckdb.DuckDBPyConnection, lines: Lines, first: int, page: int = 256
) -> Iterator[tuple[int, bytes | Overlong]]:
    """Physical lines from `first` on, as lineblocks.split_lines yields them (for accounts_rows.records)."""
    number = first
    while number <= lines.count:
        rows = con.execute(
            f"SELECT line, raw, orig FROM {LINES_TABLE} WHERE line BETWEEN $a AND $b",  # noqa: S608
            {"a": number, "b": number + page - 1},
        ).fetchall()
        found = {line: orig if orig is not None else text.encode("utf-8") for line, text, orig in rows}
        for n in range(number, min(number + page, lines.count + 1)):
            if n in lines.overlong:
                yield n, Overlong(0, lines.overlong[n])
            elif n in found:
                yield n, found[n]
        number += page


def fetch(con: duckdb.DuckDBPyConnection, numbers: list[int]) -> dict[int, bytes]:
    """The raw bytes of the given lines (those that are stored: not overlong)."""
    if not numbers:
        return {}
    con.register("acc_wanted", pa.table({"line": pa.array(sorted(set(numbers)), pa.int64())}))
    rows = con.execute(
        f"SELECT l.line, l.raw, l.orig FROM {LINES_TABLE} l SEMI JOIN acc_wanted w USING (line)"  # noqa: S608
    ).fetchall()
    con.unregister("acc_wanted")
    return {line: orig if orig is not None else text.encode("utf-8") for line, text, orig in rows}
