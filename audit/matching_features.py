"""Per-account features of the duplicate_signups pass, as polars expressions over the whole export.

Why not call `normalize.mailbox` per row: at a million accounts that alone took over half of the pass.
The expressions below compute exactly what the pure functions in `audit.normalize` define (the tests
compare the two with Hypothesis), so `normalize` stays the readable specification and this module the
fast path. Names and companies repeat a lot, so they go through the pure functions once per distinct
value instead.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING

import polars as pl
from rapidfuzz.distance import OSA

from audit import normalize as nz

if TYPE_CHECKING:
    from audit.matching import MatchingConfig

c = pl.col
_SPACE_CLASS = "[" + "".join(f"\\x{{{ord(ch):X}}}" for ch in nz.WHITESPACE) + "]"
_PSEUDO_ACCOUNTS = 1000  # names are taken as rare until the export shows otherwise
MAILBOX_COLUMNS = ("canonical", "domain", "written_domain", "local", "tag", "skeleton", "stem")


def _strip_tag(local: pl.Expr) -> pl.Expr:
    """`normalize.strip_tag`: the part before the first '+', unless nothing comes before it."""
    base = local.str.split_exact("+", 1).struct.field("field_0")
    return pl.when(local.str.contains("+", literal=True) & (base != "")).then(base).otherwise(local)


def mailboxes(emails: pl.Series, plus_tag_domains: Collection[str]) -> pl.DataFrame:
    """`normalize.mailbox` of every address: one row per input row, all MAILBOX_COLUMNS null when unusable."""
    plus = sorted({d.strip().lower() for d in plus_tag_domains})
    text = c("email").str.strip_chars(nz.WHITESPACE).str.to_lowercase()
    last = c("text").str.split("@").list.last()  # after the last '@' (the whole text when there is none)
    frame = (
        pl.DataFrame({"email": emails}, schema={"email": pl.String})
        .lazy()
        .select(text=text)
        .with_columns(
            at=c("text").str.contains("@", literal=True),
            local=c("text").str.slice(0, c("text").str.len_chars() - last.str.len_chars() - 1),
            written_domain=last.str.strip_chars_end("."),
        )
        .with_columns(domain=c("written_domain").replace(nz.DOMAIN_ALIASES), base=_strip_tag(c("local")))
        .with_columns(
            inbox=pl.when(c("domain").is_in(plus) | c("written_domain").is_in(plus))
            .then(c("base"))
            .otherwise(c("local"))
        )
        .with_columns(
            inbox=pl.when(c("domain") == nz.GMAIL)
            .then(c("inbox").str.replace_all(".", "", literal=True))
            .otherwise(c("inbox")),
            tag=pl.when(c("base") != c("local"))
            .then(c("local").str.slice(c("base").str.len_chars() + 1))
            .otherwise(pl.lit("")),
            skeleton=c("base").str.replace_all(r"[._-]", ""),
        )
    )
    usable = (
        c("at")
        & (c("local").str.len_bytes() > 0)
        & (c("written_domain").str.len_bytes() > 0)
        & (c("inbox").str.len_bytes() > 0)
        & ~c("text").str.contains(_SPACE_CLASS)
    ).fill_null(False)
    parts = {
        "canonical": pl.concat_str(c("inbox"), pl.lit("@"), c("domain")),
        **{k: c(k) for k in ("domain", "written_domain", "local", "tag", "skeleton")},
        "stem": c("skeleton").str.strip_chars_end(nz.DIGITS),
    }
    return frame.select(pl.when(usable).then(v).alias(k) for k, v in parts.items()).collect()


def by_value(values: pl.Series, function: Callable[[str | None], str | None]) -> pl.Series:
    """`function` of every value, called once per distinct value (names repeat across accounts)."""
    distinct = values.unique().drop_nulls().to_list()
    mapping = {value: function(value) for value in distinct}
    return values.replace_strict(mapping, default=None, return_dtype=pl.String)


def role_locals(local: pl.Series, stem: pl.Series, roles: Iterable[str]) -> pl.Series:
    """`normalize.is_role_local` of lower-cased local parts (`stem`: their `Mailbox.stem`)."""
    roles = sorted(set(roles))
    whole = stem.is_in(roles).fill_null(False)
    # Several words, each a role (billing.admin): split only where the first word already is one.
    frame = pl.DataFrame({"local": local}).with_row_index("r").filter(c("local").str.contains(r"[._-]"))
    frame = frame.select("r", base=_strip_tag(c("local")))
    first = c("base").str.extract(r"^[._-]*([^._-]*)", 1).str.strip_chars_end(nz.DIGITS)
    todo = frame.filter(first.is_in(roles))
    words = (
        c("base")
        .str.replace_all(r"[_-]", ".")
        .str.split(".")
        .list.eval(
            pl.element()
            .str.strip_chars_end(nz.DIGITS)
            .filter(pl.element().str.strip_chars_end(nz.DIGITS) != "")
        )
    )
    every = todo.select(words.list.eval(pl.element().is_in(roles)).list.all() & (words.list.len() > 1))
    return whole.scatter(todo["r"], whole.gather(todo["r"]) | every.to_series()) if todo.height else whole


def name_forms(stem: pl.Expr, first: pl.Expr, last: pl.Expr, *, both_parts: bool = False) -> pl.Expr:
    """`normalize.built_from_name`: the local part is one of the usual forms of the person's name.

    `both_parts`: only forms that carry something of both parts (`jsmith`, not `john` alone).
    """
    f0, l0 = first.str.slice(0, 1), last.str.slice(0, 1)
    forms = [first + last, last + first, f0 + last, last + f0, first + l0]
    forms += [] if both_parts else [first, last]
    present = (first.str.len_bytes() > 0) & (last.str.len_bytes() > 0) & (stem.str.len_bytes() > 0)
    return (pl.any_horizontal(stem == form for form in forms) & present).fill_null(False)


def domain_typos(domains: pl.Series, public: Collection[str], ratio: float) -> dict[str, str]:
    """Domains one typo from a free-mail provider or a `ratio` times commoner domain (gmial.com -> gmail.com).

    A typo domain is usually rare and its mailbox never receives mail, so the person signs up again with
    the right one. Free-mail domains are real providers, never typos of each other (ymail.com / gmail.com).
    """
    counts = pl.DataFrame({"dom": domains}).drop_nulls().group_by("dom").agg(n=pl.len())
    if counts.height < 2:
        return {}
    longest = min(int(counts.select(c("dom").str.len_chars().max()).item() or 0), 64)
    lazy = counts.lazy()
    variants = pl.concat(
        [lazy.select("dom", v=c("dom"))]
        + [
            lazy.filter(c("dom").str.len_chars() > i).select(
                "dom", v=c("dom").str.slice(0, i) + c("dom").str.slice(i + 1)
            )
            for i in range(longest)
        ]
    )
    pairs = variants.join(variants, on="v", suffix="_to").filter(c("dom") != c("dom_to"))
    pairs = pairs.select("dom", "dom_to").unique().join(lazy, on="dom")
    pairs = pairs.join(lazy.rename({"dom": "dom_to", "n": "n_to"}), on="dom_to")
    # A free-mail provider is common by definition, even in a small export.
    target = (c("n_to") >= ratio * c("n")) | c("dom_to").is_in(sorted(public))
    found = pairs.filter(target & ~c("dom").is_in(sorted(public))).collect()
    typos: dict[str, tuple[int, str]] = {}
    for dom, to, n_to in found.sort("dom", "dom_to").select("dom", "dom_to", "n_to").rows():
        if OSA.distance(dom, to) == 1 and (-n_to, to) < typos.get(dom, (1, ""))[:2]:
            typos[dom] = (-n_to, to)
    return {dom: to for dom, (_n, to) in typos.items()}


def features(accounts: pl.DataFrame, cfg: MatchingConfig) -> pl.DataFrame:
    """One row per account with a usable address: the normalised forms that blocking and scoring compare.

    `i` is the account's row in `accounts` (account_id order), so a smaller `i` is a smaller account_id.
    `namesakes` is how many *other* accounts the export would have with this full name if first and last
    names were drawn independently at their frequencies in the export (`_PSEUDO_ACCOUNTS` keeps a tiny
    export from calling every name common): agreement on a rare name is evidence, on a common one it is
    not. The account itself is left out of both counts, or a last name found only on one person's two
    accounts would look twice as common as it is.
    """
    boxes = mailboxes(accounts["email"], cfg.plus_tag_domains)
    public = sorted(nz.canonical_domain(d) for d in cfg.public_domains)
    roles = [nz.skeleton(r) for r in cfg.role_local_parts]
    typos = domain_typos(boxes["domain"], public, cfg.domain_typo_ratio)
    frame = pl.DataFrame(
        {
            "i": pl.int_range(accounts.height, dtype=pl.UInt32, eager=True),
            "first": by_value(accounts["first_name"], nz.first_name_key),
            "last": by_value(accounts["last_name"], nz.name_key),
            "company": by_value(accounts["company"], nz.company_key),
        }
    ).hstack(boxes.select("canonical", "domain", "local", "skeleton", "stem"))
    frame = frame.filter(c("canonical").is_not_null()).rename(
        {"canonical": "canon", "domain": "dom", "skeleton": "skel"}
    )
    named = c("first").is_not_null() & c("last").is_not_null() & (c("first").str.len_chars() > 1)
    frame = frame.with_columns(
        bdom=c("dom").replace(typos),
        slen=c("skel").str.len_chars().cast(pl.Int64),
        nick=by_value(frame["first"], nz.nickname_key),
        init=c("first").str.slice(0, 1),
        is_init=(c("first").str.len_chars() == 1).fill_null(False),
        role=role_locals(frame["local"], frame["stem"], roles),
        form=name_forms(c("stem"), c("first"), c("last")),
        public=c("dom").is_in(public),
    )
    n = c("first").count() + _PSEUDO_ACCOUNTS
    return frame.with_columns(
        org=pl.when(~c("public")).then(c("dom").str.extract(r"^([^.]+)", 1).str.replace_all("-", "")),
        # The address carries the name: a rare full name then links accounts across domains.
        has_last=(
            c("form") | ((c("last").str.len_chars() >= 4) & c("skel").str.contains(c("last"), literal=True))
        ).fill_null(False),
        # Float before multiplying: two UInt32 counts past 65,536 each would wrap around.
        namesakes=pl.when(named).then(
            (pl.len().over("first").cast(pl.Float64) - 1) * (pl.len().over("last").cast(pl.Float64) - 1) / n
        ),
        # Shares of each name part and of the domain, so a pair whose accounts each give one part of a
        # name (the other left it out) can still estimate its namesakes.
        fshare=pl.when(c("first").str.len_chars() > 1).then(pl.len().over("first") / n),
        lshare=pl.when(c("last").is_not_null()).then(pl.len().over("last") / n),
        dshare=pl.len().over("bdom") / pl.max_horizontal(pl.len(), _PSEUDO_ACCOUNTS),
        nsize=n.cast(pl.Float64),
        # Initials the address gives when a name part is missing: `pmornak` with last name Mornak
        # starts with p; `lucia.b` with first name Lucia has b for a last initial.
        ainit=pl.coalesce(
            c("init"), *(_other_initial(c("stem"), x) for x in (c("last"), c("last").str.slice(0, 1)))
        ),
        alinit=pl.coalesce(
            c("last").str.slice(0, 1),
            _next_word_initial(c("local"), c("init")),
            *(_other_initial(c("stem"), x) for x in (c("first"), c("init"))),
        ),
    ).with_columns(
        # ... and how many of them would share this account's domain (typos corrected): two namesakes
        # meet at a company of 40 far less often than at gmail.com.
        dom_namesakes=c("namesakes") * c("dshare"),
        # Shares of the initials, for a pair that agrees on no more than an initial (`dmoore` beside
        # Densaost Moore): D. Moore is as common as D and Moore are, however rare Densaost is.
        ishare=pl.when(c("ainit").is_not_null()).then(pl.len().over("ainit") / n),
        lishare=pl.when(c("alinit").is_not_null()).then(pl.len().over("alinit") / n),
    )


def name_counts(feats: pl.DataFrame) -> dict[str, int]:
    """Accounts per name value, first and last names together: how established a spelling is."""
    values = pl.concat([feats["first"], feats["last"]]).drop_nulls()
    counts = values.value_counts(name="n")
    return dict(zip(counts[values.name].to_list(), counts["n"].to_list(), strict=True))


def _next_word_initial(local: pl.Expr, initial: pl.Expr) -> pl.Expr:
    """`s` of john.smith given only the first initial j: past a separator, the next word is the last
    name (the letter beside the initial, `o`, would be wrong)."""
    first_word = local.str.extract(r"^([^._-]+)[._-]", 1)
    # a letter only: jsmith.1980 has no last name after its separator
    return pl.when(first_word.str.starts_with(initial)).then(local.str.extract(r"^[^._-]+[._-]+([a-z])", 1))


def _other_initial(skel: pl.Expr, part: pl.Expr) -> pl.Expr:
    """The letter the skeleton has beside a name part: `p` of pmornak (Mornak), `b` of luciab (Lucia).

    Given an initial instead (`j` of John), the letter beside it: `s` of jsmith.
    """
    longer = skel.str.len_chars() > part.str.len_chars()
    return (
        pl.when(longer & skel.str.ends_with(part)).then(skel.str.slice(0, 1))
        .when(longer & skel.str.starts_with(part)).then(skel.str.slice(part.str.len_chars(), 1))
    )  # fmt: skip
