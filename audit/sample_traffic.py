"""Background Mailgun traffic for the bulk generator: notifications, receipts and newsletter blasts.

As in the small sample, customers only ever get mail that is delivered, so no check can fire on
noise; resets, bounces, complaints and suppressions go to outsiders (mailboxes of no portal account).
Volume is what the benchmark needs to be realistic: GitLab.com notifications dominate, the portal
sends fewer but more important mails, and marketing goes out in a few large blasts that share one
message-id, which is what `stg_messages` has to fold.
"""

from __future__ import annotations

import datetime as dt
import itertools

import polars as pl

from audit import sample_data as sd
from audit.sample_events import messages
from audit.sample_model import fold
from audit.sample_people import US_PER_DAY
from audit.sample_rng import Rng

# Share of individual (non-blast) messages per sending role, and how many of them go to customers.
ROLE_SHARE = {"gitlab": 0.76, "portal": 0.12, "other": 0.12}
CUSTOMER_SHARE = {"gitlab": 0.5, "portal": 0.8, "other": 0.5}
BLAST_SHARE = 0.12  # of all noise messages
BLAST_DAYS = (8, 5, 2)  # days before the as-of date with a newsletter blast at 15:00 UTC
# Relative mail volume by UTC hour: Europe's and America's working days overlap in the afternoon.
HOURS = (2, 2, 2, 2, 3, 4, 6, 8, 10, 11, 11, 10, 10, 11, 12, 12, 11, 10, 8, 6, 5, 4, 3, 2)
SUBJECTS = {"gitlab": sd.GITLAB_SUBJECTS, "portal": sd.PORTAL_SUBJECTS, "other": sd.MARKETING_SUBJECTS}
OUTSIDER_WEIGHTS = {
    "gitlab": (80, 6, 5, 3, 1, 0, 2),
    "portal": (80, 6, 5, 3, 0, 0, 2),
    "other": (80, 6, 5, 3, 1, 2, 2),
}
BLAST_WEIGHTS = (85, 3, 4, 3, 2, 3, 0)
OUTSIDER_FATES = list(sd.OUTSIDER_FATES)


def outsiders(rng: Rng, n: int, account_emails: pl.Series) -> pl.Series:
    """n mailboxes of no account (GitLab.com users, billing contacts); never an account's address."""
    want = int(n * 1.2) + 50
    # Folded once per name, not per row: Unicode normalisation of a million strings costs seconds.
    first = pl.lit(rng.choice(want, "out-first", [fold(x) for x in sd.FIRST_NAMES]))
    last = pl.lit(rng.choice(want, "out-last", [fold(x) for x in sd.LAST_NAMES]))
    domain = (
        pl.when(rng.uniform(want, "out-free") < 0.8)
        .then(pl.lit(rng.choice(want, "out-domain", sd.OTHER_MAIL)))
        .otherwise(pl.lit(rng.choice(want, "out-company", [c[1] for c in sd.COMPANIES])))
    )
    form = rng.integers(want, "out-form", 0, 2)
    number = rng.integers(want, "out-number", 1, 999).cast(pl.String)
    local = (
        pl.when(pl.lit(form) == 0)
        .then(first + "." + last)
        .when(pl.lit(form) == 1)
        .then(first + pl.lit(number))
        .otherwise(first.str.slice(0, 1) + last)
    )
    emails = pl.select(email=local + "@" + domain).to_series().unique(maintain_order=True)
    taken = account_emails.str.strip_chars().str.to_lowercase()
    return emails.filter(~emails.is_in(taken.implode())).head(n)


def _sent_at(rng: Rng, n: int, stream: str, end_us: int, span_days: int) -> pl.Series:
    day = rng.integers(n, f"{stream}:day", 1, span_days)
    hour = rng.index(n, f"{stream}:hour", HOURS)
    within = (rng.uniform(n, f"{stream}:within") * 3_600_000_000).cast(pl.Int64)
    return end_us - day * US_PER_DAY + hour * 3_600_000_000 + within


def _subjects(rng: Rng, n: int, stream: str, templates: pl.Series) -> pl.Series:
    project = rng.choice(n, f"{stream}:project", sd.PROJECTS)
    number = rng.integers(n, f"{stream}:number", 100, 99_999).cast(pl.String)
    filled = pl.lit(templates).str.replace("{p}", pl.lit(project), literal=True)
    return pl.select(filled.str.replace("{n}", pl.lit(number), literal=True)).to_series().alias("subject")


