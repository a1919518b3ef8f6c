"""Which accounts a looked-up address belongs to, and the nearest known addresses when none does.

Why its own module: this is the one place where lookup decides "same customer", and it must agree with
the duplicate pass, so every decision goes through `audit.normalize` (mailbox rules, skeletons,
similarity). SQL only narrows a million accounts to a handful of candidates; every value it is given
is a bound parameter.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from audit import normalize as nz

NEAR_SIMILARITY = 0.8  # local parts at least this alike (same domain) are shown as "similar address"
SUGGESTIONS = 3  # nearest known addresses offered when nothing matches
SUGGEST_SIMILARITY = 0.7  # a likely typo; farther addresses are other customers, not worth showing
# How an account was found, strongest first (the order accounts are listed in).
MATCH_ORDER = ("exact", "same_mailbox", "gitlab_email", "pending_email", "similar")
ACCOUNT_COLUMNS = (
    "account_id, email, email_norm, first_name, last_name, company, created_at, confirmed_at, "
    "confirmation_sent_at, unconfirmed_email, last_sign_in_at, sign_in_count, provider, uid, "
    "gitlab_email, login_activated"
)


def match_accounts(
    con: duckdb.DuckDBPyConnection, query: str, plus_tag_domains: tuple[str, ...], min_local: int
) -> list[dict[str, Any]]:
    """Accounts with this address, its mailbox, a look-alike in the same domain, or it as GitLab.com email.

    SQL narrows a million accounts to a few candidates (same domain and a close skeleton, or an equal
    address in any address column); normalize.py then decides, so lookup and the duplicate pass agree
    on what "the same mailbox" means.
    """
    q_norm = query.lower()
    box = nz.mailbox(query, plus_tag_domains)
    domains = sorted(
        {box.written_domain, box.domain, *(a for a, to in nz.DOMAIN_ALIASES.items() if to == box.domain)}
        if box
        else set()
    )
    q_skel = box.skeleton if box else ""
    rows = con.execute(
        f"""
        WITH a AS (
            SELECT {ACCOUNT_COLUMNS},
                   rtrim(string_split(email_norm, '@')[-1], '.') AS dom,
                   regexp_replace(split_part(email_norm, '+', 1), '@.*$|[._-]', '', 'g') AS skel
            FROM state.accounts
        )
        SELECT * EXCLUDE (dom, skel) FROM a
        WHERE email_norm = $q
           OR lower(trim(gitlab_email)) = $q
           OR lower(trim(unconfirmed_email)) = $q
           OR (list_contains($domains, dom) AND length($skel) > 0 AND (skel = $skel
               OR damerau_levenshtein(skel, $skel) <= (1 - $near) * greatest(length(skel), length($skel))))
        ORDER BY account_id
        """,  # noqa: S608 - the column list is a constant; every value is a bound parameter
        {"q": q_norm, "domains": domains, "skel": q_skel, "near": NEAR_SIMILARITY},
    )
    names = [d[0] for d in rows.description or []]
    matches = []
    for values in rows.fetchall():
        row = dict(zip(names, values, strict=True))
        how = how_matched(row, q_norm, box, plus_tag_domains, min_local)
        if how is not None:
            matches.append(account_dict(row, *how))
    return sorted(matches, key=lambda a: (MATCH_ORDER.index(a["matched_by"]), a["account_id"]))


def how_matched(
    row: dict[str, Any], q_norm: str, box: nz.Mailbox | None, plus_tags: tuple[str, ...], min_local: int
) -> tuple[str, str, float | None] | None:
    """(matched_by, reason, similarity) for a candidate account, or None when it is not a match after all."""
    if row["email_norm"] == q_norm:
        return "exact", "this address", None
    other = nz.mailbox(row["email"], plus_tags)
    if box is not None and other is not None and other.canonical == box.canonical:
        return "same_mailbox", nz.mailbox_reason(box, other), None
    if (row["gitlab_email"] or "").strip().lower() == q_norm:
        return "gitlab_email", "this address is the email of the linked GitLab.com user", None
    if (row["unconfirmed_email"] or "").strip().lower() == q_norm:
        return "pending_email", "the account asked to change its email to this address (not confirmed)", None
    if box is None or other is None or other.domain != box.domain:
        return None
    if min(len(box.skeleton), len(other.skeleton)) < min_local:
        return None
    score = nz.similarity(box.skeleton, other.skeleton)
    if score < NEAR_SIMILARITY:
        return None
    return "similar", "check it is the same person", round(score, 3)


def account_dict(
    row: dict[str, Any], matched_by: str, reason: str, similarity: float | None
) -> dict[str, Any]:
    name = " ".join(p for p in (row["first_name"], row["last_name"]) if p) or None
    return {
        "account_id": row["account_id"],
        "email": row["email"],
        "matched_by": matched_by,
        "match_reason": reason,
        "similarity": similarity,
        "name": name,
        "company": row["company"],
        "created_at": iso(row["created_at"]),
        "confirmed": row["confirmed_at"] is not None,
        "confirmed_at": iso(row["confirmed_at"]),
        "confirmation_sent_at": iso(row["confirmation_sent_at"]),
        "unconfirmed_email": row["unconfirmed_email"],
        "last_sign_in_at": iso(row["last_sign_in_at"]),
        "sign_in_count": row["sign_in_count"],
        "login_activated": row["login_activated"],
        "gitlab": {
            "linked": bool(row["uid"]),
            "uid": row["uid"],
            "email": row["gitlab_email"],
            "provider": row["provider"],
        },
    }


def suggestions(con: duckdb.DuckDBPyConnection, query: str) -> list[dict[str, Any]]:
    """The nearest known account addresses, for a typo in the ticket; only reasonably close ones."""
    rows = con.execute(
        """
        SELECT account_id, email, 1 - damerau_levenshtein(email_norm, $q)
               / greatest(length(email_norm), length($q)) AS similarity
        FROM state.accounts WHERE email_norm IS NOT NULL
        ORDER BY similarity DESC, account_id LIMIT $n
        """,
        {"q": query.lower(), "n": SUGGESTIONS},
    ).fetchall()
    return [
        {"account_id": a, "email": e, "similarity": round(s, 3)}
        for a, e, s in rows
        if s >= SUGGEST_SIMILARITY
    ]


def iso(value: dt.datetime | dt.date | None) -> str | None:
    """A timestamp as ISO 8601 UTC with `Z` (naive values are UTC), a date as YYYY-MM-DD."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds") + "Z"
    return value.isoformat()
