"""The small generator's building blocks: name folding, the spread check that keeps background apart, Account.

Split from `audit.sample` so the generator class reads as the story of one sample; the bulk generator
reuses `fold` and `norm_local` (vectorised twins live in `audit.sample_people`).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass

from audit import sample_data as sd
from audit.sample_data import Plant

_FOLD = str.maketrans(sd.FOLD)


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
