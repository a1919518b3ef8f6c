"""Input bytes: plain or gzip (decided by content), hashed while read, and their raw newlines counted.

The file's SHA-256 is taken from the same read as everything else, so a 3 GB dump is read once; the
raw newline count is the line count that accounting trusts. Splitting the bytes into physical lines
is lineblocks' work.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import polars as pl
import pyarrow as pa

from audit.errors import DataError, InputError
from audit.inputs import known_sha256, remember_sha256

GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"
NEWLINE = 10
CR_ONLY = "the file's lines may end in CR alone: export it with LF or CRLF line endings"


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
