"""The duplicate_signups pass: groups of portal accounts that probably belong to one person.

Customers who sign up twice (`first_last@org.com` and `first.last@org.com`) cannot tell which account
holds their subscription. Two accounts are linked when

* both addresses reach the same inbox (`normalize.canonical_mailbox`), unless it is a shared role
  mailbox (billing@ ...) and the names do not agree; or
* they look alike in the same domain and the names do not contradict it: evidence from the local parts
  (separators or +tag, one swapped pair of letters, trailing digits, forms of the name, edit
  similarity) lifted by agreeing names. Missing names never agree; the weaker kinds need them; or
* they carry the same full name, which no other account in the export has, and both addresses
  contain the last name (a person's work and private addresses).

Candidate pairs come from blocking, never from all n^2 pairs: accounts sharing an inbox or a rare full
name, plus a sorted neighbourhood (each account against its `window` next neighbours) over three
orderings within a domain. Scoring is polars expressions over batches of pairs; only the edit distance
of still-plausible pairs is a per-pair call. Accepted links form clusters by union-find (connected
components). Emails are personal data: only counts are logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from audit import normalize as nz
from audit.schema import create_sql

log = logging.getLogger(__name__)

AGREE, UNKNOWN, CONFLICT = 1, 0, -1  # how the names on two accounts relate
# The evidence behind a link, strongest first; all but RARE_NAME need both accounts in one domain.
MAILBOX, SEPARATORS, TRANSPOSED, DIGITS, NAME_FORM, RARE_NAME, SIMILAR = range(7)
_EPS = 1e-9  # float slack when comparing a score with its threshold
_BATCH = 1_000_000  # candidate pairs scored at once: bounds memory at any input size
_SCORES = ("min_score", "name_weight", "separator_score", "transposition_score", "digits_score",
           "name_pattern_score", "rare_name_score")  # fmt: skip
_COUNTS = {"min_local_length": (1, 64), "window": (1, 1000), "max_name_sharers": (1, 100)}
_LISTS = ("plus_tag_domains", "public_domains", "role_local_parts")
_SQL_TYPES = {"VARCHAR": pl.String, "BIGINT": pl.Int64, "INTEGER": pl.Int32, "DOUBLE": pl.Float64}
OUTPUT_COLUMNS = {
    "cluster_id": "VARCHAR", "account_id": "BIGINT", "email": "VARCHAR", "cluster_size": "INTEGER",
    "matched_account_id": "BIGINT", "score": "DOUBLE", "reason": "VARCHAR", "is_primary": "BOOLEAN",
    "primary_account_id": "BIGINT", "primary_reason": "VARCHAR", "severity": "VARCHAR",
    "evidence": "VARCHAR", "action": "VARCHAR",
}  # fmt: skip


@dataclass(frozen=True)
class MatchingConfig:
    """Thresholds of the duplicate_signups pass; every field is a plain TOML value with a default."""

    # A look-alike link is accepted at or above this score (same-inbox links always are).
    min_score: float = 0.9
    # Share of the gap to 1 that agreeing names close; conflicting names take this share off instead.
    name_weight: float = 0.5
    separator_score: float = 0.95  # address evidence when local parts differ only in . _ - or a +tag
    transposition_score: float = 0.92  # ... only in one swapped pair of adjacent letters (jonh / john)
    digits_score: float = 0.85  # ... only in trailing digits: below min_score, so names must agree
    name_pattern_score: float = 0.85  # ... both are forms of the shared name (jsmith / john.smith)
    rare_name_score: float = 0.8  # ... same full name, shared by no one else, both addresses contain it
    # A full name shared by more accounts than this is too common to link accounts across domains.
    max_name_sharers: int = 2
    min_local_length: int = 4  # shorter local parts are never compared by edit similarity or digits
    # Plain look-alikes (jsmithson / ksmithson: one letter apart) link only when the names agree.
    similar_needs_names: bool = True
    window: int = 8  # sorted neighbourhood: neighbours each account is compared with, per ordering
    plus_tag_domains: tuple[str, ...] = nz.PLUS_TAG_DOMAINS  # deliver local+tag@ to local@
    public_domains: tuple[str, ...] = nz.PUBLIC_DOMAINS  # free-mail: look-alikes need agreeing names
    role_local_parts: tuple[str, ...] = nz.ROLE_LOCAL_PARTS  # shared mailboxes: never link on their own

    def __post_init__(self) -> None:
        for name in _LISTS:  # TOML gives lists; tuples keep the config hashable
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))

    def validate(self) -> None:
        """Raise ValueError naming the first bad field (TOML values arrive unchecked)."""
        for name in _SCORES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")
        for name, (low, high) in _COUNTS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
        for name in _LISTS:
            value = getattr(self, name)
            if not isinstance(value, tuple) or not all(isinstance(v, str) and v.strip() for v in value):
                raise ValueError(f"{name} must be a list of non-empty strings")
        if self.min_score == 0:
            raise ValueError("min_score must be above 0, or every compared pair would link")
        if not isinstance(self.similar_needs_names, bool):
            raise ValueError(f"similar_needs_names must be true or false, got {self.similar_needs_names!r}")


def duplicate_signups(con: duckdb.DuckDBPyConnection, cfg: MatchingConfig) -> int:
    """Reads table stg_accounts, creates (CREATE OR REPLACE) table chk_duplicate_signups, returns its row count.

    Deterministic: rows are ordered by (smallest account id of the cluster, account_id), and a cluster's
    id is its smallest account id, so accounts unrelated to a cluster never change it.
    """  # noqa: E501
    cfg.validate()
    accounts = _load(con)
    emails, firsts, lasts = (accounts[k].to_list() for k in ("email", "first_name", "last_name"))
    feats = _features(emails, firsts, lasts, cfg)
    links = _links(feats, cfg)
    rows = _report(accounts, feats, links)
    con.execute(create_sql("chk_duplicate_signups", OUTPUT_COLUMNS))
    if rows.height:
        con.register("_matching_duplicate_rows", rows)
        try:
            con.execute("INSERT INTO chk_duplicate_signups SELECT * FROM _matching_duplicate_rows")
        finally:
            con.unregister("_matching_duplicate_rows")
    log.info("duplicate_signups: %d links, %d accounts in clusters", links.height, rows.height)
    return rows.height


Person = tuple[str | None, str | None, str | None]  # (email, first_name, last_name)


def score_pair(a: Person, b: Person, cfg: MatchingConfig | None = None) -> tuple[float, bool, str]:
    """(score, accepted, reason) of two accounts, scored exactly as the pass scores a candidate pair.

    Unlike the pass it always computes the edit similarity, so rejected pairs get a meaningful score.
    A pair with an unusable address is never compared: (0.0, False, "").
    """
    cfg = cfg or MatchingConfig()
    feats = _features([a[0], b[0]], [a[1], b[1]], [a[2], b[2]], cfg)
    if feats.height < 2:
        return 0.0, False, ""
    pair = _pairs(feats, pl.DataFrame({"a": [0], "b": [1]}))
    row = _score(pair, cfg, every_similarity=True).row(0, named=True)
    names = feats.select("first", "last").rows()
    return round(row["score"], 3), bool(row["accepted"]), _link_reason(row, a[0], b[0], *names)


def _load(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The account facts the pass needs, one row per account, in account_id order."""
    rel = con.sql(
        """
        SELECT account_id, email, first_name, last_name, confirmed_at IS NOT NULL AS confirmed,
               coalesce(trim(uid), '') <> '' AS linked, epoch_us(last_sign_in_at) AS signin_us,
               strftime(last_sign_in_at, '%Y-%m-%d') AS signin_day,
               nullif(trim(billing_account_id), '') AS billing
        FROM stg_accounts WHERE account_id IS NOT NULL ORDER BY account_id, source_line
        """
    )
    assert rel is not None  # a SELECT always gives a relation
    frame: pl.DataFrame = rel.pl()
    return frame


