"""Report rows of duplicate_signups: clusters, the evidence for each account, the account to keep.

Why separate from scoring: this is the text support reads, and it runs over the few accounts that are
in a cluster, not over the export. Reasons name the evidence, never a person's name; emails appear
exactly as exported (`display_email` only quotes them when spaces would hide a difference).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import polars as pl

from audit import matching_features as mf
from audit import matching_score as ms
from audit import normalize as nz

_SQL_TYPES = {"VARCHAR": pl.String, "BIGINT": pl.Int64, "INTEGER": pl.Int32, "DOUBLE": pl.Float64}
OUTPUT_COLUMNS = {
    "cluster_id": "VARCHAR", "account_id": "BIGINT", "email": "VARCHAR", "cluster_size": "INTEGER",
    "matched_account_id": "BIGINT", "score": "DOUBLE", "reason": "VARCHAR", "is_primary": "BOOLEAN",
    "primary_account_id": "BIGINT", "primary_reason": "VARCHAR", "severity": "VARCHAR",
    "evidence": "VARCHAR", "action": "VARCHAR",
}  # fmt: skip
Names = tuple[str | None, str | None, str | None]  # (first, nickname key, last) keys of one account


def clusters(links: pl.DataFrame) -> pl.DataFrame:
    """(i, root) of every linked account: connected components of the links, root = smallest row in them.

    The smallest row is the smallest account id, so a cluster's id depends only on its own members.
    Min-label propagation with pointer jumping: every round a row takes the smallest root among its
    neighbours and its root's root, so even a long chain settles in a handful of rounds.
    """
    edges = pl.concat([links.select(i="lo", j="hi"), links.select(i="hi", j="lo")])
    label = edges.group_by("i").agg(root=pl.min_horizontal(pl.col("j").min(), pl.col("i").first()))
    while True:
        seen = (
            edges.join(label.rename({"i": "j", "root": "r"}), on="j").group_by("i").agg(r=pl.col("r").min())
        )
        jump = label.join(label.rename({"i": "root", "root": "rr"}), on="root", how="left")
        new = jump.join(seen, on="i", how="left").select(
            "i", root=pl.min_horizontal("root", pl.col("rr").fill_null(pl.col("root")), "r")
        )
        if new.join(label, on="i").filter(pl.col("root") != pl.col("root_right")).height == 0:
            return new.sort("i")
        label = new


def rows(
    accounts: pl.DataFrame, names: dict[int, Names], links: pl.DataFrame, plus_tag_domains: Collection[str]
) -> pl.DataFrame:
    """One output row per clustered account, ordered by (cluster, account_id)."""
    members = accounts.with_row_index("i").join(clusters(links), on="i").sort("root", "i")
    rows_i, emails = members["i"].to_list(), members["email"].to_list()
    email_of = dict(zip(rows_i, emails, strict=True))
    parts = dict(zip(rows_i, mf.mailboxes(members["email"], plus_tag_domains).rows(), strict=True))
    # Each account's strongest link (then the smaller other row); a reason is written once per link.
    both = pl.concat(
        [
            links.select(i="lo", other="hi", score=pl.col("score").round(3), lo="lo", hi="hi"),
            links.select(i="hi", other="lo", score=pl.col("score").round(3), lo="lo", hi="hi"),
        ]
    )
    strongest = both.sort("i", pl.col("score"), "other", descending=[False, True, False])
    strongest = strongest.unique("i", keep="first", maintain_order=True)
    used = links.join(strongest.select("lo", "hi").unique(), on=["lo", "hi"])
    reasons = [
        (
            lo,
            hi,
            link_reason(link, nz.Mailbox(*parts[lo]), nz.Mailbox(*parts[hi]), email_of, names[lo], names[hi]),
        )
        for link in used.to_dicts()
        for lo, hi in [(link["lo"], link["hi"])]
    ]
    reason = pl.DataFrame(
        reasons, schema={"lo": pl.UInt32, "hi": pl.UInt32, "reason": pl.String}, orient="row"
    )
    best = strongest.join(reason, on=["lo", "hi"]).select("i", "other", "score", "reason")
    ids = accounts.select("account_id").with_row_index("other").rename({"account_id": "matched_account_id"})
    best = best.join(ids, on="other")
    shown = pl.Series([nz.display_email(e) for e in emails], dtype=pl.String)
    members = members.with_columns(shown=shown).join(best, on="i").sort("root", "i")
    billing_known = accounts["billing"].null_count() < accounts.height
    return _cluster_rows(members, billing_known)


_TEXT = {
    ms.DIGITS: "same address apart from trailing digits",
    ms.NAME_FORM: "both addresses are forms of the same name",
    ms.SAME_LOCAL: "same local part in two domains (a work and a personal address)",
    ms.RARE_NAME: "same full name, rare in this export, and both addresses contain the name",
}


def _edit(a: str, b: str) -> str:
    if len(a) != len(b):
        return "one letter more or less"
    return "two swapped letters" if sorted(a) == sorted(b) else "one mistyped letter"


def _names(rel: int, a: Names, b: Names) -> str:
    if rel == ms.CONFLICT:
        return ", although the names differ"
    if rel == ms.EXACT:
        return ", same first and last name"
    if rel != ms.COMPATIBLE:
        return ""
    if (a[0], a[2]) == (b[2], b[0]):
        return ", same first and last name (swapped)"
    last = "same last name" if a[2] == b[2] else "last names one typo apart"
    if a[0] == b[0]:
        return f", {last} and first name"
    first_a, first_b = a[0] or "", b[0] or ""
    if min(len(first_a), len(first_b)) == 1:
        return f", {last} and first initial"
    if a[1] == b[1] or first_a.startswith(first_b) or first_b.startswith(first_a):
        return f", {last}, first name and its short form"
    return f", {last}, first names one typo apart"


def link_reason(
    link: dict[str, Any],
    box_a: nz.Mailbox | None,
    box_b: nz.Mailbox | None,
    emails: dict[int, Any],
    a: Names,
    b: Names,
) -> str:
    """Human-readable evidence for one link, symmetric in its two accounts and free of names."""
    assert box_a is not None and box_b is not None  # only usable addresses are ever scored
    email_a, email_b = emails[link["lo"]], emails[link["hi"]]
    kind = link["kind"]
    if kind == ms.MAILBOX:
        text = "same address" if email_a == email_b else nz.mailbox_reason(box_a, box_b)
    elif kind == ms.SEPARATORS:
        differs = {
            "separators": nz.strip_tag(box_a.local) != nz.strip_tag(box_b.local),
            "the +tag": box_a.tag != box_b.tag,
        }
        text = "same address apart from " + " and ".join(k for k, v in differs.items() if v)
    elif kind == ms.DOMAIN_TYPO:
        domains = " / ".join(sorted((box_a.written_domain, box_b.written_domain)))
        text = f"same address apart from a typo in the domain ({domains})"
    elif kind == ms.TYPO:
        text = f"same address apart from {_edit(box_a.skeleton, box_b.skeleton)}"
    elif kind in _TEXT:
        text = _TEXT[kind]
    else:
        near = box_a.domain == box_b.domain
        text = f"local parts {link['sim']:.2f} similar" if near else "other domain"
    if link.get("spelled"):
        text += ", one account leaves out a name part, and both addresses spell the name the other gives"
    elif link["kind"] != ms.RARE_NAME:
        text += _names(link["rel"], a, b)
    if link["crel"] == ms.EXACT:
        text += ", same company"
    elif link["crel"] == ms.CONFLICT:
        text += ", although the companies differ"
    return text


def _cluster_rows(members: pl.DataFrame, billing_known: bool) -> pl.DataFrame:
    """Output rows: the suggested primary of each cluster, and what support should tell the customer.

    `members` has one row per clustered account in (root, i) order with its strongest link. The primary
    is confirmed, then linked to GitLab.com, then signed in most recently, then the smallest id.
    """
    c = pl.col
    rank = ("r_conf", "r_link", "r_never", "r_sign")
    m = members.with_columns(
        who=pl.concat_str(pl.lit("account "), c("account_id"), pl.lit(" ("), c("shown"), pl.lit(")")),
        r_conf=~c("confirmed"),
        r_link=~c("linked"),
        r_never=c("signin_us").is_null(),
        r_sign=-c("signin_us").fill_null(0),
    )
    primary = m.sort("root", *rank, "account_id").group_by("root", maintain_order=True).first()
    primary = primary.select(
        "root", *rank, p_i="i", p_id="account_id", p_who="who", p_conf="confirmed", p_link="linked",
        p_day="signin_day", p_sign="signin_us",
    )  # fmt: skip
    m = m.join(primary, on="root", suffix="_p")
    holder = c("billing").is_not_null()
    cluster = m.group_by("root", maintain_order=True).agg(
        size=pl.len().cast(pl.Int32),
        cluster_id=pl.concat_str(pl.lit("dup-"), c("account_id").first()),
        listing=pl.concat_str(c("account_id"), pl.lit(" "), c("shown")).str.join(", "),
        latest=c("signin_us").fill_null(0).max(),
        ties=pl.all_horizontal(c(r) == c(f"{r}_p") for r in rank).sum(),
        others=c("who").filter(c("i") != c("p_i")).str.join(", "),
        holders=c("who").filter(holder).str.join(", "),
        holders_n=holder.sum(),
        holder_is_primary=(holder & (c("i") == c("p_i"))).any(),
    )
    day = c("p_day")
    recent = pl.concat_str(pl.lit("signed in most recently ("), day, pl.lit(")"))
    why = pl.concat_str(
        [
            pl.when(c("p_conf")).then(pl.lit("confirmed")).otherwise(pl.lit("no account is confirmed")),
            pl.when(c("p_link")).then(pl.lit("linked to GitLab.com")),
            pl.when(day.is_null()).then(pl.lit("never signed in"))
            .when(c("p_sign") == c("latest")).then(recent)
            .otherwise(pl.concat_str(pl.lit("last signed in "), day)),
            pl.when(c("ties") > 1).then(pl.lit("smallest account id")),
        ],
        separator=", ",
        ignore_nulls=True,
    )  # fmt: skip
    keep = pl.concat_str(pl.lit("suggest keeping "), c("p_who"), pl.lit(" and no longer using "), c("others"))
    said = [
        (pl.lit(not billing_known), "Billing is not in the export: ask the customer which address receives "
         "invoices; ", None),
        (c("holders_n") == 0, "No account here has a billing account yet: ", None),
        (c("holder_is_primary") & (c("holders_n") == 1), "Tell the customer that ", "p_who"),
        (c("holders_n") == 1, "Tell the customer that ", "holders"),
    ]  # fmt: skip
    action = pl.concat_str(
        pl.lit("Each of "), c("holders"),
        pl.lit(" has a billing account: check which holds the subscription, then "), keep, pl.lit("."),
    )  # fmt: skip
    for when, text, who in reversed(said):
        middle = (
            [pl.lit(text)] if who is None else [pl.lit(text), c(who), pl.lit(" holds the subscription; ")]
        )
        if who == "holders":
            middle.append(pl.lit("move it, then "))
        action = pl.when(when).then(pl.concat_str([*middle, keep, pl.lit(".")])).otherwise(action)
    cluster = cluster.join(primary.select("root", "p_who", "p_conf", "p_link", "p_day", "p_sign"), on="root")
    cluster = cluster.select("root", "size", "cluster_id", "listing", primary_reason=why, action=action)
    pair = pl.when(c("size") > 2).then(
        pl.concat_str(c("account_id"), pl.lit(" and "), c("matched_account_id"), pl.lit(": "))
    )
    out = m.join(cluster, on="root").sort("root", "i")
    out = out.select(
        "cluster_id", "account_id", "email", cluster_size="size", matched_account_id="matched_account_id",
        score="score", reason="reason", is_primary=c("i") == c("p_i"), primary_account_id="p_id",
        primary_reason="primary_reason", severity=pl.lit("medium"),
        evidence=pl.concat_str(
            [c("size").cast(pl.String), pl.lit(" accounts: "), c("listing"), pl.lit("; "), pair.fill_null(""),
             c("reason")]
        ),
        action="action",
    )  # fmt: skip
    schema = {name: _SQL_TYPES.get(kind, pl.Boolean) for name, kind in OUTPUT_COLUMNS.items()}
    return out.cast(schema)  # type: ignore[arg-type]
