"""Candidate pairs for duplicate_signups: exact blocking keys, never all n^2 pairs.

Why keys and not one sorted neighbourhood: a sliding window over a sort order misses a pair as soon as
more than `window` other addresses sort between them (a typo early in the address, a crowded domain).
Each kind of evidence the scorer knows gets a key that two accounts with that evidence always share:

* same inbox; same domain (typos corrected) and skeleton (separators, +tags);
* same domain and one of the deletion variants of the skeleton: two strings one typo apart (a letter
  swapped, mistyped, missing or doubled) always share one, so every such pair is a candidate;
* same domain and full name, when the name is uncommon enough for scoring to trust it: digits
  appended, `jsmith` / `john.smith`, typos in short local parts all need such a name;
* same domain, last name and first initial (or first name and last initial), the initial taken from
  the address when the account leaves that name part out: only pairs with such an account are kept;
* same full name and stem in any domain (work and personal address), and a rare full name.

Blocks are usually two or three accounts. A block can be large (a common name at a big provider), so
each account is paired with its next `window` block members in a sort order that puts the likeliest
partners next to each other: the pair count stays O(n * window) whatever the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from audit.matching import MatchingConfig

c = pl.col
_MAX_VARIANT_LENGTH = 40  # longer local parts are not machine-typed; they get no typo key
_P_BITS = 24  # row positions fit in 24 bits up to 16.7 million accounts


@dataclass(frozen=True)
class Block:
    """One blocking key: `keys` two accounts must share, `order` within a block, rows it applies to."""

    name: str
    keys: tuple[str, ...]
    order: tuple[str, ...]
    where: pl.Expr | None = None
    needs: pl.Expr | None = None  # only pairs with at least one such member are kept
    window: int | None = None  # at most this many next members (cfg.window when None or larger)


def _partial_name() -> pl.Expr:
    """A name part left out (or only an initial): the address may spell it (pmornak / pooja.mornak)."""
    return c("first").is_null() | c("last").is_null() | c("is_init")


def blocks(cfg: MatchingConfig) -> tuple[Block, ...]:
    """The exact keys; a name-based key only takes names rare enough for scoring to use them."""
    named = c("first").is_not_null() & c("last").is_not_null() & ~c("is_init")
    uncommon = named & (
        c("namesakes") <= max(cfg.max_namesakes, cfg.max_same_local_namesakes, cfg.max_common_namesakes)
    )
    in_domain = named & (c("dom_namesakes") <= cfg.max_domain_namesakes)
    long_stem = c("stem").str.len_chars() >= cfg.min_local_length
    digits = long_stem & (in_domain | c("company").is_not_null() | ~c("public") | ~named)
    partial = _partial_name()
    return (
        Block("same inbox", ("canon",), ("first", "last")),
        Block("same skeleton", ("bdom", "skel"), ("first", "last")),
        # Digits appended, jsmith / john.smith, short typos: all need an agreeing, uncommon name ...
        Block("uncommon name, same domain", ("bdom", "first", "last"), ("skel",), in_domain),
        # ... or, for digits, an agreeing company (which a free-mail address only has when typed in).
        Block("same stem", ("bdom", "stem"), ("first", "last", "skel"), digits),
        Block("same domain, last name, first initial", ("bdom", "last", "ainit"), ("skel",), needs=partial),
        Block("same domain, first name, last initial", ("bdom", "first", "alinit"), ("skel",), needs=partial),
        # ... and when one account gives only the first name (or its initial), the other only the last.
        # Initials make big blocks; the likely partner sorts next to the account (jsmith / j.smith).
        Block("same domain, both initials", ("bdom", "ainit", "alinit"), ("skel",), needs=partial, window=3),
        Block("rare name, same local part", ("first", "last", "stem"), ("dom",), uncommon & ~c("role")),
        Block("rare name", ("first", "last"), ("dom",), uncommon),
    )


def candidates(feats: pl.DataFrame, cfg: MatchingConfig) -> tuple[pl.DataFrame, dict[str, int]]:
    """Pairs (a < b, unique, sorted) of feature rows that share a key, and the pair count of each key."""
    pos = feats.with_row_index("p")
    parts, stats = [], {}
    window = cfg.window
    for block in blocks(cfg):
        rows = pos if block.where is None else pos.filter(block.where)
        keyed = rows.drop_nulls(list(block.keys)).select("p", *block.order, key=pl.struct(block.keys).hash(7))
        pairs = _windowed(keyed, block.order, min(window, block.window or window))
        if block.needs is not None:  # pairs with at least one such member
            needed = pos.select(block.needs.fill_null(False)).to_series()
            pairs = pairs.filter(needed.gather(pairs["a"]) | needed.gather(pairs["b"]))
        stats[block.name] = pairs.height
        parts.append(pairs)
    # Shorter local parts one typo apart link only with an uncommon agreeing name: the name key has them.
    # With similar_needs_names off, plain look-alikes one letter apart anywhere may link too.
    shortest = (
        max(cfg.min_local_length, cfg.typo_min_length - 1)
        if cfg.similar_needs_names
        else cfg.min_local_length
    )
    keys = _deletion_keys(pos, shortest, inner_only=cfg.similar_needs_names)
    typo = _windowed(keys, (), window)
    stats["one edit apart"] = typo.height
    parts.append(typo)
    # ... but a name part may be missing on one account, the address then spelling it (d.rionak /
    # d.rinoak, David Rionak / David): short local parts too, for pairs with such an account.
    if shortest > cfg.min_local_length:
        short = _deletion_keys(pos, cfg.min_local_length, longest=shortest)
        typo = _windowed(short, (), window)
        partial = pos.select(_partial_name()).to_series()
        typo = typo.filter(partial.gather(typo["a"]) | partial.gather(typo["b"]))
        stats["one edit apart, short, a name part missing"] = typo.height
        parts.append(typo)
    lo, hi = pl.min_horizontal("a", "b").cast(pl.UInt64), pl.max_horizontal("a", "b").cast(pl.UInt64)
    # One u64 per pair: deduplicating and sorting one integer column is several times faster than two.
    key = pl.concat(parts).filter(lo != hi).select(key=lo * 2**32 + hi)["key"].unique().sort()
    out = pl.DataFrame({"a": (key // 2**32).cast(pl.UInt32), "b": (key % 2**32).cast(pl.UInt32)})
    stats["distinct"] = out.height
    return out, stats


def _windowed(keyed: pl.DataFrame, order: tuple[str, ...], window: int) -> pl.DataFrame:
    """Each row against its next `window` rows of the same key, in `order`; singletons dropped first."""
    p, key = c("p"), c("key")
    ordered = keyed.sort("key", *order, "p") if order else keyed  # () = already sorted
    ordered = ordered.filter(
        ~((key == key.shift(1)) & (p == p.shift(1))).fill_null(False)
    )  # twice in a block
    ordered = ordered.filter(((key == key.shift(1)) | (key == key.shift(-1))).fill_null(False))
    parts = [pl.DataFrame(schema={"a": pl.UInt32, "b": pl.UInt32})]
    for k in range(1, window + 1):
        part = ordered.select(a=p, b=p.shift(-k), same=key == key.shift(-k)).filter("same").drop("same")
        if part.height == 0:
            break  # no block has more than k members
        parts.append(part)
    return pl.concat(parts)


def _deletion_keys(
    pos: pl.DataFrame, min_length: int, inner_only: bool = True, longest: int = _MAX_VARIANT_LENGTH
) -> pl.DataFrame:
    """(p, key) for each distinct skeleton and its one-letter deletions, per domain, sorted by (key, p).

    Two skeletons one typo apart (`normalize.is_typo`: never in the first or last letter) share one of
    these keys. Hashes stand in for the strings: a collision only adds a candidate, which
    scoring then rejects. The key keeps its top 40 bits and carries p in the low 24, so one integer
    sort orders the ~10 rows per account.
    """
    rows = pos.lazy().filter(c("skel").str.len_chars().is_between(min_length, longest))
    rows = rows.select("p", "skel", d=c("bdom").hash(11), n=c("skel").str.len_chars())
    longest = min(int(pos.select(c("slen").max()).item() or 0), longest)
    packed = [rows.select(k=c("skel").hash(17) ^ c("d"), p="p")]
    edge = int(inner_only)  # is_typo never edits the first or last letter
    for i in range(edge, longest - edge):
        variant = c("skel").str.slice(0, i) + c("skel").str.slice(i + 1)
        packed.append(rows.filter(c("n") > i + edge).select(k=variant.hash(17) ^ c("d"), p="p"))
    low = (1 << _P_BITS) - 1
    packed_keys = pl.concat(packed).select(k=(c("k") & ~pl.lit(low, pl.UInt64)) | c("p").cast(pl.UInt64))
    keys = packed_keys.collect()["k"].sort()
    return pl.DataFrame({"p": (keys & low).cast(pl.UInt32), "key": keys // (1 << _P_BITS)})