_FEATURES = {
    **{"i": pl.Int64, "dom": pl.String, "canon": pl.String, "skel": pl.String, "stem": pl.String},
    **{"anagram": pl.String, "first": pl.String, "last": pl.String, "role": pl.Boolean, "form": pl.Boolean},
}


def _features(
    emails: Sequence[str | None], firsts: Sequence[Any], lasts: Sequence[Any], cfg: MatchingConfig
) -> pl.DataFrame:
    """One row per account with a usable address: the normalised forms that scoring compares.

    `i` is the account's row in `_load` order, so a smaller `i` is a smaller account_id. `sharers` counts
    the accounts with the same full name: a name only two accounts share is evidence, a common one is not.
    """
    plus = frozenset(d.strip().lower() for d in cfg.plus_tag_domains)
    public = frozenset(nz.canonical_domain(d) for d in cfg.public_domains)
    roles = frozenset(nz.skeleton(r) for r in cfg.role_local_parts)
    boxes = [nz.mailbox(email, plus) for email in emails]
    rows = [i for i, box in enumerate(boxes) if box is not None]
    kept = [box for box in boxes if box is not None]
    first = [nz.first_name_key(firsts[i]) for i in rows]
    last = [nz.name_key(lasts[i]) for i in rows]
    frame = pl.DataFrame(
        {
            "i": rows,
            "dom": [b.domain for b in kept],
            "canon": [b.canonical for b in kept],
            "skel": [b.skeleton for b in kept],
            "stem": [b.stem for b in kept],
            "anagram": ["".join(sorted(b.skeleton)) for b in kept],
            "first": first,
            "last": last,
            "role": [nz.is_role_local(b.local, roles) for b in kept],
            "form": [nz.built_from_name(b.stem, f, la) for b, f, la in zip(kept, first, last, strict=True)],
        },
        schema=_FEATURES,
    )
    c = pl.col
    named = c("first").is_not_null() & c("last").is_not_null() & (c("first").str.len_chars() > 1)
    return frame.with_columns(
        rskel=c("skel").str.reverse(),
        slen=c("skel").str.len_chars().cast(pl.Int64),
        init=c("first").str.slice(0, 1),
        is_init=c("first").str.len_chars() == 1,
        public=c("dom").is_in(list(public)),
        has_last=(c("last").str.len_chars() > 1) & c("skel").str.contains(c("last"), literal=True),
        sharers=pl.when(named).then(pl.len().over("first", "last")),
    )


