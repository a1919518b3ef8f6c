"""Mailgun traffic of the small generator: one message's life as Mailgun logs it, and background noise.

A mixin of `audit.sample._Sample`, split out to keep modules short; every draw still comes from the
one seeded `self.rng` in the original order, so the committed sample stays byte-identical.
"""

from __future__ import annotations

import base64
import datetime as dt
import random
from dataclasses import replace
from typing import Any

from audit import sample_data as sd
from audit.sample_model import Account, fold, norm_local

ROLES = {"gitlab": "mg.gitlab.com", "portal": "customers.gitlab.com", "other": "mg.about.gitlab.com"}
UTC = dt.UTC


class SampleBase:
    """State shared by the account and mail halves of a generation run."""

    rng: random.Random
    as_of: dt.date
    end: dt.datetime
    start: dt.datetime
    events: list[tuple[dt.datetime, str, dict[str, Any]]]
    accounts: list[Account]

    def at(self, when: tuple[int, ...]) -> dt.datetime:
        """(days before as-of, hour, minute[, second]) in UTC; unspecified seconds are drawn."""
        days, hour, minute, *sec = when
        day = dt.datetime.combine(self.as_of - dt.timedelta(days=days), dt.time(hour, minute), UTC)
        second = sec[0] if sec else self.rng.randint(0, 59)
        return day + dt.timedelta(seconds=second, microseconds=self.rng.randint(0, 999_999))

    def between(self, lo: dt.datetime, hi: dt.datetime) -> dt.datetime:
        return lo + dt.timedelta(seconds=self.rng.randint(0, max(0, int((hi - lo).total_seconds()) - 1)))

    def old(self, lo_days: int = 60, hi_days: int = 1500) -> dt.datetime:
        return self.between(self.end - dt.timedelta(days=hi_days), self.end - dt.timedelta(days=lo_days))


