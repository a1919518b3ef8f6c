"""Write the deterministic sample data set: accounts.csv, Mailgun event dumps, audit.toml, expected.json.

The sample is what `make audit` runs on and what the end-to-end tests compare against, so it must be
(a) byte-identical for a seed, hence one seeded `random.Random`, no wall clock, gzip mtime 0 and sorted
output, and (b) honest about its ground truth: expected.json is built from the planted cases declared in
`audit.sample_data.PLANTS`, never by running a check. Background accounts are drawn far apart from each
other and from every planted account (names, local parts, initials) so no check fires by accident.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import gzip
import io
import json
import random
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from audit import sample_data as sd
from audit.errors import ConfigError
from audit.sample_data import Plant

ROLES = {"gitlab": "mg.gitlab.com", "portal": "customers.gitlab.com", "other": "mg.about.gitlab.com"}
DUMP_NIGHTS = 10  # one dump per night up to the as-of date ...
DUMP_SPAN_DAYS = 3  # ... each covering that day and the two before, so consecutive dumps overlap
CHECKS = (sd.U, sd.R, sd.D, sd.M, sd.B)
MIN_ACCOUNTS = len(sd.PLANTS) + 10  # the planted cases plus some background to send noise to
_FOLD = str.maketrans(sd.FOLD)
UTC = dt.UTC


def fold(text: str) -> str:
    """ASCII lower-case letters and digits only: how a name becomes an email local part."""
    text = unicodedata.normalize("NFKD", text.lower().translate(_FOLD))
    return "".join(c for c in text if c.isascii() and c.isalnum())


def norm_local(local: str) -> str:
    """Local part without case, +tag, separators and trailing digits: what a duplicate matcher may compare."""
    local = local.strip().lower().split("+", 1)[0]
    return "".join(c for c in local if c not in "._-").rstrip("0123456789")


def within_edits(a: str, b: str, limit: int = 2) -> bool:
    """Levenshtein distance of a and b is at most `limit` (banded, early exit)."""
    if abs(len(a) - len(b)) > limit:
        return False
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        if min(cur) > limit:
            return False
        prev = cur
    return prev[-1] <= limit


class Spread:
    """Remembers accounts and refuses a new one that a duplicate matcher could confuse with them.

    Accounts in the same `group` (a planted cluster or near-miss pair) are exempt from each other.
    """

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.locals: dict[str, str] = {}
        self.by_domain: dict[str, list[tuple[str, str, str, str]]] = {}

    def take(self, first: str, last: str, email: str, group: str = "") -> str | None:
        """Record the account and return None, or return why it is too close to one already taken."""
        local, domain = email.strip().lower().rsplit("@", 1)
        norm, name, key = norm_local(local), f"{fold(first)} {fold(last)}", fold(last) + fold(first)[:1]

        def other(owner: str | None) -> bool:
            return owner is not None and (not group or owner != group)

        if other(self.names.get(name)):
            return f"name {name!r}"
        if other(self.locals.get(norm)):
            return f"local part {norm!r}"
        for local2, norm2, key2, group2 in self.by_domain.get(domain, []):
            if other(group2) and (key == key2 or within_edits(local, local2) or within_edits(norm, norm2)):
                return f"{local!r} too close to {local2!r} at {domain}"
        self.names[name] = self.locals[norm] = group
        self.by_domain.setdefault(domain, []).append((local, norm, key, group))
        return None


@dataclass
class Account:
    first: str
    last: str
    email: str
    company: str
    created: dt.datetime
    confirmed: dt.datetime | None
    sent: dt.datetime | None  # confirmation_sent_at
    sign_in: dt.datetime | None
    billing: str = ""
    uid: str = ""
    gitlab_email: str = ""
    login: bool = True
    unconfirmed_email: str = ""
    tz: dt.timezone | None = None  # None: "YYYY-MM-DD HH:MM:SS UTC", else ISO with this offset
    plant: Plant | None = None
    id: int = 0


class _Sample:
    """One generation run: every random draw comes from `self.rng`, in a fixed order."""

    def __init__(self, as_of: dt.date, seed: int) -> None:
        self.rng = random.Random(seed)
        self.as_of = as_of
        self.end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), UTC)
        self.start = self.end - dt.timedelta(days=DUMP_NIGHTS + DUMP_SPAN_DAYS - 1)
        self.events: list[tuple[dt.datetime, str, dict[str, Any]]] = []
        self.accounts: list[Account] = []
        self.spread = Spread()
        self.uids: set[int] = set()

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

    # ---- accounts
    def account(
        self, p: Plant, created: dt.datetime, sign_in: dt.datetime | str | None = "random"
    ) -> Account:
        """A Devise-shaped row: confirmation sent at sign-up, confirmed minutes to days later."""
        rng = self.rng
        delay = dt.timedelta(minutes=rng.choice((2, 5, 20, 90, 600, 2900)) + rng.randint(0, 30))
        conf = min(created + delay, self.end - dt.timedelta(minutes=1)) if p.confirmed else None
        if sign_in == "random":
            sign_in = self.between(conf, self.end) if conf and rng.random() < 0.85 else None
        last = sign_in if isinstance(sign_in, dt.datetime) else None
        billing = f"{rng.getrandbits(128):032x}" if rng.random() < 0.55 else ""
        return Account(p.first, p.last, p.email, p.company, created, conf, created, last, billing)

    def link(self, acc: Account, gitlab_email: str = "") -> None:
        uid = self.rng.randint(40_000, 16_500_000)
        while uid in self.uids:
            uid += 1
        self.uids.add(uid)
        acc.uid, acc.gitlab_email = str(uid), gitlab_email or acc.email

    def plant(self, p: Plant) -> Account:
        """The account and mail of one planted case, timed exactly as the table says."""
        mails = [(m, self.at(m.when)) for m in p.mails]
        confirmations = [t for m, t in mails if m.role == "portal" and m.subject.startswith(sd.CONFIRM)]
        if p.created:
            created = self.at(p.created)
        elif confirmations and not p.confirmed:
            created = confirmations[0] - dt.timedelta(seconds=self.rng.randint(2, 9))
        else:
            created = self.old()
        sign_in: dt.datetime | str | None = "random"
        if p.sign_in == "never" or (p.sign_in == "random" and not p.confirmed):
            sign_in = None  # Devise refuses sign-in until confirmed
        elif not isinstance(p.sign_in, str):
            sign_in = self.at(p.sign_in)
        acc = self.account(p, created, sign_in)
        # Devise moves confirmation_sent_at on every resend; legacy rows without login never got one.
        acc.sent = max([created, *confirmations]) if p.login_activated or p.confirmed else None
        acc.plant, acc.login, acc.unconfirmed_email = p, p.login_activated, p.unconfirmed_email
        if p.tz:
            sign = -1 if p.tz[0] == "-" else 1
            acc.tz = dt.timezone(sign * dt.timedelta(hours=int(p.tz[1:3]), minutes=int(p.tz[4:6])))
        if p.linked:
            self.link(acc, p.gitlab_email)
        for m, t in mails:
            self.send(replace(m, to=m.to or p.email.strip(), name=f"{p.first} {p.last}"), t)
        return acc

    def local_part(self, first: str, last: str, convention: str) -> str:
        f, ln, rng = fold(first), fold(last), self.rng
        if convention == "free":
            convention = rng.choice(
                ("first.last", "first.last", "firstlast", "first_last", "flastNN", "f.lastNN")
            )
        nn = str(rng.randint(1, 99) if rng.random() < 0.7 else rng.randint(1960, 2004))
        forms = {"first.last": f"{f}.{ln}", "flast": f[0] + ln, "first": f, "first_last": f"{f}_{ln}"}
        forms |= {"firstlast": f + ln, "flastNN": f[0] + ln + nn, "f.lastNN": f"{f}.{ln}{nn}"}
        return forms[convention]

    def background(self, n: int) -> list[Account]:
        """Accounts that must trip no check: far apart, confirmed, only delivered mail to them."""
        rng, out = self.rng, list[Account]()
        pool_w, free_w, co_w = (
            [p[0] for p in sd.POOLS],
            [w for w, _ in sd.FREE_MAIL],
            [c[3] for c in sd.COMPANIES],
        )
        offsets = [dt.timezone(dt.timedelta(minutes=m)) for m in (120, -420, 540, 330, -180, 60)]
        for _ in range(200_000):
            if len(out) == n:
                return out
            _w, firsts, lasts = rng.choices(sd.POOLS, pool_w)[0]
            first, last = rng.choice(firsts), rng.choice(lasts if rng.random() < 0.85 else sd.LAST_NAMES)
            if rng.random() < 0.34:
                domain, conv = rng.choices([d for _, d in sd.FREE_MAIL], free_w)[0], "free"
                company = rng.choice(sd.COMPANIES)[0] if rng.random() < 0.4 else ""
            else:
                company, domain, conv, _w = rng.choices(sd.COMPANIES, co_w)[0]
            email = f"{self.local_part(first, last, conv)}@{domain}"
            if self.spread.take(first, last, email):
                continue
            recent = rng.random() < 0.05
            if recent:
                created = self.between(self.start, self.end - dt.timedelta(hours=4))
            else:
                created = self.old(12, 2600 if rng.random() < 0.5 else 700)
            acc = self.account(Plant("", "", False, first, last, email, company), created)
            if recent and acc.confirmed:  # sign-up inside the dumps: its confirmation mail is there too
                acc.confirmed = min(acc.confirmed, created + dt.timedelta(minutes=rng.randint(2, 200)))
                self.send(sd.Mail("portal", sd.CONFIRM, (), "delivered", email, first), created)
                welcome = sd.Mail(
                    "portal", "Welcome to the GitLab Customers Portal", (), "delivered", email, first
                )
                self.send(welcome, acc.confirmed + dt.timedelta(seconds=3))
            if created < self.end - dt.timedelta(days=2000) and rng.random() < 0.3:
                acc.sent = None  # rows from before the portal turned on confirmable
            if rng.random() < 0.4:
                self.link(acc)
            acc.tz = rng.choice(offsets) if rng.random() < 0.04 else None
            out.append(acc)
        raise RuntimeError("could not draw enough distinct background accounts")

    # ---- Mailgun events
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


def _ts(value: dt.datetime | None, tz: dt.timezone | None) -> str:
    """Rails' `to_s` form for most rows; ISO with an offset for rows another exporter touched."""
    if value is None:
        return ""
    value = value.replace(microsecond=0)
    return value.astimezone(tz).isoformat() if tz else f"{value:%Y-%m-%d %H:%M:%S} UTC"