# (sort keys, keys two neighbours must share to be compared) of each sorted neighbourhood.
_ORDERINGS = (
    (("dom", "skel"), ("dom",)),  # separators, digits appended, typos late in the address
    (("dom", "rskel"), ("dom",)),  # typos early in the address
    (("dom", "last", "init", "skel"), ("dom", "last", "init")),  # forms of one name: jsmith / john.smith
)


def _candidates(feats: pl.DataFrame, cfg: MatchingConfig) -> pl.DataFrame:
    """Candidate pairs as feature-row positions (a < b, unique, sorted): O(n * window), never n^2."""
    pos = feats.with_row_index("p")
    p, right = pl.col("p"), pos.select("p", "first", "last")
    parts = [
        # Accounts sharing an inbox, each against the first of them: a star, so k accounts give k-1 pairs.
        pos.select(a=p.min().over("canon"), b=p),
        # Accounts sharing a rare full name, in any domain: blocks of at most `max_name_sharers`.
        pos.filter(pl.col("sharers").is_between(2, cfg.max_name_sharers))
        .join(right, on=["first", "last"], suffix="_b")
        .select(a=p, b="p_b"),
    ]
    for keys, block in _ORDERINGS:
        ordered = pos.drop_nulls(list(keys)).sort([*keys, "p"])
        for k in range(1, cfg.window + 1):
            same_block = pl.all_horizontal([pl.col(c) == pl.col(c).shift(-k) for c in block])
            parts.append(ordered.select(a=p, b=p.shift(-k), same=same_block).filter("same").drop("same"))
    # One u64 per pair (a, b) = a * 2^32 + b: deduplicating and sorting one integer column is ~7x faster.
    lo, hi = pl.min_horizontal("a", "b").cast(pl.UInt64), pl.max_horizontal("a", "b").cast(pl.UInt64)
    key = pl.concat(parts).filter(lo != hi).select(key=lo * 2**32 + hi)["key"].unique().sort()
    return pl.DataFrame({"a": key // 2**32, "b": key % 2**32})


def _pairs(feats: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """Features of both accounts of each pair, side by side: columns X and b_X."""
    second = feats.select(pl.all().gather(pairs["b"]).name.prefix("b_"))
    return feats.select(pl.all().gather(pairs["a"])).hstack(second)


def _links(feats: pl.DataFrame, cfg: MatchingConfig) -> pl.DataFrame:
    """Accepted links (rows lo < hi, kind, rel, sim, score), scoring candidates in memory-bounded batches."""
    pairs = _candidates(feats, cfg)
    batches = (pairs.slice(offset, _BATCH) for offset in range(0, max(pairs.height, 1), _BATCH))
    kept = pl.col("i").alias("lo"), pl.col("b_i").alias("hi"), "kind", "rel", "sim", "score"
    return pl.concat([_score(_pairs(feats, batch), cfg).filter("accepted").select(kept) for batch in batches])


def _lift(base: pl.Expr, rel: pl.Expr, weight: float) -> pl.Expr:
    """Agreeing names close `weight` of the gap to 1; conflicting names take `weight` of the score off."""
    agree, conflict = base + (1 - base) * weight, base * (1 - weight)
    return pl.when(rel == AGREE).then(agree).when(rel == CONFLICT).then(conflict).otherwise(base)


def _b(name: str) -> pl.Expr:
    """Column `name` of the second account of a pair."""
    return pl.col(f"b_{name}")


def _score(pairs: pl.DataFrame, cfg: MatchingConfig, every_similarity: bool = False) -> pl.DataFrame:
    """Add rel, kind, sim, score and accepted to a frame of pairs. Every rule is symmetric in a and b."""
    c, b = pl.col, _b
    both_first = c("first").is_not_null() & b("first").is_not_null()
    both_last = c("last").is_not_null() & b("last").is_not_null()
    swapped = both_first & both_last & (c("first") == b("last")) & (c("last") == b("first"))
    first_ok = (c("first") == b("first")) | ((c("is_init") | b("is_init")) & (c("init") == b("init")))
    conflict = ~swapped & ((both_last & (c("last") != b("last"))) | (both_first & ~first_ok))
    same_name = (c("first") == b("first")) & (c("last") == b("last")) & ~c("is_init")
    pairs = pairs.with_columns(
        rel=pl.when(conflict.fill_null(False)).then(CONFLICT).when(both_first & both_last).then(AGREE)
        .otherwise(UNKNOWN),
        same_mailbox=c("canon") == b("canon"),
        same_domain=c("dom") == b("dom"),
        same_skel=c("skel") == b("skel"),
        same_stem=(c("stem") == b("stem")) & (c("stem").str.len_chars() >= cfg.min_local_length),
        short=pl.min_horizontal("slen", "b_slen") < cfg.min_local_length,
        # Role mailboxes never link by themselves; in free-mail domains look-alike strangers are common.
        needs_names=c("role") | b("role") | ((c("public") | b("public")) & (c("canon") != b("canon"))),
        rare_name=(same_name & (pl.max_horizontal("sharers", "b_sharers") <= cfg.max_name_sharers)
                   & c("has_last") & b("has_last")).fill_null(False),
        bound=1 - (c("slen") - b("slen")).abs() / pl.max_horizontal("slen", "b_slen", 1),
    )  # fmt: skip
    # The edit distance is the one per-pair Python call: skip it wherever no outcome can depend on it
    # (`bound` is the best similarity two lengths allow).
    plausible = (
        c("same_domain") & ~c("same_mailbox") & ~c("same_skel") & ~c("same_stem") & ~c("short")
        & (c("rel") != CONFLICT) & ~(c("needs_names") & (c("rel") != AGREE))
        & ((c("rel") == AGREE) | (c("anagram") == b("anagram")) | (not cfg.similar_needs_names))
        & (_lift(c("bound"), c("rel"), cfg.name_weight) >= cfg.min_score - _EPS)
    )  # fmt: skip
    todo = pairs.with_row_index("_r").filter(pl.lit(True) if every_similarity else plausible)
    sims = list(map(nz.similarity, todo["skel"].to_list(), todo["b_skel"].to_list()))
    sim = pl.repeat(0.0, pairs.height, dtype=pl.Float64, eager=True).scatter(todo["_r"], sims)
    # A special kind applies only where it beats plain similarity, so the evidence is never below `sim`.
    # One edit between two anagrams is a swap of adjacent letters.
    near, s = c("same_domain"), c("sim")
    swap = (
        near
        & (c("anagram") == b("anagram"))
        & (s >= 1 - 1 / c("slen") - _EPS)
        & (s <= cfg.transposition_score)
    )
    form = near & (c("rel") == AGREE) & c("form") & b("form") & (s <= cfg.name_pattern_score)
    kind = (
        pl.when(c("same_mailbox")).then(MAILBOX).when(near & c("same_skel")).then(SEPARATORS)
        .when(near & c("same_stem")).then(DIGITS).when(swap).then(TRANSPOSED).when(form).then(NAME_FORM)
        .when(c("rare_name") & (~near | (s <= cfg.rare_name_score))).then(RARE_NAME).otherwise(SIMILAR)
    )  # fmt: skip
    scores = [1.0, cfg.separator_score, cfg.transposition_score, cfg.digits_score, cfg.name_pattern_score]
    base = c("kind").replace_strict(range(SIMILAR), [*scores, cfg.rare_name_score], default=None)
    base = base.fill_null(pl.when(near).then(s).otherwise(0.0))
    pairs = pairs.with_columns(sim=sim).with_columns(kind=kind)
    pairs = pairs.with_columns(score=_lift(base, c("rel"), cfg.name_weight))
    similar = c("kind") == SIMILAR
    unsupported = similar & (c("short") | ((c("rel") != AGREE) & cfg.similar_needs_names))
    alike = (c("rel") != CONFLICT) & (c("score") >= cfg.min_score - _EPS) & ~unsupported
    accepted = (c("same_mailbox") | alike) & ~(c("needs_names") & (c("rel") != AGREE))
    return pairs.with_columns(accepted=accepted.fill_null(False))


def _report(accounts: pl.DataFrame, feats: pl.DataFrame, links: pl.DataFrame) -> pl.DataFrame:
    """Clusters (union-find over the links) and one output row per clustered account, in output order."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])  # path halving
            x = parent[x]
        return x

    for lo, hi in links.select("lo", "hi").iter_rows():
        ra, rb = find(lo), find(hi)
        parent[max(ra, rb)] = min(ra, rb)  # the smaller row (= account_id) stays root: stable cluster ids
    clusters: dict[int, list[int]] = {}
    for x in sorted(parent):
        clusters.setdefault(find(x), []).append(x)

    members = list(parent)  # only clustered accounts are read back into Python
    chosen = accounts.with_row_index("i").filter(pl.col("i").is_in(members))
    acc = {name: dict(zip(chosen["i"], chosen[name], strict=True)) for name in accounts.columns}
    names = {
        r[0]: r[1:] for r in feats.filter(pl.col("i").is_in(members)).select("i", "first", "last").rows()
    }
    best: Best = {}
    for link in links.iter_rows(named=True):
        lo, hi, score = link["lo"], link["hi"], round(link["score"], 3)
        reason = _link_reason(link, acc["email"][lo], acc["email"][hi], names[lo], names[hi])
        for this, other in ((lo, hi), (hi, lo)):
            if this not in best or (-score, other) < (-best[this][0], best[this][1]):
                best[this] = (score, other, reason)
    billing_known = accounts["billing"].null_count() < accounts.height
    rows = [
        row for root in sorted(clusters) for row in _cluster_rows(clusters[root], best, acc, billing_known)
    ]
    schema = {name: _SQL_TYPES.get(kind, pl.Boolean) for name, kind in OUTPUT_COLUMNS.items()}
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def _link_reason(
    link: dict[str, Any], email_a: str | None, email_b: str | None, names_a: Any, names_b: Any
) -> str:
    """Human-readable evidence for one link, symmetric in its two accounts and free of names."""
    a, b = nz.mailbox(email_a), nz.mailbox(email_b)
    assert a is not None and b is not None  # only usable addresses are ever scored
    differs = {"separators": nz.strip_tag(a.local) != nz.strip_tag(b.local), "the +tag": a.tag != b.tag}
    text = {
        MAILBOX: "same address" if email_a == email_b else nz.mailbox_reason(a, b),
        SEPARATORS: "same address apart from " + " and ".join(k for k, v in differs.items() if v),
        TRANSPOSED: "same address apart from two swapped letters",
        DIGITS: "same address apart from trailing digits",
        NAME_FORM: "both addresses are forms of the same name",
        RARE_NAME: "same full name, shared by no other account, and both addresses contain the last name",
    }.get(link["kind"], f"local parts {link['sim']:.2f} similar" if a.domain == b.domain else "other domain")
    if link["rel"] == CONFLICT:
        return text + ", although the names differ"
    if link["rel"] == AGREE and link["kind"] != RARE_NAME:  # RARE_NAME already says so
        same = names_a == names_b or names_a == names_b[::-1]
        return text + (", same first and last name" if same else ", same last name and first initial")
    return text


Best = dict[int, tuple[float, int, str]]  # row -> (score, matched row, reason) of its strongest link


def _cluster_rows(
    members: list[int], best: Best, acc: dict[str, dict[int, Any]], billing_known: bool
) -> list[Any]:
    """Output rows of one cluster: the suggested primary, and what support should tell the customer."""
    ids, emails, signin = acc["account_id"], acc["email"], acc["signin_us"]

    def rank(i: int) -> tuple[bool, bool, bool, int]:  # confirmed, linked to GitLab.com, latest sign-in
        return (not acc["confirmed"][i], not acc["linked"][i], signin[i] is None, -(signin[i] or 0))

    def who(i: int) -> str:
        return f"account {ids[i]} ({nz.display_email(emails[i])})"

    primary = min(members, key=lambda i: (rank(i), ids[i]))
    latest, day = max(signin[m] or 0 for m in members), acc["signin_day"][primary]
    why = ["confirmed" if acc["confirmed"][primary] else "no account is confirmed"]
    why += ["linked to GitLab.com"] if acc["linked"][primary] else []
    why += [
        "never signed in"
        if day is None
        else f"signed in most recently ({day})"
        if signin[primary] == latest
        else f"last signed in {day}"
    ]
    why += ["smallest account id"] if sum(rank(m) == rank(primary) for m in members) > 1 else []  # fmt: skip
    others = ", ".join(who(m) for m in members if m != primary)
    keep = f"suggest keeping {who(primary)} and no longer using {others}"
    holders = [m for m in members if acc["billing"][m] is not None]
    if not billing_known:
        action = f"Billing is not in the export: ask the customer which address receives invoices; {keep}."
    elif not holders:
        action = f"No account here has a billing account yet: {keep}."
    elif holders == [primary]:
        action = f"Tell the customer that {who(primary)} holds the subscription; {keep}."
    elif len(holders) == 1:
        action = f"Tell the customer that {who(holders[0])} holds the subscription; move it, then {keep}."
    else:
        held = ", ".join(who(h) for h in holders)
        action = f"Each of {held} has a billing account: check which holds the subscription, then {keep}."
    cluster_id, size = f"dup-{ids[members[0]]}", len(members)
    listing = ", ".join(f"{ids[m]} {nz.display_email(emails[m])}" for m in members)
    rows = []
    for m in members:
        score, other, reason = best[m]
        pair = f"{ids[m]} and {ids[other]}: " if size > 2 else ""
        evidence = f"{size} accounts: {listing}; {pair}{reason}"
        row = (cluster_id, ids[m], emails[m], size, ids[other], score, reason, m == primary, ids[primary])
        rows.append((*row, ", ".join(why), "medium", evidence, action))
    return rows
