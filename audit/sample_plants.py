"""Problems planted at realistic rates on bulk background accounts, with the mail that shows them.

Every planted row carries `check`, `variant`, `flagged` (must the check report it, or is it a near
miss?), `also` (a second check that must report it) and `group` (duplicate cluster). expected.json
is read off these columns, so the ground truth is what was planted, never what a check returned.
The variants mirror the hand-made ones in `sample_data.PLANTS`; rates are per background account.
"""

from __future__ import annotations

import polars as pl

from audit import sample_data as sd
from audit.sample_events import messages
from audit.sample_people import US_PER_DAY, US_PER_MIN
from audit.sample_rng import Rng
from audit.sample_traffic import SUBJECTS, _subjects

HOUR = 60 * US_PER_MIN
# (check, flagged) -> share of background accounts; variants -> weights.
RATES = {
    (sd.U, True): 0.03,
    (sd.R, True): 0.003,
    (sd.R, False): 0.004,
    (sd.M, True): 0.008,
    (sd.M, False): 0.004,
    (sd.B, True): 0.006,
    (sd.B, False): 0.004,
}
VARIANTS = {
    (sd.U, True): {
        "never_seen_old_signup": 50,
        "confirmation_delivered": 30,
        "confirmation_bounced": 8,
        "confirmation_failed_temporarily": 7,
        "confirmation_suppressed": 5,
    },
    (sd.R, True): {
        "reset_in_window_never_signed_in": 30,
        "reset_in_window_signed_in_before": 55,
        "reset_subject_suffix": 15,
    },
    (sd.R, False): {"reset_then_signed_in": 50, "reset_before_window": 25, "reset_from_portal_only": 25},
    (sd.M, True): {
        "different_address": 50,
        "plus_tag_variant": 25,
        "same_local_part_other_domain": 15,
        "different_address_upper_case": 10,
    },
    (sd.M, False): {"gitlab_email_case_only": 50, "gitlab_email_spaces_only": 50},
    (sd.B, True): {
        "bounced": 35,
        "bounced_after_earlier_delivery": 20,
        "suppress_bounce_605": 15,
        "complained": 15,
        "suppress_complaint_607": 7,
        "suppress_unsubscribe_606": 8,
    },
    (sd.B, False): {
        "bounce_then_later_delivery": 50,
        "temporary_failures_only": 25,
        "temporary_failure_then_delivered": 25,
    },
}
B_FATES = {"bounced": "bounce", "bounced_after_earlier_delivery": "bounce", "complained": "complained"}
B_FATES |= {"suppress_bounce_605": "suppress_bounce", "suppress_complaint_607": "suppress_complaint"}
B_FATES |= {"suppress_unsubscribe_606": "suppress_unsubscribe", "temporary_failures_only": "temp_only"}
B_FATES |= {"temporary_failure_then_delivered": "temp_then_delivered", "bounce_then_later_delivery": "bounce"}
U_FATES = {"confirmation_delivered": "delivered", "confirmation_bounced": "bounce"}
U_FATES |= {"confirmation_failed_temporarily": "temp_only", "confirmation_suppressed": "suppress_bounce"}
OTHER_MAILBOXES = ("gmail.com", "proton.me", "fastmail.com", "hey.com", "posteo.de")


