"""Write the deterministic sample data set: accounts.csv, Mailgun event dumps, audit.toml, expected.json.

The sample is what `make audit` runs on and what the end-to-end tests compare against, so it must be
(a) byte-identical for a seed, hence one seeded `random.Random`, no wall clock, gzip mtime 0 and sorted
output, and (b) honest about its ground truth: expected.json is built from the planted cases declared in
`audit.sample_data.PLANTS`, never by running a check. Background accounts are drawn far apart from each
other and from every planted account (names, local parts, initials) so no check fires by accident.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

from audit import sample_data as sd
from audit.errors import ConfigError
from audit.sample_data import Plant
from audit.sample_files import CHECKS, DUMP_NIGHTS, DUMP_SPAN_DAYS, _expected, _write_accounts, _write_dumps
from audit.sample_mail import UTC, MailMixin
from audit.sample_model import Account, Spread, fold, norm_local, within_edits

__all__ = ["CHECKS", "Account", "fold", "generate_sample", "norm_local", "within_edits"]
MIN_ACCOUNTS = len(sd.PLANTS) + 10  # the planted cases plus some background to send noise to


class _Sample(MailMixin):
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


def generate_sample(
    out_dir: Path,
    as_of: dt.date = dt.date(2026, 11, 20),
    seed: int = 7,
    n_accounts: int = 400,
    n_events: int | None = None,
    compress: bool = False,
) -> dict[str, list[int]]:
    """Write the sample into out_dir and return the planted ids per check (duplicate clusters flattened).

    Without `n_events` this is the small, hand-tuned generator that makes the committed sample. With it,
    the vectorised bulk generator (`audit.sample_bulk`) writes exactly `n_events` Mailgun events (plain
    .jsonl unless `compress`) for benchmarks at any size; both plant the same hand-made cases.
    """
    if n_events is not None:
        from audit.sample_bulk import MIN_BULK_ACCOUNTS, generate_bulk

        if n_accounts < MIN_BULK_ACCOUNTS or n_events < 0:
            raise ConfigError(f"a bulk sample needs at least {MIN_BULK_ACCOUNTS} accounts and events >= 0")
        return generate_bulk(out_dir, as_of, seed, n_accounts, n_events, compress)
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