def noise(
    rng: Rng, k: int, customers: pl.DataFrame, mailboxes: pl.Series, end_us: int, span_days: int, batch: int
) -> pl.DataFrame:
    """About k noise messages; `customers` has (email, name) of accounts that may receive mail."""
    s = f"noise{batch}"
    n_blast = int(k * BLAST_SHARE)
    n = k - n_blast
    role = rng.choice(n, f"{s}:role", list(ROLE_SHARE), list(ROLE_SHARE.values()))
    u_customer = rng.uniform(n, f"{s}:customer")
    share = role.replace_strict(CUSTOMER_SHARE, return_dtype=pl.Float64)
    to_customer = u_customer < share
    # Active customers get more mail: the pick is skewed towards the front of a shuffled list.
    pick = (rng.uniform(n, f"{s}:who") ** 2 * customers.height).cast(pl.Int64)
    cust = customers.gather(pick)
    title = rng.uniform(n, f"{s}:case") < 0.06
    cust_email = pl.select(
        pl.when(title).then(cust["email"].str.to_titlecase()).otherwise(cust["email"])
    ).to_series()
    outsider = mailboxes.gather(rng.integers(n, f"{s}:outsider", 0, len(mailboxes) - 1))
    # Subject and fate are drawn as integer indices per role and turned into text by one gather each.
    specials = (sd.RESET, sd.RESET, sd.SUFFIXED_RESET, sd.CONFIRM)
    flat = [t for subjects in SUBJECTS.values() for t in subjects] + list(specials)
    offsets = dict(zip(SUBJECTS, itertools.accumulate([0, *map(len, SUBJECTS.values())]), strict=False))
    sizes = role.replace_strict({r: len(v) for r, v in SUBJECTS.items()}, return_dtype=pl.Int64)
    start = role.replace_strict(offsets, return_dtype=pl.Int64)
    subject_idx = start + (rng.uniform(n, f"{s}:subject") * sizes).floor().cast(pl.Int64)
    gets_special = ~to_customer & (role == "gitlab") & (rng.uniform(n, f"{s}:special") < 0.08)
    special_idx = len(flat) - len(specials) + rng.integers(n, f"{s}:reset", 0, len(specials) - 1)
    subject_idx = pl.select(pl.when(gets_special).then(special_idx).otherwise(subject_idx)).to_series()
    templates = pl.Series(flat).gather(subject_idx)
    fate_idx = pl.Series([0] * n, dtype=pl.Int64)
    for r, weights in OUTSIDER_WEIGHTS.items():
        drawn = rng.index(n, f"{s}:fate:{r}", weights)
        fate_idx = pl.select(pl.when(role == r).then(drawn).otherwise(fate_idx)).to_series()
    fate = pl.Series(OUTSIDER_FATES).gather(fate_idx)
    single = pl.DataFrame(
        {"role": role, "to_customer": to_customer, "cust_email": cust_email, "cust_name": cust["name"]}
    ).select(
        role=pl.col("role"),
        to=pl.when(pl.col("to_customer")).then(pl.col("cust_email")).otherwise(outsider),
        name=pl.when(pl.col("to_customer")).then(pl.col("cust_name")).otherwise(pl.lit("")),
        fate=pl.when(pl.col("to_customer")).then(pl.lit("delivered")).otherwise(fate),
    )
    single = messages(
        {
            **{c: single[c] for c in single.columns},
            "subject": _subjects(rng, n, s, templates),
            "sent": _sent_at(rng, n, s, end_us, span_days),
        }
    )
    return pl.concat([single, _blasts(rng, n_blast, customers, mailboxes, end_us, s)])


def _blasts(
    rng: Rng, n: int, customers: pl.DataFrame, mailboxes: pl.Series, end_us: int, s: str
) -> pl.DataFrame:
    """Newsletter sends: one message-id per blast, many recipients over two hours."""
    which = rng.integers(n, f"{s}:blast", 0, len(BLAST_DAYS) - 1)
    at = pl.Series([end_us - d * US_PER_DAY + 15 * 3_600_000_000 for d in BLAST_DAYS]).gather(which)
    sent = at + (rng.uniform(n, f"{s}:blast-at") * 7_200_000_000).cast(pl.Int64)
    stamps = [dt.datetime.fromtimestamp(end_us / 1e6 - d * 86_400 + 15 * 3_600, dt.UTC) for d in BLAST_DAYS]
    mids = pl.Series([f"{t:%Y%m%d%H%M%S}.newsletter@mg.about.gitlab.com" for t in stamps]).gather(which)
    to_customer = rng.uniform(n, f"{s}:blast-customer") < 0.5
    cust = customers.gather((rng.uniform(n, f"{s}:blast-who") * customers.height).cast(pl.Int64))
    outsider = mailboxes.gather(rng.integers(n, f"{s}:blast-outsider", 0, len(mailboxes) - 1))
    fate = rng.choice(n, f"{s}:blast-fate", OUTSIDER_FATES, BLAST_WEIGHTS)
    frame = pl.DataFrame({"c": to_customer, "e": cust["email"], "nm": cust["name"], "o": outsider, "f": fate})
    frame = frame.select(
        to=pl.when("c").then("e").otherwise("o"),
        name=pl.when("c").then("nm").otherwise(pl.lit("")),
        fate=pl.when("c").then(pl.lit("delivered")).otherwise("f"),
    )
    return messages(
        {
            "role": "other",
            "subject": sd.NEWSLETTER_SUBJECT,
            "sent": sent,
            "to": frame["to"],
            "name": frame["name"],
            "fate": frame["fate"],
            "mid": mids,
            "newsletter": True,
        }
    )
