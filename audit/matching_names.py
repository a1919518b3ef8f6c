"""When two spellings of a name are one name, and when two addresses name two people.

Kept apart from scoring because both sides use it: the name fields (a typo, a cut-off form) and the
addresses (`mark.wright` / `mary.wright`). The rule is the same: a spelling is a typo only while it is
rare, or far rarer than the other; two spellings the export shows both in use are two names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from audit import normalize as nz

if TYPE_CHECKING:
    from audit.matching import MatchingConfig

c = pl.col


def b(name: str) -> pl.Expr:
    """Column `name` of the second account of a pair."""
    return pl.col(f"b_{name}")


def one_name(rarer: Any, commoner: Any, cfg: MatchingConfig) -> Any:
    """Two spellings (with these many accounts each) can be one name, a typo or a cut-off form: one is
    rare, or far rarer than the other. Two names the export shows both in use (Mark / Mary, Maria /
    Mariam, Hoang / Huang) are two names. Plain ints or polars expressions alike."""
    return (rarer <= cfg.max_name_typo_accounts) | (commoner >= cfg.name_typo_ratio * rarer)


def one_spelling(share: str, cfg: MatchingConfig) -> pl.Expr:
    """`one_name` of a name part of the two accounts (counts from the shares, rounded to accounts)."""
    counts = ((c(share) * c("nsize")).round(), (b(share) * c("nsize")).round())
    one: pl.Expr = one_name(pl.min_horizontal(*counts), pl.max_horizontal(*counts), cfg)
    return one


def two_names(names: Mapping[str, int], cfg: MatchingConfig) -> Callable[[str, str], float]:
    """Whether two skeletons differ where one holds a name and the other another established name.

    `markwright` and `marywright` are one letter apart, but Mark and Mary are both names the export
    uses: the addresses name two people, whatever names the accounts give or leave out. The differing
    stretch is widened to a word of at least 3 letters on each side, and what surrounds it must be empty,
    digits or a name some account carries (so `linsajohnson` / `lisajohnson` stays a typo: Linsa is no
    established name)."""

    def word(text: str) -> bool:
        text = text.strip(nz.DIGITS)
        return not text.isalpha() or text in names

    def check(a: str, b: str) -> float:
        shorter = min(len(a), len(b))
        same_start = next((i for i in range(shorter) if a[i] != b[i]), shorter)
        same_end = next(
            (i for i in range(shorter - same_start) if a[-1 - i] != b[-1 - i]), shorter - same_start
        )
        starts = [i for i in range(same_start + 1) if i == 0 or word(a[:i])]
        ends = [i for i in range(len(a) - same_end, len(a) + 1) if i == len(a) or word(a[i:])]
        for start in starts:
            for end_a in ends:
                x, y = a[start:end_a], b[start : end_a + len(b) - len(a)]
                rarer, commoner = sorted((names.get(x, 0), names.get(y, 0)))
                if min(len(x), len(y)) >= 3 and not one_name(rarer, commoner, cfg):
                    return 1.0
        return 0.0

    return check