class MailMixin(SampleBase):
    """Mailgun events: `send` one message, `noise` for the background."""

    def send(self, m: sd.Mail, t: dt.datetime) -> None:
        """One message's life as Mailgun logs it: accepted, then delivered / failed / opened / complained."""
        rng, domain, to = self.rng, ROLES[m.role], m.to
        rdomain = to.rsplit("@", 1)[1].lower()
        head = {
            "to": f"{m.name} <{to}>" if m.name else to,
            "message-id": m.message_id or f"{t:%Y%m%d%H%M%S}.{rng.getrandbits(64):016x}@{domain}",
            "from": sd.SENDERS[m.role],
            "subject": m.subject.format(p=rng.choice(sd.PROJECTS), n=rng.randint(100, 99_999)),
        }
        common: dict[str, Any] = {
            "recipient": to,
            "recipient-domain": rdomain,
            "tags": list(m.tags),
            "campaigns": [],
        }
        common["user-variables"] = {"campaign": m.tags[0]} if m.tags else {}
        sender, ip = f"bounce+{rng.getrandbits(24):06x}@{domain}", f"198.61.254.{rng.randint(2, 250)}"
        envelope = {"sender": sender, "targets": to, "transport": "smtp", "sending-ip": ip}
        message = {"headers": head, "attachments": [], "size": rng.randint(2_500, 60_000)}
        full = {"envelope": envelope, "flags": sd.MAILGUN_FLAGS, "message": message, **common}
        short = {"message": {"headers": {"message-id": head["message-id"]}}, **common}

        def emit(
            kind: str, when: dt.datetime, extra: dict[str, Any] | None = None, level: str = "info"
        ) -> None:
            if when < self.end:  # later events have not been exported yet
                ident = base64.urlsafe_b64encode(rng.getrandbits(128).to_bytes(16, "big")).decode()[:22]
                item = {"id": ident, "event": kind, "timestamp": when.timestamp(), "log-level": level}
                body = short if kind in ("opened", "clicked") else full
                self.events.append((when, domain, {**item, **(extra or {}), **body}))

        def status(code: int, text: str, attempt: int, description: str = "") -> dict[str, Any]:
            seconds = round(rng.uniform(0.05, 4.0), 3)
            mx = sd.MX_HOSTS.get(rdomain, f"mx1.{rdomain}")
            return {
                "code": code,
                "message": text,
                "description": description,
                "attempt-no": attempt,
                "mx-host": mx,
                "tls": True,
                "session-seconds": seconds,
            }

        def fail(when: dt.datetime, severity: str, reason: str, ds: dict[str, Any]) -> None:
            extra = {"severity": severity, "reason": reason, "delivery-status": ds}
            emit("failed", when, extra, "error" if severity == "permanent" else "warn")

        def later(lo: float, hi: float) -> dt.datetime:
            return t + dt.timedelta(seconds=rng.uniform(lo, hi))

        emit("accepted", t, {"method": "smtp"})
        attempt = 1
        if m.fate in sd.SUPPRESSIONS:
            reason, code, text = sd.SUPPRESSIONS[m.fate]
            return fail(later(0.01, 0.3), "permanent", reason, status(code, "", 1, text))
        if m.fate == "bounce":
            code, text = rng.choice(sd.BOUNCES)
            return fail(later(1, 8), "permanent", "bounce", status(code, text.format(r=to), 1))
        if m.fate in ("temp_only", "temp_then_delivered"):
            for attempt, delay in enumerate((2, 600, 2400, 7200)[: 4 if m.fate == "temp_only" else 1], 1):
                code, text = rng.choice(sd.TEMP_FAILURES)
                fail(later(delay, delay + 5), "temporary", "generic", status(code, text, attempt))
            if m.fate == "temp_only":
                return None
            attempt, t = attempt + 1, later(600, 1800)
        delivered = later(0.3, 25)
        emit("delivered", delivered, {"delivery-status": status(250, "OK", attempt)})
        if m.fate == "complained":
            emit("complained", delivered + dt.timedelta(hours=rng.uniform(1, 9)), level="warn")
        elif rng.random() < 0.35:
            opened = delivered + dt.timedelta(minutes=rng.uniform(1, 600))
            country, region, city = rng.choice(sd.CITIES)
            device, system, client = rng.choice(sd.CLIENTS)
            kind = "mobile browser" if device == "mobile" else "email client"
            info = {"client-type": kind, "client-os": system, "device-type": device, "client-name": client}
            geo = {"country": country, "region": region, "city": city}
            seen = {"ip": f"203.0.113.{rng.randint(1, 254)}", "geolocation": geo, "client-info": info}
            emit("opened", opened, seen)
            if rng.random() < 0.3:
                url = (
                    "https://customers.gitlab.com/"
                    if m.role == "portal"
                    else "https://gitlab.com/users/sign_in"
                )
                emit("clicked", opened + dt.timedelta(seconds=rng.uniform(3, 90)), {**seen, "url": url})
        return None

    def outsiders(self, n: int) -> list[str]:
        """Mailboxes of no portal account (GitLab.com users, billing contacts); never close to an account."""
        rng = self.rng
        taken = {
            (a.email.strip().lower().rsplit("@", 1)[1], norm_local(a.email.split("@")[0]))
            for a in self.accounts
        }
        out: dict[str, None] = {}
        while len(out) < n:
            first, last = fold(rng.choice(sd.FIRST_NAMES)), fold(rng.choice(sd.LAST_NAMES))
            domain = rng.choice(sd.OTHER_MAIL) if rng.random() < 0.8 else rng.choice(sd.COMPANIES)[1]
            local = rng.choice((f"{first}.{last}", f"{first}{rng.randint(1, 999)}", f"{first[0]}{last}"))
            if (domain, norm_local(local)) not in taken:
                out[f"{local}@{domain}"] = None
        return list(out)

    def noise(self, background: list[Account]) -> None:
        """Most events are traffic nobody should be flagged for: notifications, receipts, newsletters.

        Customers only ever get delivered mail; resets, bounces and complaints go to outsiders.
        """
        rng, outsiders = self.rng, self.outsiders(260)

        def customer() -> tuple[str, str]:
            acc = rng.choice(background)
            email = acc.email if rng.random() > 0.06 else acc.email.title()  # some in another case
            return email, f"{acc.first} {acc.last}"

        def outsider_fate(day: int, weights: tuple[int, ...]) -> str:
            fate = rng.choices(sd.OUTSIDER_FATES, weights)[0]
            return "delivered" if fate == "temp_only" and day else fate  # retries end within a day

        traffic = (
            ("gitlab", 40, 60, 0.5, sd.GITLAB_SUBJECTS),
            ("portal", 8, 14, 0.8, sd.PORTAL_SUBJECTS),
            ("other", 3, 6, 0.5, sd.MARKETING_SUBJECTS),
        )
        for day in range((self.end - self.start).days - 1, -1, -1):
            for role, lo, hi, share, subjects in traffic:
                for _ in range(rng.randint(lo, hi)):
                    t, subject = self.at((day, rng.randint(0, 23), rng.randint(0, 59))), rng.choice(subjects)
                    if rng.random() < share:
                        to, name = customer()
                        self.send(sd.Mail(role, subject, (), "delivered", to, name), t)
                        continue
                    if role == "gitlab" and rng.random() < 0.08:
                        subject = rng.choice((sd.RESET, sd.RESET, sd.SUFFIXED_RESET, sd.CONFIRM))
                    weights = (80, 6, 5, 3, 1 if role != "portal" else 0, 2 if role == "other" else 0, 2)
                    self.send(
                        sd.Mail(role, subject, (), outsider_fate(day, weights), rng.choice(outsiders)), t
                    )
        for day in (8, 2):  # newsletter blasts: one message-id, many recipients
            t = self.at((day, 15, 0, 0))
            mid = f"{t:%Y%m%d%H%M%S}.newsletter@{ROLES['other']}"
            blast = sd.Mail(
                "other", sd.NEWSLETTER_SUBJECT, (), "delivered", message_id=mid, tags=("newsletter",)
            )
            for _ in range(70):
                if rng.random() < 0.5:
                    to, name = customer()
                    mail = replace(blast, to=to, name=name)
                else:
                    fate = outsider_fate(day, (85, 3, 4, 3, 2, 3, 0))
                    mail = replace(blast, to=rng.choice(outsiders), fate=fate)
                self.send(mail, t + dt.timedelta(seconds=rng.uniform(0, 40)))