class Planter:
    """Plants on one background frame; `clock` is (dump start, window start, end) in microseconds."""

    def __init__(self, rng: Rng, start: int, window: int, end: int) -> None:
        self.rng, self.start, self.window, self.end = rng, start, window, end
        self.mail: list[pl.DataFrame] = []

    def u(self, part: pl.DataFrame, stream: str) -> pl.Series:
        return self.rng.uniform(part.height, stream)

    def between(self, part: pl.DataFrame, stream: str, lo: int | pl.Series, hi: int | pl.Series) -> pl.Series:
        return (lo + self.u(part, stream) * (hi - lo)).cast(pl.Int64)

    def send(
        self,
        part: pl.DataFrame,
        role: str | pl.Series,
        subject: str | pl.Series,
        at: pl.Series,
        fate: str | pl.Series,
    ) -> None:
        """One message per row of `part`, to its email."""
        name = part["first"] + " " + part["last"]
        cols = {
            "role": role,
            "subject": subject,
            "sent": at,
            "fate": fate,
            "to": part["email"].str.strip_chars(),
        }
        self.mail.append(messages(cols | {"name": name}))

    def plant(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Assign categories to non-recent rows and apply each; returns the frame with the plant columns."""
        u = self.rng.uniform(frame.height, "category")
        cat = pl.lit("", pl.String)
        acc = 0.0
        for (check, flagged), rate in RATES.items():
            lo, acc = acc, acc + rate
            name = f"{check}:{int(flagged)}"
            cat = pl.when(~pl.col("recent") & (u >= lo) & (u < acc)).then(pl.lit(name)).otherwise(cat)
        frame = frame.with_columns(
            cat=cat, check=pl.lit(""), variant=pl.lit(""), flagged=False, also=pl.lit(""), group=pl.lit("")
        )
        out = [self.lifecycle_mail(frame.filter(pl.col("cat") == ""))]
        for (check, flagged), variants in VARIANTS.items():
            part = frame.filter(pl.col("cat") == f"{check}:{int(flagged)}")
            v = self.rng.index(part.height, f"variant:{check}:{flagged}", list(variants.values()))
            part = part.with_columns(
                check=pl.lit(check), flagged=pl.lit(flagged), variant=pl.Series(list(variants)).gather(v)
            )
            out.append(getattr(self, check)(part, flagged))
        return pl.concat(out, how="vertical_relaxed")

    def lifecycle_mail(self, part: pl.DataFrame) -> pl.DataFrame:
        """Sign-ups inside the dumps: their confirmation and welcome mails are in the dumps too."""
        recent = part.filter(pl.col("recent"))
        self.send(recent, "portal", sd.CONFIRM, recent["created"], "delivered")
        welcome = "Welcome to the GitLab Customers Portal"
        self.send(recent, "portal", welcome, recent["confirmed"] + 3_000_000, "delivered")
        return part

    def unconfirmed_accounts(self, part: pl.DataFrame, _flagged: bool) -> pl.DataFrame:
        at = self.between(part, "u:at", self.start, self.end - HOUR)
        mailed = pl.col("variant") != "never_seen_old_signup"
        part = part.with_columns(
            created=pl.when(mailed)
            .then(at - self.rng.integers(part.height, "u:lead", 2, 9) * 1_000_000)
            .otherwise("created"),
            sent=pl.when(mailed).then(at).otherwise("created"),
            confirmed=None,
            sign_in=None,
            sign_in_count=0,
            also=pl.when(pl.col("variant").is_in(["confirmation_bounced", "confirmation_suppressed"]))
            .then(pl.lit(sd.B))
            .otherwise(pl.lit("")),
        )
        mails = part.with_columns(at=at).filter(mailed)
        suffix = self.u(mails, "u:suffix") < 0.2
        subject = pl.select(
            pl.when(suffix).then(pl.lit(sd.CONFIRM + " | Customers Portal")).otherwise(pl.lit(sd.CONFIRM))
        ).to_series()
        self.send(mails, "portal", subject, mails["at"], mails["variant"].replace_strict(U_FATES))
        return part

    def gitlab_password_resets(self, part: pl.DataFrame, flagged: bool) -> pl.DataFrame:
        variant = pl.col("variant")
        before = variant == "reset_before_window"
        at = part.select(
            pl.when(before)
            .then(self.between(part, "r:before", self.start + HOUR, self.window - HOUR))
            .otherwise(self.between(part, "r:at", self.window, self.end - 3 * HOUR))
        ).to_series()
        never = (variant == "reset_in_window_never_signed_in") | (variant == "reset_from_portal_only")
        earlier = pl.col("confirmed") + ((pl.lit(at) - pl.col("confirmed")) * self.u(part, "r:earlier")).cast(
            pl.Int64
        )
        later = pl.lit(at) + self.rng.integers(part.height, "r:later", 5, 120) * US_PER_MIN
        part = part.with_columns(
            sign_in=pl.when(never)
            .then(None)
            .when(variant == "reset_then_signed_in")
            .then(later)
            .when(before)
            .then("sign_in")
            .otherwise(earlier),
        ).with_columns(
            sign_in_count=pl.when(pl.col("sign_in").is_null())
            .then(0)
            .otherwise(pl.max_horizontal("sign_in_count", 1))
        )
        suffix = (variant == "reset_subject_suffix") | (self.u(part, "r:suffix") < 0.1)
        subject = part.select(pl.when(suffix).then(pl.lit(sd.SUFFIXED_RESET)).otherwise(pl.lit(sd.RESET)))
        portal = variant == "reset_from_portal_only"
        role = part.select(pl.when(portal).then(pl.lit("portal")).otherwise(pl.lit("gitlab")))
        self.send(part, role.to_series(), subject.to_series(), at, "delivered")
        return part

    def email_mismatches(self, part: pl.DataFrame, flagged: bool) -> pl.DataFrame:
        variant, local, domain = pl.col("variant"), pl.col("local"), pl.col("domain")
        digits = self.rng.integers(part.height, "m:digits", 1, 99).cast(pl.String)
        other = pl.lit(self.rng.choice(part.height, "m:mailbox", OTHER_MAILBOXES))
        elsewhere = pl.col("f") + pl.col("l").str.slice(0, 1) + pl.lit(digits) + "@" + other
        label = domain.str.split(".").list.first()
        moved = (
            local
            + "@"
            + label
            + pl.when(domain.str.ends_with(".com")).then(pl.lit(".net")).otherwise(pl.lit(".com"))
        )
        gitlab = (
            pl.when(variant == "different_address")
            .then(elsewhere)
            .when(variant == "plus_tag_variant")
            .then(local + "+gitlab@" + domain)
            .when(variant == "same_local_part_other_domain")
            .then(moved)
            .when(variant == "different_address_upper_case")
            .then(elsewhere.str.to_uppercase())
            .when(variant == "gitlab_email_case_only")
            .then(pl.col("email").str.to_uppercase())
            .otherwise(" " + pl.col("email") + " ")
        )
        return part.with_columns(uid=pl.col("uid_spare"), gitlab_email=gitlab)

    def undeliverable_emails(self, part: pl.DataFrame, flagged: bool) -> pl.DataFrame:
        n = part.height
        role = self.rng.choice(n, "b:role", list(SUBJECTS), (60, 20, 20))
        templates = pl.Series([""] * n)
        for r, subjects in SUBJECTS.items():
            drawn = self.rng.choice(n, f"b:subject:{r}", subjects)
            templates = pl.select(pl.when(role == r).then(drawn).otherwise(templates)).to_series()
        subject = _subjects(self.rng, n, "b", templates)
        # A complaint comes up to 9 hours after delivery and must be in the dumps, hence the 10 hours.
        at = self.between(part, "b:at", self.start + 2 * US_PER_DAY, self.end - 10 * HOUR)
        self.send(part, role, subject, at, part["variant"].replace_strict(B_FATES))
        earlier = part.filter(pl.col("variant") == "bounced_after_earlier_delivery")
        ahead = self.rng.integers(earlier.height, "b:earlier", 1, 47) * HOUR
        at_e = at.filter(part["variant"] == "bounced_after_earlier_delivery") - ahead
        self.send(
            earlier,
            "gitlab",
            "{p} | Your pipeline has failed".replace("{p}", sd.PROJECTS[0]),
            at_e,
            "delivered",
        )
        later = part.filter(pl.col("variant") == "bounce_then_later_delivery")
        at_l = (
            at.filter(part["variant"] == "bounce_then_later_delivery")
            + self.rng.integers(later.height, "b:later", 1, 3) * HOUR
        )
        self.send(later, "portal", "Your invoice INV1042 is ready", at_l, "delivered")
        return part
