"""Vectorised, counter-based random draws for the bulk sample generator.

The bulk generator draws tens of millions of values; a Python `random.Random` would take minutes and a
shared stateful generator would make every column depend on the order columns are drawn in. Instead
each draw is `splitmix64(key(seed, stream) + i)`: value i of a named stream depends only on the seed,
the stream's name and i. Adding a new column therefore never changes existing ones, threads cannot
reorder anything, and the bytes are stable across polars versions (pyarrow's wrapping integer kernels
do the arithmetic; they are ~3x faster than polars' for this because they have a real bit shift).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

_GOLDEN, _MIX1, _MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_U64 = pa.uint64()


def _scalar(value: int) -> pa.Scalar:
    return pa.scalar(value, _U64)


def _counter(n: int) -> pa.Array:
    """1..n as uint64 (polars builds it natively; pa.array(range(...)) would loop in Python)."""
    return pl.int_range(1, n + 1, dtype=pl.UInt64, eager=True).to_arrow()


class Rng:
    """Named streams of uniform draws; `Rng(seed).uniform(n, "created")` is the same on every run."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def key(self, stream: str) -> int:
        digest = hashlib.blake2b(f"{self.seed}:{stream}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big")

    def raw(self, n: int, stream: str) -> pa.Array:
        """n pseudo-random uint64 values (splitmix64 of a counter) as an Arrow array."""
        z = pc.add(pc.multiply(_counter(n), _scalar(_GOLDEN)), _scalar(self.key(stream)))
        z = pc.multiply(pc.bit_wise_xor(z, pc.shift_right(z, _scalar(30))), _scalar(_MIX1))
        z = pc.multiply(pc.bit_wise_xor(z, pc.shift_right(z, _scalar(27))), _scalar(_MIX2))
        return pc.bit_wise_xor(z, pc.shift_right(z, _scalar(31)))

    def u64(self, n: int, stream: str) -> pl.Series:
        return pl.Series(stream, self.raw(n, stream))

    def uniform(self, n: int, stream: str) -> pl.Series:
        """Floats in [0, 1) with 53 random bits."""
        top = pc.shift_right(self.raw(n, stream), _scalar(11))
        return pl.Series(stream, pc.multiply(pc.cast(top, pa.float64()), 2.0**-53))

    def integers(self, n: int, stream: str, lo: int, hi: int) -> pl.Series:
        """Integers in [lo, hi], both ends included."""
        span = hi - lo + 1
        return (self.uniform(n, stream) * span).floor().cast(pl.Int64) + lo

    def index(self, n: int, stream: str, weights: Sequence[float]) -> pl.Series:
        """Indices into `weights`, drawn in proportion to them."""
        total = float(sum(weights))
        cumulative, acc = [], 0.0
        for w in weights[:-1]:
            acc += w
            cumulative.append(acc / total)
        edges = pl.Series("edges", cumulative, dtype=pl.Float64)
        return edges.search_sorted(self.uniform(n, stream), side="right").cast(pl.Int64).alias(stream)

    def choice(
        self, n: int, stream: str, values: Sequence[str], weights: Sequence[float] | None = None
    ) -> pl.Series:
        """Values drawn uniformly, or in proportion to `weights`."""
        if weights is None:
            idx = self.integers(n, stream, 0, len(values) - 1)
        else:
            idx = self.index(n, stream, weights)
        return pl.Series(stream, list(values), dtype=pl.String).gather(idx)

    def hexes(self, n: int, stream: str, words: int = 1) -> pl.Series:
        """Hex strings of 16 * words characters (random 64-bit words, like a message-id's)."""
        data = self.raw(n * words, stream)
        blob = pa.Array.from_buffers(pa.binary(8 * words), n, [None, data.buffers()[1]])
        return pl.Series(stream, blob).bin.encode("hex")

    def tokens(self, n: int, stream: str) -> pl.Series:
        """22-character URL-safe base64 of 128 random bits: the shape of a Mailgun event id."""
        data = self.raw(n * 2, stream)
        blob = pa.Array.from_buffers(pa.binary(16), n, [None, data.buffers()[1]])
        text = pl.Series(stream, blob).bin.encode("base64").str.slice(0, 22)
        return text.str.replace_all("+", "-", literal=True).str.replace_all("/", "_", literal=True)
