"""The byte-level pass over a Mailgun dump that runs before DuckDB's reader (the fast path).

It is the independent half of the accounting: it hashes the file as stored and counts the raw
newlines of the decompressed bytes; the reader must return exactly that many rows (a blank line,
which the reader skips, therefore sends the file line by line). It rules out a BOM and multi-line
documents, keeps sample lines for the key check (every line of the first MiB, then one line per
64 KiB: a drifting export changes every line, so drift shows up in the sample, and a file with any
sign of it is loaded line by line, which checks every line) and sentinel lines that prove the
reader kept the file's order; it also measures the longest line (DuckDB's reader does not enforce
maximum_object_size, so a file with a line over inputs.max_line_bytes goes line by line). A vertical
tab or form feed byte anywhere rules the file out too: the reader takes one before or after a line's
object for a blank (C's isspace), where JSON and the line-by-line statement see no JSON; inside a
string either byte makes the reader fail anyway, so a file with one never stays fast.
wanted_lines fetches the few lines the reader could not decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from audit.lineblocks import line_blocks
from audit.mailgun_docs import looks_like_document
from audit.rawlines import GZIP_MAGIC, RawFile, count_newlines, newline_gaps

CHUNK = 1 << 20  # small enough to stay in cache while hashed and counted; one sentinel each
EXACT_BYTES = 1 << 20  # every line of the first MiB is a sample
STRIDE = 64 << 10  # then one line per 64 KiB
MAX_SAMPLE_LINE = 1 << 20
TOO_LONG = "a line is longer than inputs.max_line_bytes (the reader does not enforce a limit)"
NOT_JSON_SPACE = "a vertical tab or form feed (the reader takes it for a blank)"


@dataclass
class Scan:
    raw: RawFile
    gzip: bool = False
    newlines: int = 0
    fast: bool = True
    why: str = ""  # why the fast path is ruled out
    samples: list[bytes] = field(default_factory=list)
    sentinels: dict[int, bytes] = field(default_factory=dict)  # line number -> raw line

    @property
    def lines(self) -> int:
        """Physical lines from the raw newline count: a last line without b"\\n" still counts."""
        return self.newlines + (1 if self.raw.last_byte not in (b"", b"\n") else 0)

    def rule_out(self, why: str) -> None:
        if self.fast:
            self.fast, self.why = False, why


def scan(path: Path, max_line_bytes: int) -> Scan:
    """Read the file once; errors of the file itself (missing, broken gzip) propagate.

    A line longer than `max_line_bytes` (a b"\\r" before its b"\\n" counts) rules the file out. Lines
    that run past a chunk are measured from the chunk edges; the gaps between newlines inside a chunk
    are measured (a vectorised pass that costs about as much as the rest of the scan) only when the
    limit is shorter than the chunk."""
    with path.open("rb") as fh:
        head = fh.read(2)
    raw = RawFile(path)
    result = Scan(raw, gzip=head == GZIP_MAGIC)
    seen = 0
    carry = b""  # the start of the line that continues in the next chunk (kept short)
    running = 0  # bytes of the line that continues in the next chunk
    for data in raw.chunks(CHUNK, reuse=True):
        before = result.newlines
        inside = max_line_bytes < len(data) - 2  # can a line over the limit lie inside this chunk?
        count, gap = newline_gaps(data) if inside else (count_newlines(data), -1)
        result.newlines += count
        if result.fast and (data.find(b"\v") >= 0 or data.find(b"\f") >= 0):  # two memchr: ~0.1 ms/MiB
            result.rule_out(NOT_JSON_SPACE)
        first = data.find(b"\n")
        if seen == 0:
            _check_start(result, data[: first if first >= 0 else MAX_SAMPLE_LINE])
        if first < 0:
            carry = (carry + data)[:MAX_SAMPLE_LINE]
            seen += len(data)
            running += len(data)
            continue
        end = data.rfind(b"\n")
        if max(running + first, gap) > max_line_bytes:
            result.rule_out(TOO_LONG)
        running = len(data) - end - 1
        head_line = (carry + data[:first])[:MAX_SAMPLE_LINE]  # line `before + 1`
        if seen < EXACT_BYTES:
            last = data.rfind(b"\n", 0, EXACT_BYTES - seen) if len(data) > EXACT_BYTES - seen else -1
            last = last if last > first else end
            result.samples.append(head_line)
            result.samples.extend(data[first + 1 : last].split(b"\n") if last > first else [])
            position = last + 1
        else:
            result.samples.append(head_line)
            position = first + 1
        result.sentinels[before + 1] = head_line
        while True:  # one line per STRIDE bytes
            start = data.find(b"\n", position + STRIDE - 1) if position > first + 1 else position - 1
            if start < 0:
                break
            stop = data.find(b"\n", start + 1)
            if stop < 0:
                break
            result.samples.append(data[start + 1 : stop][:MAX_SAMPLE_LINE])
            position = stop + 1
        carry = data[end + 1 : end + 1 + MAX_SAMPLE_LINE]
        seen += len(data)
    if running > max_line_bytes:
        result.rule_out(TOO_LONG)
    if raw.bom:
        result.rule_out("a byte order mark")
    if carry:
        result.sentinels[result.lines] = carry
        result.samples.append(carry)
    return result


def _check_start(result: Scan, first: bytes) -> None:
    if looks_like_document(first.decode("utf-8", "replace")):
        result.rule_out("a multi-line JSON document")


def wanted_lines(path: Path, max_line_bytes: int, wanted: set[int]) -> pa.Table | None:
    """These physical lines as the line-by-line path splits them (columns line, raw), or None when one
    of them is not there as text (missing, too long, not UTF-8): the whole file then goes line by line."""
    numbers = pa.array(sorted(wanted), pa.int64())
    found: list[pa.Table] = []
    for block in line_blocks(RawFile(path), max_line_bytes):
        if any(line in wanted for line, *_ in block.rejects):
            return None
        if block.table is not None:
            found.append(block.table.filter(pc.is_in(block.table.column("line"), value_set=numbers)))
    table = pa.concat_tables(found) if found else None
    return table if table is not None and table.num_rows == len(wanted) else None
