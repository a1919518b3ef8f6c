"""Duplicate sign-ups planted on bulk background accounts: a base account and one or two look-alikes.

The look-alike addresses are the forms a person really produces when signing up twice (Gmail dots,
a +tag, `.` for `_`, other letter case, the same name at a free-mail provider), chosen only where the
provider or the address makes them reach the same person. Background names are unique, so a planted
cluster is the only reason two accounts share a name.
"""

from __future__ import annotations

import polars as pl

from audit import sample_data as sd
from audit.sample_people import US_PER_DAY, US_PER_MIN, norm_local
from audit.sample_rng import Rng

PLUS_TAG_DOMAINS = ("gmail.com", "outlook.com", "hotmail.com", "icloud.com")
TAGS = ("portal", "gitlab", "work", "billing")


def _variant(rng: Rng, base: pl.DataFrame) -> pl.Series:
    """Which look-alike each base gets, among those its provider and address allow."""
    u = rng.uniform(base.height, "dup:variant")
    domain, local = pl.col("domain"), pl.col("local")
    has_last = local.str.contains(pl.col("l"), literal=True)
    choice = (
        pl.when(pl.lit(u) < 0.15)
        .then(pl.lit("case_only_difference"))
        .when((pl.lit(u) < 0.35) & has_last)
        .then(pl.lit("same_name_other_domain"))
        .when(domain == "gmail.com")
        .then(pl.when(pl.lit(u) < 0.7).then(pl.lit("gmail_dots")).otherwise(pl.lit("plus_tag")))
        .when(domain.is_in(PLUS_TAG_DOMAINS))
        .then(pl.lit("plus_tag"))
        .when(local.str.contains(r"[._]") & ~pl.col("free"))
        .then(pl.lit("first_last_vs_first.last"))  # "amy" / "a.my" is no one's second address
        .otherwise(pl.lit("case_only_difference"))
    )
    return base.select(choice).to_series()


def _lookalike(rng: Rng, base: pl.DataFrame) -> pl.Series:
    local, domain, variant = pl.col("local"), pl.col("domain"), pl.col("variant")
    dotted = local.str.slice(0, 1) + "." + local.str.slice(1)
    tag = pl.lit(rng.choice(base.height, "dup:tag", TAGS))
    same_local = rng.uniform(base.height, "dup:same-local") < 0.5
    other = pl.when(domain == "gmail.com").then(pl.lit("yahoo.com")).otherwise(pl.lit("gmail.com"))
    swapped = (
        pl.when(local.str.contains(".", literal=True))
        .then(local.str.replace_all(".", "_", literal=True))
        .otherwise(local.str.replace_all("_", ".", literal=True))
    )
    email = (
        pl.when(variant == "case_only_difference")
        .then(pl.col("email").str.to_titlecase())
        .when(variant == "same_name_other_domain")  # a personal address: the work local part, or f.l
        .then(
            pl.when(pl.lit(same_local)).then(local).otherwise(pl.col("f") + "." + pl.col("l")) + "@" + other
        )
        .when(variant == "gmail_dots")
        .then(
            pl.when(local.str.contains(".", literal=True))
            .then(local.str.replace_all(".", "", literal=True))
            .otherwise(dotted)
            + "@"
            + domain
        )
        .when(variant == "plus_tag")
        .then(local + "+" + tag + "@" + domain)
        .otherwise(swapped + "@" + domain)
    )
    return base.select(email).to_series()


def plant_duplicates(rng: Rng, frame: pl.DataFrame, n_extra: int, end: int) -> pl.DataFrame:
    """Turn unplanted, non-recent rows into cluster bases and append n_extra look-alike accounts."""
    if n_extra <= 0:
        return frame
    n_base = max(1, round(n_extra / 1.2))
    free_rows = (pl.col("check") == "") & ~pl.col("recent")
    order = rng.u64(frame.height, "dup:order")
    frame = frame.with_columns(order=order)
    picked = frame.filter(free_rows).sort("order").head(n_base).select("order")
    is_base = pl.col("order").is_in(picked["order"].implode())
    frame = frame.with_columns(
        check=pl.when(is_base).then(pl.lit(sd.D)).otherwise("check"),
        variant=pl.when(is_base).then(pl.lit("base")).otherwise("variant"),
        flagged=pl.when(is_base).then(True).otherwise("flagged"),
        group=pl.when(is_base).then(pl.lit("dup:") + pl.col("key")).otherwise("group"),
    )
    base = frame.filter(is_base).sort("order")
    base = base.with_columns(variant=_variant(rng, base))
    first = base.with_columns(email=_lookalike(rng, base), base_email=pl.col("email"))
    # A personal address must not be someone else's: fall back to a case variant where it would be.
    local = pl.col("email").str.to_lowercase().str.split("@").list.first()
    new_key = pl.col("email").str.to_lowercase().str.split("@").list.last() + "/" + norm_local(local)
    taken = frame.filter(~is_base)["key"].implode()
    clash = (pl.col("variant") == "same_name_other_domain") & new_key.is_in(taken)
    first = first.with_columns(
        variant=pl.when(clash).then(pl.lit("case_only_difference")).otherwise("variant"),
        email=pl.when(clash).then(pl.col("base_email").str.to_titlecase()).otherwise("email"),
    ).drop("base_email")
    # A third account only joins clusters linked within one mailbox provider: the rare-name link across
    # domains is (by design) refused when three accounts share the name.
    same_inbox = first.filter(pl.col("variant") != "same_name_other_domain")
    second = same_inbox.head(n_extra - n_base).with_columns(
        email=pl.col("email").str.to_uppercase(), variant=pl.lit("three_account_cluster")
    )
    extras = pl.concat([first, second])
    n = extras.height
    span = (end - US_PER_DAY - extras["created"]).clip(lower_bound=0)
    created = extras["created"] + (rng.uniform(n, "dup:created") * span).cast(pl.Int64)
    confirmed = created + rng.integers(n, "dup:confirm", 2, 200) * US_PER_MIN
    since = ((end - confirmed) * rng.uniform(n, "dup:sign-in")).cast(pl.Int64)
    signs_in = rng.uniform(n, "dup:signs-in") < 0.5
    extras = extras.with_columns(
        created=created,
        confirmed=confirmed,
        sent=created,
        sign_in=pl.when(pl.lit(signs_in)).then(end - since - 1).otherwise(None),
        sign_in_count=pl.when(pl.lit(signs_in)).then(1).otherwise(0),
        uid=pl.lit(""),
        gitlab_email=pl.lit(""),
        billing=pl.lit(""),
        tz=None,
    )
    return pl.concat([frame, extras], how="vertical_relaxed").drop("order")
