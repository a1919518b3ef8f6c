"""Scoring candidate pairs of duplicate_signups: what the addresses show, then what names and company say.

Why rules with named kinds rather than one opaque similarity: support needs to read *why* two accounts
were linked, and each kind of evidence has its own false-merge risk. An address gives a base score by
its kind (same inbox, separators, a typo, digits appended, ...); agreeing names close part of the gap to
1, conflicting names or companies take part of the score off. Missing values leave the score where it
is: they are never agreement. Every expression is symmetric in the two accounts (columns X and b_X).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import polars as pl
from rapidfuzz.distance import OSA

from audit import matching_features as mf
from audit import matching_names as mn
from audit import normalize as nz
from audit.matching_names import b

if TYPE_CHECKING:
    from audit.matching import MatchingConfig

c = pl.col
# How the names (or companies) of two accounts relate: EXACT (same full name), COMPATIBLE (an initial, a
# short form, one typo), PARTIAL (what both have agrees, but a part is missing), UNKNOWN, CONFLICT.
EXACT, COMPATIBLE, PARTIAL, UNKNOWN, CONFLICT = 3, 2, 1, 0, -1
# The evidence behind a link, strongest first.
KINDS = ("MAILBOX", "SEPARATORS", "DOMAIN_TYPO", "DIGITS", "TYPO", "NAME_FORM", "SAME_LOCAL", "RARE_NAME")
MAILBOX, SEPARATORS, DOMAIN_TYPO, DIGITS, TYPO, NAME_FORM, SAME_LOCAL, RARE_NAME, SIMILAR = range(9)
_EPS = 1e-9  # float slack when comparing a score with its threshold


def _typo(a: str, b: str) -> float:
    return float(nz.is_typo(a, b))


def _initials(a: str, b: str) -> float:
    return float(nz.initials_differ(a, b))


def _per_pair(
    pairs: pl.DataFrame, where: pl.Expr, column: str, function: Callable[[str, str], float]
) -> pl.Series:
    """`function(X, b_X)` of column X where `where` holds, else null: the only per-pair Python calls."""
    todo = pairs.with_row_index("_r").filter(where.fill_null(False)).select("_r", column, f"b_{column}")
    values = list(map(function, todo[column].to_list(), todo[f"b_{column}"].to_list()))
    blank = pl.repeat(None, pairs.height, dtype=pl.Float64, eager=True)
    return blank.scatter(todo["_r"], pl.Series(values, dtype=pl.Float64)) if values else blank


def _near(pairs: pl.DataFrame, column: str, share: str, cfg: MatchingConfig) -> pl.Series:
    """Whether two different present values are one edit apart, both at least 4 letters long, and
    can be one name (`matching_names.one_spelling`)."""
    n, bn = c(column).str.len_chars(), b(column).str.len_chars()
    where = (c(column) != b(column)) & (pl.min_horizontal(n, bn) >= 4) & ((n - bn).abs() <= 1)
    return _per_pair(pairs, where & mn.one_spelling(share, cfg), column, OSA.distance) == 1


def name_relation(pairs: pl.DataFrame, cfg: MatchingConfig) -> pl.DataFrame:
    """Add `rel` (names) and `crel` (companies, or a company and the other's work domain)."""
    pairs = pairs.with_columns(
        first_near=_near(pairs, "first", "fshare", cfg), last_near=_near(pairs, "last", "lshare", cfg)
    )
    both_first = c("first").is_not_null() & b("first").is_not_null()
    both_last = c("last").is_not_null() & b("last").is_not_null()
    swapped = both_first & both_last & (c("first") == b("last")) & (c("last") == b("first"))
    short = pl.min_horizontal(c("first").str.len_chars(), b("first").str.len_chars())
    prefix = (short >= 3) & (c("first").str.starts_with(b("first")) | b("first").str.starts_with(c("first")))
    # A cut-off form (Tim / Timothy) is one name; one letter more (Maria / Mariam) may be another name.
    one_more = (c("first").str.len_chars() - b("first").str.len_chars()).abs() == 1
    prefix = prefix & (~one_more | mn.one_spelling("fshare", cfg))
    initial = (c("is_init") | b("is_init")) & (c("init") == b("init"))
    first_ok = (c("first") == b("first")) | initial | (c("nick") == b("nick")) | prefix | c("first_near")
    last_ok = (c("last") == b("last")) | c("last_near")
    conflict = ~swapped & (
        (both_last & ~last_ok.fill_null(False)) | (both_first & ~first_ok.fill_null(False))
    )
    exact = (c("first") == b("first")) & (c("last") == b("last")) & ~c("is_init")
    rel = (
        pl.when(conflict.fill_null(False)).then(CONFLICT).when(exact.fill_null(False)).then(EXACT)
        .when(both_first & both_last).then(COMPATIBLE).when(both_first | both_last).then(PARTIAL)
        .otherwise(UNKNOWN)
    )  # fmt: skip
    works_at = (c("company").str.len_chars() >= 3) & b("org").str.starts_with(c("company"))
    works_at = works_at | ((b("company").str.len_chars() >= 3) & c("org").str.starts_with(b("company")))
    # Colleagues share their company: within one company domain agreement on it is no evidence.
    colleagues = (c("dom") == b("dom")) & ~c("public")
    company = (
        pl.when(c("company").is_not_null() & b("company").is_not_null())
        .then(
            pl.when(c("company") != b("company")).then(CONFLICT).when(colleagues).then(UNKNOWN)
            .otherwise(EXACT)
        )
        .when(works_at.fill_null(False) & ~colleagues).then(EXACT).otherwise(UNKNOWN)
    )  # fmt: skip
    return pairs.with_columns(rel=rel, crel=company).drop("first_near", "last_near")


def _lift(base: pl.Expr, rel: pl.Expr, weight: float) -> pl.Expr:
    """Agreement closes `weight` of the gap to 1 (half, a quarter for less); conflict takes `weight` off."""
    return (
        pl.when(rel == EXACT).then(base + (1 - base) * weight)
        .when(rel == COMPATIBLE).then(base + (1 - base) * weight / 2)
        .when(rel == PARTIAL).then(base + (1 - base) * weight / 4)
        .when(rel == CONFLICT).then(base * (1 - weight)).otherwise(base)
    )  # fmt: skip


def score(
    pairs: pl.DataFrame, cfg: MatchingConfig, names: Mapping[str, int], every_similarity: bool = False
) -> pl.DataFrame:
    """Add rel, crel, kind, dist, sim, score and accepted to a frame of pairs.

    `names`: accounts per name value over the whole export (`matching_features.name_counts`)."""
    pairs = name_relation(pairs, cfg)
    minlen = pl.min_horizontal("slen", "b_slen")
    gap = (c("slen") - b("slen")).abs()
    pairs = pairs.with_columns(
        same_mailbox=c("canon") == b("canon"),
        same_domain=c("dom") == b("dom"),
        typo_domain=(c("dom") != b("dom")) & (c("bdom") == b("bdom")),
        same_skel=c("skel") == b("skel"),
        same_stem=(c("stem") == b("stem")) & (c("stem").str.len_chars() >= cfg.min_local_length),
        short=minlen < cfg.min_local_length,
        roles=c("role") | b("role"),
        # The best similarity two lengths allow: no edit distance is needed where even it cannot link.
        bound=1 - gap / pl.max_horizontal("slen", "b_slen", 1),
    )
    one_edit_possible = (gap <= 1) & (c("skel").str.slice(0, 1) == b("skel").str.slice(0, 1))
    plausible = (
        c("same_domain") & ~c("same_mailbox") & ~c("same_skel") & ~c("same_stem") & ~c("short")
        & (c("rel") != CONFLICT) & (c("crel") != CONFLICT)
        & ((c("rel") >= COMPATIBLE) | one_edit_possible | (not cfg.similar_needs_names))
        & (_lift(c("bound"), pl.lit(EXACT), cfg.name_weight) >= cfg.min_score - _EPS)
    )  # fmt: skip
    where = c("same_domain") & ~c("same_skel") if every_similarity else plausible
    dist = _per_pair(pairs, where, "skel", OSA.distance)
    pairs = pairs.with_columns(dist=dist).with_columns(
        sim=(1 - c("dist") / pl.max_horizontal("slen", "b_slen")).fill_null(0.0)
    )
    one_edit = near_edit = c("same_domain") & (c("dist") == 1) & ~c("short")
    pairs = pairs.with_columns(
        typo=_per_pair(pairs, one_edit, "local", _typo) == 1,
        initials=_per_pair(pairs, c("dist").is_not_null(), "local", _initials) == 1,
    )
    near, named = c("same_domain"), c("rel") == EXACT
    # One account left out a name part the other gives: when both addresses spell that full name
    # (`pmornak` / `pooja.mornak`), the addresses themselves confirm what the missing part would say.
    # The full name is that of the account missing a part: its own parts, the other's for the missing
    # one (`Jon` + `Smithson` beside Jonathan Smithson; not `Smith` when it says `Smyth`). Each account
    # missing a part gives one such view, so the pair's order never matters.
    views = [
        (
            pl.when(x("is_init")).then(pl.coalesce(y("first"), x("first")))
            .otherwise(pl.coalesce(x("first"), y("first"))),
            pl.coalesce(x("last"), y("last")),
            x("first").is_null() | x("is_init") | x("last").is_null(),
        )
        for x, y in ((c, b), (b, c))
    ]  # fmt: skip
    # Within a domain, one address spelling it is enough for digits or a typo (the other is that address
    # give or take a few letters); a pair of name forms (jsmith / john.smith) needs both.
    spells = [
        pl.any_horizontal(
            missing & mf.name_forms(stem, first, last, both_parts=True) for first, last, missing in views
        )
        for stem in (c("stem"), b("stem"))
    ]
    spelled = (c("rel") == PARTIAL) & near & ~c("roles")
    spelled = (spelled & (spells[0] | spells[1])).fill_null(False)
    pairs = pairs.with_columns(
        spelled=spelled, spelled_both=(spelled & spells[0] & spells[1]).fill_null(False)
    )
    # Agreement on a rare full name is evidence; on a common one (John Smith) it is not, at any provider.
    namesakes = pl.max_horizontal("namesakes", "b_namesakes")

    # Across domains: a rare name with a free-mail address (two employers need the companies to agree
    # too), or a less rare name whose company agrees (or names the other's work domain).
    def rare_name_within(limit: float) -> pl.Expr:
        return (
            ((namesakes <= limit) & (c("public") | b("public") | (c("crel") == EXACT)))
            | ((namesakes <= cfg.max_common_namesakes) & (c("crel") == EXACT))
        ).fill_null(False)

    rare_name = rare_name_within(cfg.max_namesakes)
    # The same local part in both domains is evidence beside the name: a less rare name will do.
    same_local = (
        ~near & ~c("typo_domain") & named & (c("stem") == b("stem")) & ~c("short") & ~c("roles")
        & rare_name_within(max(cfg.max_namesakes, cfg.max_same_local_namesakes))
    )  # fmt: skip
    rare = named & c("has_last") & b("has_last") & rare_name
    kind = (
        pl.when(c("same_mailbox")).then(MAILBOX).when(near & c("same_skel")).then(SEPARATORS)
        .when(c("typo_domain") & c("same_skel") & ~c("short") & ~c("roles")).then(DOMAIN_TYPO)
        .when(near & c("same_stem")).then(DIGITS).when(near_edit & c("typo").fill_null(False)).then(TYPO)
        .when(near & (((c("rel") >= COMPATIBLE) & c("form") & b("form")) | c("spelled_both"))).then(NAME_FORM)
        .when(same_local.fill_null(False)).then(SAME_LOCAL).when(rare.fill_null(False)).then(RARE_NAME)
        .otherwise(SIMILAR)
    )  # fmt: skip
    pairs = pairs.with_columns(kind=kind)
    # Spelling counts for digits, a typo or a pair of name forms: evidence tied to the name. A plain
    # look-alike (`jonhsmith` / `johnsmith2`) still needs names both accounts give.
    spelled = c("spelled") & c("kind").is_in([DIGITS, TYPO, NAME_FORM])
    pairs = pairs.with_columns(spelled=spelled).with_columns(
        rel=pl.when("spelled").then(EXACT).otherwise(c("rel"))
    )
    scores = [1.0, cfg.separator_score, cfg.domain_typo_score, cfg.digits_score, cfg.typo_score]
    scores += [cfg.name_pattern_score, cfg.same_local_score, cfg.rare_name_score]
    base = c("kind").replace_strict(range(SIMILAR), scores, default=None, return_dtype=pl.Float64)
    # Plain similarity is the evidence of SIMILAR, and a long string one typo apart may beat typo_score.
    similar = pl.when(near & c("kind").is_in([TYPO, SIMILAR])).then(c("sim")).otherwise(0.0)
    base = pl.max_horizontal(base, similar)
    lifted = _lift(_lift(base, c("rel"), cfg.name_weight), c("crel"), cfg.company_weight)
    pairs = pairs.with_columns(score=pl.min_horizontal(pl.max_horizontal(lifted, 0.0), 1.0))
    agree = c("rel") >= COMPATIBLE
    public = (c("public") | b("public")) & (c("kind") != DOMAIN_TYPO)
    # At a free-mail provider anyone can hold a look-alike address: names must agree, and be rare enough
    # that two people with them are unlikely (a separator change needs less than a digit or a typo).
    long_typo = (c("kind") == TYPO) & (minlen >= cfg.typo_min_length)
    public_ok = pl.when((c("kind") == SEPARATORS) | long_typo).then(c("rel") >= PARTIAL).otherwise(agree)
    # Where only agreeing names lift the evidence over `min_score`, the name must not be a common one:
    # namesakes pick digits and initials, they do not mistype each other's addresses.
    shares = [pl.max_horizontal(x, f"b_{x}") for x in ("fshare", "lshare", "dshare", "ishare", "lishare")]

    # A pair whose missing name part an address spells agrees on what both addresses carry: when one
    # gives only its initial (`dmoore`), the rarity is that of the initial, not of the other's full name.
    def in_both(u: pl.Expr) -> pl.Expr:
        return c("stem").str.contains(u, literal=True) & b("stem").str.contains(u, literal=True)

    first_missing = c("first").is_null() | b("first").is_null() | c("is_init") | b("is_init")
    initial_only = [
        c("spelled") & first_missing & ~pl.any_horizontal(m & in_both(f) for f, _, m in views),
        c("spelled")
        & (c("last").is_null() | b("last").is_null())
        & ~pl.any_horizontal(m & in_both(la) for _, la, m in views),
    ]
    first_share, last_share = (
        pl.when(initial_only[k]).then(shares[k + 3]).otherwise(shares[k]) for k in (0, 1)
    )
    dom_namesakes = first_share * last_share * shares[2] * c("nsize")
    common = (dom_namesakes > cfg.max_domain_namesakes).fill_null(False)
    # A separator change at a free-mail provider is what a namesake picks when first.last is taken.
    weak = c("kind").is_in([DIGITS, NAME_FORM, SIMILAR]) | ((c("kind") == TYPO) & ~long_typo)
    weak = weak | ((c("kind") == SEPARATORS) & public & ~c("same_mailbox"))
    kind_ok = (
        pl.when(c("kind") == TYPO).then((minlen >= cfg.typo_min_length) | agree)
        .when(c("kind") == SIMILAR)
        .then(~c("short") & ~c("initials").fill_null(False) & (agree | (not cfg.similar_needs_names)))
        .otherwise(True)
    )  # fmt: skip
    names_ok = pl.when(c("roles")).then(agree).when(public).then(public_ok).otherwise(True)
    alike = (
        (c("rel") != CONFLICT) & (c("score") >= cfg.min_score - _EPS) & kind_ok & names_ok & ~(weak & common)
    )
    pairs = pairs.with_columns(accepted=pl.when(c("same_mailbox")).then(~c("roles") | agree).otherwise(alike))
    # Last, and only for the look-alikes that would link: the per-pair check of the words they spell.
    look_alike = c("accepted") & c("kind").is_in([TYPO, SIMILAR])
    two_names = _per_pair(pairs, look_alike, "skel", mn.two_names(names, cfg)) == 1
    return pairs.with_columns(accepted=(c("accepted") & ~two_names.fill_null(False)).fill_null(False))