def _gzip(data: bytes) -> bytes:
    """Reproducible gzip: no file name and mtime 0 in the header."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buf.getvalue()


def _expected(s: _Sample, seed: int) -> dict[str, Any]:
    """Ground truth straight from the planting table, with ids as they came out of the sort."""
    checks: dict[str, list[Any]] = {c: [] for c in CHECKS}
    clusters: dict[str, list[int]] = {}
    near: dict[str, list[int]] = {}
    cases: list[dict[str, Any]] = []
    for a in s.accounts:
        p = a.plant
        if p is None:
            continue
        case = {"id": a.id, "email": a.email, "check": p.check, "variant": p.variant, "flagged": p.flagged}
        extra = {"evidence": p.evidence, "also": list(p.also), "group": p.group if p.check == sd.D else ""}
        cases.append(case | {k: v for k, v in extra.items() if v})
        if not p.flagged:
            near.setdefault(p.variant, []).append(a.id)
        for check in (p.check, *p.also) if p.flagged else ():
            (clusters.setdefault(p.group, []) if check == sd.D else checks[check]).append(a.id)
    checks[sd.D] = sorted(clusters.values())
    window = [f"{s.end - dt.timedelta(days=days):%Y-%m-%dT%H:%M:%SZ}" for days in (7, 0)]
    return {
        "as_of": s.as_of.isoformat(),
        "seed": seed,
        "n_accounts": len(s.accounts),
        "reset_window": window,
        "checks": checks,
        "near_misses": dict(sorted(near.items())),
        "cases": sorted(cases, key=lambda c: (CHECKS.index(c["check"]), c["id"])),
    }


def _write_accounts(s: _Sample, path: Path) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(sd.CSV_HEADER.split(","))
    for a in s.accounts:
        stamps = [t for t in (a.created, a.confirmed, a.sent, a.sign_in) if t is not None]
        updated = max(stamps) + dt.timedelta(seconds=s.rng.randint(0, 172_800))
        updated = min(updated, s.end - dt.timedelta(seconds=1))
        count = s.rng.randint(1, 150) if a.sign_in else 0
        times = [_ts(t, a.tz) for t in (a.created, updated, a.confirmed, a.sent)]
        signed_in = [a.unconfirmed_email, _ts(a.sign_in, a.tz), count]
        linked = ["gitlab" if a.uid else "", a.uid, a.gitlab_email, str(a.login).lower(), a.billing]
        writer.writerow([a.id, a.email, a.first, a.last, a.company, *times, *signed_in, *linked])
    path.write_bytes(buf.getvalue().encode("utf-8"))


def _write_dumps(s: _Sample, root: Path) -> int:
    """One gzipped JSON-lines dump per domain and night; returns the number of lines written."""
    s.events.sort(key=lambda e: (e[0], e[2]["id"]))
    lines = 0
    for domain in ROLES.values():
        folder = root / domain
        folder.mkdir(parents=True, exist_ok=True)
        written = set()
        for k in range(DUMP_NIGHTS - 1, -1, -1):
            night = s.as_of - dt.timedelta(days=k)
            hi = dt.datetime.combine(night + dt.timedelta(days=1), dt.time(), UTC)
            lo = hi - dt.timedelta(days=DUMP_SPAN_DAYS)
            chunk = [
                json.dumps(e, ensure_ascii=False) + "\n"
                for t, d, e in s.events
                if d == domain and lo <= t < hi
            ]
            name = f"events-{night.isoformat()}.jsonl.gz"
            (folder / name).write_bytes(_gzip("".join(chunk).encode("utf-8")))
            lines += len(chunk)
            written.add(name)
        for stale in sorted(folder.glob("events-*.jsonl.gz")):
            if stale.name not in written:  # a dump from another as-of date would leak into the glob
                stale.unlink()
    return lines


def generate_sample(
    out_dir: Path, as_of: dt.date = dt.date(2026, 11, 20), seed: int = 7, n_accounts: int = 400
) -> dict[str, list[int]]:
    """Write the sample into out_dir and return the planted ids per check (duplicate clusters flattened)."""
    if n_accounts < MIN_ACCOUNTS:
        raise ConfigError(f"the sample needs at least {MIN_ACCOUNTS} accounts to hold its planted cases")
    s = _Sample(as_of, seed)
    for p in sd.PLANTS:
        problem = s.spread.take(p.first, p.last, p.email, p.group)
        if problem:
            raise ValueError(f"planted account {p.email!r} could be confused with another: {problem}")
        s.accounts.append(s.plant(p))
    background = s.background(n_accounts - len(s.accounts))
    s.accounts += background
    s.noise(background)
    s.accounts.sort(key=lambda a: (a.created, a.email))
    for i, a in enumerate(s.accounts, 1):
        a.id = i
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_accounts(s, out_dir / "accounts.csv")
    lines = _write_dumps(s, out_dir / "mailgun")
    expected = _expected(s, seed)
    table = "\n".join(
        f"| `{c['check']}` | {c['variant']} | {'flagged' if c['flagged'] else 'near miss'} | {c['id']} |"
        for c in expected["cases"]
    )
    counts = {"accounts": len(s.accounts), "events": len(s.events), "lines": lines, "nights": DUMP_NIGHTS}
    readme = sd.README.format(as_of=as_of, seed=seed, table=table, **counts)
    (out_dir / "expected.json").write_bytes(
        json.dumps(expected, indent=2, ensure_ascii=False).encode() + b"\n"
    )
    (out_dir / "audit.toml").write_bytes(sd.AUDIT_TOML.encode())
    (out_dir / "README.md").write_bytes(readme.encode())
    checks = dict(expected["checks"])
    checks[sd.D] = [i for cluster in checks[sd.D] for i in cluster]
    return {check: sorted(ids) for check, ids in checks.items()}
