"""Pure normalisation of email addresses and names for the duplicate-signup pass.

Two questions are kept apart on purpose:

* Which *mailbox* does an address reach? `canonical_mailbox` answers it: only rules a provider
  documents (case, surrounding spaces, plus-tags where honoured, dots in Gmail, googlemail.com) are
  applied, so two equal canonical forms really are one inbox.
* How *alike* do two addresses look? `skeleton` drops separators and any +tag on every domain; it is
  only evidence for the fuzzy pass, never proof, because on most domains `j.smith` and `jsmith` can
  be two people.

Nothing here reads or logs data: every function is a pure str -> value mapping, so it can be tested
with Hypothesis and reused by reports.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Collection
from functools import lru_cache
from typing import NamedTuple

from rapidfuzz.distance import OSA

GMAIL = "gmail.com"
DOMAIN_ALIASES = {"googlemail.com": GMAIL}  # second names of one mail system
# Providers that deliver `local+anything@domain` to `local@domain`.
PLUS_TAG_DOMAINS = (
    *("gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "icloud.com", "me.com"),
    *("protonmail.com", "proton.me", "fastmail.com"),
)
# Free-mail providers: anyone can sign up, so look-alike addresses there are often strangers.
PUBLIC_DOMAINS = (
    *PLUS_TAG_DOMAINS,
    *("msn.com", "yahoo.com", "ymail.com", "aol.com", "mac.com", "pm.me", "gmx.de", "gmx.net", "web.de"),
    *("mail.ru", "yandex.ru", "qq.com", "163.com", "126.com", "naver.com", "zoho.com", "mail.com"),
    *("email.com", "gmx.com", "gmx.at", "gmx.ch", "hotmail.co.uk", "hotmail.fr", "hotmail.de", "hotmail.it"),
    *("yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.co.jp", "yahoo.com.br", "live.co.uk", "outlook.de"),
    *("rediffmail.com", "tutanota.com", "hey.com", "inbox.com", "rambler.ru", "seznam.cz", "t-online.de"),
)
# Local parts of shared, function mailboxes: several people may sign up with one.
ROLE_LOCAL_PARTS = (
    *("admin", "administrator", "billing", "accounts", "accounting", "accountspayable", "ap", "finance"),
    *("info", "it", "office", "contact", "team", "noreply", "donotreply", "support", "sales", "help"),
    *("helpdesk", "hello", "hr", "legal", "marketing", "ops", "operations", "procurement", "purchasing"),
    *("security", "sysadmin", "webmaster", "postmaster", "hostmaster", "abuse", "devops", "licensing"),
    *("licenses", "orders", "invoices", "payments", "mail", "service", "services", "root", "dev"),
)
SEPARATORS = "._-"
DIGITS = "0123456789"
# Values people type when a form insists on a name; they must never count as two people agreeing.
PLACEHOLDER_NAMES = frozenset(
    ("na", "none", "null", "nil", "unknown", "test", "x", "xx", "xxx", "tbd", "user", "customer", "name")
)

# What `str.strip()` removes and `\s` matches: spelled out so the polars expressions use the same set.
# Every code point for which str.isspace() is true (what str.strip() removes); spelled out because
# computing it at import scans all of Unicode (0.2 s on every command). A test checks the list.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_SPACE = re.compile(r"\s")
_LETTERS = re.compile(r"[^\W\d_]+")  # runs of letters in any script
# Short forms of first names (key -> key of the full name): "Bob" and "Robert" are one person's names.
NICKNAMES = {
    **{"bob": "robert", "rob": "robert", "bobby": "robert", "robbie": "robert", "bill": "william"},
    **{"will": "william", "billy": "william", "liz": "elizabeth", "beth": "elizabeth"},
    **{"betty": "elizabeth", "eliza": "elizabeth", "mike": "michael", "mick": "michael", "rick": "richard"},
    **{"dick": "richard", "rich": "richard", "joe": "joseph", "joey": "joseph", "tom": "thomas"},
    **{"tommy": "thomas", "dan": "daniel", "danny": "daniel", "matt": "matthew", "tony": "anthony"},
    **{"jen": "jennifer", "jenny": "jennifer", "pat": "patricia", "patty": "patricia", "kate": "katherine"},
    **{"katie": "katherine", "kathy": "katherine", "cathy": "catherine", "chris": "christopher"},
    **{"alex": "alexander", "sasha": "alexander", "steve": "steven", "andy": "andrew", "drew": "andrew"},
    **{"jim": "james", "jimmy": "james", "jamie": "james", "dave": "david", "sam": "samuel"},
    **{"ben": "benjamin", "benny": "benjamin", "fred": "frederick", "frank": "francis"},
    **{"nick": "nicholas", "ed": "edward", "ted": "edward", "greg": "gregory", "jeff": "jeffrey"},
    **{"jon": "jonathan", "nate": "nathan", "pete": "peter", "sue": "susan", "meg": "margaret"},
    **{"maggie": "margaret", "peggy": "margaret", "kasia": "katarzyna", "tomek": "tomasz", "dima": "dmitri"},
    **{"sergey": "sergei", "misha": "mikhail", "pepe": "jose", "paco": "francisco", "nacho": "ignacio"},
}  # fmt: skip
# Legal forms and filler words that say nothing about which company it is.
_COMPANY_FILLER = frozenset(("the", "inc", "llc", "ltd", "gmbh", "corp", "co", "plc", "sa", "ag", "bv"))
PLACEHOLDER_COMPANIES = frozenset(
    (
        *("self", "selfemployed", "personal", "private", "none", "na", "freelance", "freelancer", "home"),
        *("individual", "student", "unemployed", "retired", "test", "company", "nocompany", "me"),
    )
)


class Mailbox(NamedTuple):
    """One address taken apart; every field is lower-case. (A tuple: a million are built per run.)"""

    canonical: str  # "local@domain" of the inbox that receives the mail
    domain: str  # canonical domain (googlemail.com -> gmail.com)
    written_domain: str  # domain as written, lower-cased
    local: str  # local part as written, lower-cased (tag and dots kept)
    tag: str  # text after the first '+' of the local part, '' when none
    skeleton: str  # local part without +tag and separators: what the fuzzy pass compares
    stem: str  # skeleton without trailing digits


def split_email(email: str | None) -> tuple[str, str] | None:
    """(local, domain), trimmed and lower-cased, or None when the value is not a usable address.

    The last '@' splits, because a quoted local part may itself contain '@'. Inner whitespace or an
    empty side means we cannot say which inbox it is, so such values never match anything.
    """
    if email is None:
        return None
    text = email.strip(WHITESPACE).lower()
    local, at, domain = text.rpartition("@")
    domain = domain.rstrip(".")
    if not at or not local or not domain or _SPACE.search(text):
        return None
    return local, domain


def canonical_domain(domain: str) -> str:
    """Lower-cased domain without a trailing dot, with aliases of one mail system folded together."""
    domain = domain.strip().lower().rstrip(".")
    return DOMAIN_ALIASES.get(domain, domain)


def strip_tag(local: str) -> str:
    """Local part before the first '+'; a local part that *starts* with '+' is kept whole (no base)."""
    base, plus, _ = local.partition("+")
    return base if plus and base else local


def skeleton(local: str) -> str:
    """Separator-free local part: `John.Smith+x`, `john_smith` and `johnsmith` all give `johnsmith`."""
    return _drop_separators(strip_tag(local.lower()))


def _drop_separators(text: str) -> str:
    return text.replace(".", "").replace("_", "").replace("-", "")  # 5x faster than str.translate


def canonical_mailbox(email: str | None, plus_tag_domains: Collection[str] = PLUS_TAG_DOMAINS) -> str | None:
    """The inbox an address reaches, as "local@domain", or None when it is not an address."""
    box = mailbox(email, plus_tag_domains)
    return box.canonical if box else None


def mailbox(email: str | None, plus_tag_domains: Collection[str] = PLUS_TAG_DOMAINS) -> Mailbox | None:
    """Take an address apart (see `Mailbox`); None when it is not a usable address."""
    parts = split_email(email)
    if parts is None:
        return None
    local, written = parts
    domain = canonical_domain(written)
    inbox = local
    if domain in plus_tag_domains or written in plus_tag_domains:
        inbox = strip_tag(inbox)
    if domain == GMAIL:
        inbox = inbox.replace(".", "")  # Gmail ignores dots in the local part
    if not inbox:
        return None
    base, plus, tag = local.partition("+")
    skel = skeleton(local)
    return Mailbox(
        canonical=f"{inbox}@{domain}",
        domain=domain,
        written_domain=written,
        local=local,
        tag=tag if plus and base else "",
        skeleton=skel,
        stem=skel.rstrip(DIGITS),
    )


@lru_cache(maxsize=65536)
def name_key(text: str | None) -> str | None:
    """Comparable form of a name: accents dropped, case folded, letters only; None for blanks/placeholders.

    `"José-María"` and `"jose maria"` both give `"josemaria"`. Cached because first and last names
    repeat a lot across a million accounts.
    """
    if not text:
        return None
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    key = "".join(_LETTERS.findall("".join(c for c in folded if not unicodedata.combining(c))))
    return key if key and key not in PLACEHOLDER_NAMES else None


def first_name_key(text: str | None) -> str | None:
    """`name_key` of the first word only, so "Mary Ann" and "Mary" compare as the same first name."""
    if name_key(text) is None:  # blank or a placeholder such as "N/A"
        return None
    words = _LETTERS.findall(text or "")
    return name_key(words[0]) if words else None


def company_key(text: str | None) -> str | None:
    """The first significant word of a company name: "ACME Corp." and "Acme Corporation" agree.

    People type their employer in many ways (`Globex`, `Globex Systems GmbH`, `globex systems`), so only
    the first word is a reliable key; a placeholder (`self`, `N/A`, `freelance`) says nothing.
    """
    if not text:
        return None
    keys = (name_key(w) for w in text.replace("&", " ").split())
    words = [w for w in keys if w and w not in _COMPANY_FILLER]
    if not words or "".join(words) in PLACEHOLDER_COMPANIES or words[0] in PLACEHOLDER_COMPANIES:
        return None
    return words[0]


def nickname_key(first: str | None) -> str | None:
    """A first-name key with common short forms mapped to the full name (bob -> robert)."""
    return NICKNAMES.get(first, first) if first else None


def built_from_name(stem: str, first: str | None, last: str | None) -> bool:
    """Whether a local part is one of the usual forms of the person's name (jsmith, john.smith, smithj ...).

    Two accounts whose local parts are both such forms of one agreeing name are strong evidence of one
    person even when the strings themselves are far apart (`jsmith` vs `john.smith`).
    """
    if not first or not last or not stem:
        return False
    forms = {first + last, last + first, first[0] + last, last + first[0], first + last[0], first, last}
    return stem in forms


def is_role_local(local: str, roles: Collection[str]) -> bool:
    """Whether a local part names a function (billing@, it-support@) rather than a person.

    `roles` holds skeletons (no separators). A local part is a role when its digit-free skeleton is one,
    or every word of it is one (`billing.admin`).
    """
    base = strip_tag(local.lower())
    if _drop_separators(base).rstrip(DIGITS) in roles:
        return True
    if base.isalnum():
        return False
    words = [w for w in (w.rstrip(DIGITS) for w in base.replace("_", ".").replace("-", ".").split(".")) if w]
    return len(words) > 1 and all(w in roles for w in words)


def similarity(a: str, b: str) -> float:
    """Similarity of two skeletons in [0, 1]: 1 - OSA distance / longer length.

    OSA counts a transposition (`jonh` / `john`) as one edit, which is the commonest typo in addresses.
    """
    return float(OSA.normalized_similarity(a, b))


def local_similarity(a: str, b: str) -> float:
    """Similarity of two local parts after reducing both to their skeletons."""
    return similarity(skeleton(a), skeleton(b))


def mailbox_reason(a: Mailbox, b: Mailbox) -> str:
    """Which provider rule makes two addresses of one inbox (equal `canonical`) the same."""
    if (a.local, a.written_domain) == (b.local, b.written_domain):
        return "same address apart from case and spaces"
    differs = {"dots": strip_tag(a.local) != strip_tag(b.local), "the +tag": a.tag != b.tag}
    steps = [step for step, differ in differs.items() if differ]
    text = "same Gmail mailbox" if a.domain == GMAIL else "same mailbox"
    text += " after removing " + " and ".join(steps) if steps else ""
    if a.written_domain != b.written_domain:
        text += f" ({a.written_domain if a.written_domain != a.domain else b.written_domain} is {a.domain})"
    return text


def display_email(email: str | None) -> str:
    """An email exactly as exported, JSON-quoted only when spaces or control characters would hide it."""
    if email is not None and email == email.strip() and email.isprintable():
        return email
    return json.dumps(email, ensure_ascii=False)


def _doubled_letter(a: str, b: str) -> bool:
    """Whether one string is the other with one letter doubled (`gonzalezz` / `gonzalez`)."""
    long, short = (a, b) if len(a) > len(b) else (b, a)
    return len(long) == len(short) + 1 and any(
        long[i] == long[i + 1] and long[:i] + long[i + 1 :] == short for i in range(len(long) - 1)
    )


def is_typo(local_a: str, local_b: str) -> bool:
    """Whether two local parts differ by one typo inside a word: a letter swapped, mistyped, missing or extra.

    The first and last letters are excluded (unless a letter is doubled), and so is a change of a one-letter
    word: that is where
    address conventions put initials (`jsmith` / `ksmith`, `patricial` / `patriciaf`, `john.a.smith` /
    `john.b.smith`), so a difference there is more often a second person than a slip of the finger.
    """
    a, b = skeleton(local_a), skeleton(local_b)
    if a == b or OSA.distance(a, b) != 1:
        return False
    head = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    tail = next((i for i, (x, y) in enumerate(zip(a[::-1], b[::-1], strict=False)) if x != y), 0)
    if (head == 0 or tail == 0) and not _doubled_letter(a, b):
        return False
    return not initials_differ(local_a, local_b)


def initials_differ(local_a: str, local_b: str) -> bool:
    """Whether two local parts differ only in a one-letter word: `john.a.smith` / `john.b.smith`.

    Companies tell colleagues of one name apart by a middle initial, so this is a second person.
    """
    words_a, words_b = (re.split(r"[._-]+", strip_tag(local.lower())) for local in (local_a, local_b))
    changed = [(x, y) for x, y in zip(words_a, words_b, strict=False) if x != y]
    return len(words_a) == len(words_b) > 1 and len(changed) == 1 and min(map(len, changed[0])) <= 1
