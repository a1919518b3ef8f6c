"""Labelled synthetic accounts for judging duplicate_signups: people, their sign-ups, and the truth.

Why a generator of its own: the evaluation must not share the matcher's rules, or it would only measure
that the matcher agrees with itself. So this module never imports `audit`; it models how people sign up
and lets the hard cases arise the way they do in a real export:

* names are drawn from skewed pools (a few very common names, a long tail of rare ones), so different
  people share a name by chance, more often the larger the export;
* a mailbox can be taken: the generator keeps a registry per provider and a person whose preferred
  handle is taken gets digits appended, like real sign-up forms suggest (`john.smith27@gmail.com` is
  then a *different* John Smith);
* colleagues share a company domain and its address convention (`jsmith` / `ksmith`), families share a
  last name and a provider, and several colleagues sign up with one role mailbox (`billing@`);
* a duplicate sign-up is one person's second (or third) account, made by one named pattern
  (`PATTERNS`), with the noise real forms collect: missing or placeholder names, other case, accents
  dropped, nicknames, company written another way.

`generate(people, seed)` returns the accounts (export columns plus `person` and `pattern`); `pattern` of
an account is how it was derived from the person's first account (`first` for that one).
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from itertools import accumulate

_FIRST = """James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara Richard
Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa Anthony Betty Mark Sandra Donald
Ashley Steven Emily Paul Donna Andrew Michelle Joshua Carol Kevin Amanda Brian Melissa George Deborah
Maria José Juan Ana Luis Carmen Carlos Lucía Javier Sofía Diego Valentina Alejandro Camila Mateo Isabella
Wei Jing Li Hui Yan Ming Xin Lei Jun Fang Hiroshi Yuki Haruto Sakura Kenji Aiko Minh Linh Huong Thanh
Priya Rahul Amit Sunita Anil Deepa Vikram Ananya Arjun Kavya Rohan Neha Raj Pooja Sanjay Lakshmi
Mohammed Ahmed Fatima Omar Aisha Youssef Layla Hassan Mariam Ali Chinedu Ngozi Oluwaseun Amara Kwame Abena
Tunde Folake Emeka Zainab Lars Ingrid Sven Astrid Erik Freya Jan Anna Piotr Katarzyna Tomasz Magdalena
Olga Dmitri Ivan Natalia Sergei Elena Hans Ursula Klaus Greta Jürgen Sabine Pierre Camille Louis Chloé
Hugo Léa François Zoë Giulia Marco Francesca Luca Chiara Sean Siobhan Niamh Ciarán Aoife Mateus Thiago
Gabriela Rafael Beatriz João Noor Yusuf Emre Elif Mehmet Ayşe Kofi Efua Jae-won Min-jun Seo-yeon Ji-ho"""
_LAST = """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez
Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark
Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson
Baker Hall Rivera Campbell Mitchell Carter Roberts Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun
Kumar Singh Sharma Patel Gupta Reddy Iyer Rao Das Mehta Khan Ahmed Hussain Ali Rahman Kim Park Choi Jung
Tanaka Suzuki Sato Takahashi Watanabe Ito Tran Le Pham Hoang Müller Schmidt Schneider Fischer Weber
Meyer Wagner Becker Schulz Hoffmann Novák Kowalski Nowak Wiśniewski Ivanov Petrov Smirnov Popov Rossi
Russo Ferrari Esposito Bianchi Romano Dubois Durand Lefebvre Moreau Laurent Fontaine Silva Santos Oliveira
Souza Costa Pereira Murphy Kelly O'Brien Byrne Ryan O'Connor Walsh Larsen Hansen Johansson Andersson
Nielsen Berg Okafor Adeyemi Mensah Okonkwo Boateng Mwangi Haddad Nasser Yilmaz Kaya Demir Cohen Levi
García-López De la Cruz van der Berg"""
# Syllables for the long tail of names nobody else in the export has.
_SYL_TEXT = (
    "ka lo mi ran tor bel vik sa den mor ul fen ya zo qui nak ost ber lin gar wen tha rio dun esh pa chi vo"
)
_SYL = (*_SYL_TEXT.split(), "mar", "el")
_NICK = {
    "William": "Bill", "Robert": "Bob", "Elizabeth": "Liz", "Michael": "Mike", "Richard": "Rick",
    "Joseph": "Joe", "Thomas": "Tom", "Daniel": "Dan", "Matthew": "Matt", "Anthony": "Tony",
    "Jennifer": "Jen", "Patricia": "Pat", "Katarzyna": "Kasia", "Alejandro": "Alex", "Christopher": "Chris",
    "Margaret": "Maggie", "Steven": "Steve", "Andrew": "Andy", "Tomasz": "Tomek", "Dmitri": "Dima",
}  # fmt: skip
# (weight, domain, honours +tags, ignores dots): about a third of accounts use one of these.
WEBMAIL = (
    (30, "gmail.com", True, True), (8, "yahoo.com", False, False), (6, "outlook.com", True, False),
    (6, "hotmail.com", True, False), (4, "icloud.com", True, False), (2, "aol.com", False, False),
    (2, "gmx.de", False, False), (1, "web.de", False, False), (1, "protonmail.com", True, False),
    (1, "proton.me", True, False), (1, "fastmail.com", True, False), (1, "live.com", True, False),
    (1, "mail.ru", False, False), (1, "qq.com", False, False), (1, "yandex.ru", False, False),
    (1, "me.com", True, False), (1, "hotmail.co.uk", True, False), (1, "yahoo.co.uk", False, False),
)  # fmt: skip
_WEBMAIL_SHARE = 0.36
_TLDS = ("com", "com", "com", "io", "de", "co.uk", "org", "net", "dev", "fr", "nl", "com.br", "in", "ca")
_CO_WORDS_TEXT = """north wind acme globex initech umbrella stark wayne cyber dyne blue river stone bridge
quantum apex summit harbor cedar pine orbit nova lumen vertex pixel forge atlas delta echo granite silver
maple oak falcon kestrel raven tide coral ember polar solar lunar terra aero hydro metro urban"""
_CO_WORDS = _CO_WORDS_TEXT.split()
_CO_SUFFIX = ("", "", " Inc", " Inc.", " LLC", " Ltd", " GmbH", " Corp", " Corporation", " Group", " Labs",
              " AG", " S.A.", " B.V.", " Technologies", " Software", " Systems")  # fmt: skip
_CONVENTIONS = (("first.last", 45), ("flast", 20), ("first", 8), ("firstlast", 8), ("first_last", 5),
                ("f.last", 6), ("last.first", 3), ("firstl", 5))  # fmt: skip
_PERSONAL = (("first.last", 24), ("firstlast", 18), ("first_last", 6), ("first.lastNN", 10),
             ("firstlastNN", 10), ("flastNN", 8), ("handle", 14), ("first", 4), ("lastfirst", 3),
             ("f.last", 3))  # fmt: skip
ROLES = ("billing", "admin", "info", "support", "accounts", "finance", "it", "devops", "licensing", "ops")
_TAGS = ("gitlab", "portal", "work", "sub", "billing", "2024", "dev", "license")
_WORDS = ("sky", "wolf", "pixel", "ninja", "coder", "moon", "tiger", "blue", "dragon", "hack", "star",
          "rock", "jazz", "surf", "byte", "storm", "fox", "cloud", "neo", "zen")  # fmt: skip
_KEYS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_DOMAIN_TYPOS = {
    "gmail.com": ("gmial.com", "gmal.com", "gmail.co", "gmaill.com", "gnail.com", "gmail.cm"),
    "yahoo.com": ("yaho.com", "yahooo.com", "yahoo.co"),
    "hotmail.com": ("hotmial.com", "hotmal.com"),
    "outlook.com": ("outlok.com", "outllook.com"),
    "icloud.com": ("iclod.com", "icloud.co"),
}
# How a person's extra account differs from the first one, with how often each happens.
PATTERNS = {
    "case_space": 8, "plus_tag": 8, "gmail_dots": 6, "googlemail": 3, "separators": 12, "initial": 8,
    "local_typo": 10, "domain_typo": 6, "digits": 7, "work_personal": 10, "names_only_differ": 4,
    "unrelated_handle": 3,
}  # fmt: skip


@dataclass
class Account:
    """One row of the export plus its truth: `person` (who signed up) and `pattern` (how)."""

    id: int
    email: str
    first_name: str
    last_name: str
    company: str
    person: int
    pattern: str


@dataclass
class _Person:
    pid: int
    first: str
    last: str
    company: str  # employer as its own staff write it, "" when none
    domain: str  # the employer's mail domain, "" when none
    convention: str  # the employer's address convention


def _fold(text: str) -> str:
    """ASCII letters of a name as people type them into an address (José -> jose, O'Brien -> obrien)."""
    text = unicodedata.normalize("NFKD", text.replace("ß", "ss").replace("ø", "o").replace("ł", "l"))
    return "".join(c for c in text.lower() if c.isascii() and c.isalpha())


def _zipf(n: int, s: float) -> list[float]:
    return [1 / (k + 1) ** s for k in range(n)]


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.firsts, self.lasts = _FIRST.split(), [n.replace("_", " ") for n in _LAST.split()]
        self.lasts = [*self.lasts[:-4], "García-López", "De la Cruz", "van der Berg"]
        self.first_w, self.last_w = _zipf(len(self.firsts), 0.5), _zipf(len(self.lasts), 0.5)
        self.taken: set[str] = set()  # mailboxes already registered
        self.companies: list[tuple[str, str, str]] = []  # (name, domain, convention)
        self.company_cw: list[float] = []  # cumulative weights: one draw is a bisection, not a sum
        self.web_w = [w for w, *_ in WEBMAIL]
        self.first_cw, self.last_cw = list(accumulate(self.first_w)), list(accumulate(self.last_w))

    def name(self) -> tuple[str, str]:
        rng = self.rng
        first = rng.choices(self.firsts, cum_weights=self.first_cw)[0] if rng.random() < 0.9 else self.rare()
        last = rng.choices(self.lasts, cum_weights=self.last_cw)[0] if rng.random() < 0.55 else self.rare()
        return first, last

    def rare(self) -> str:
        return "".join(self.rng.choice(_SYL) for _ in range(self.rng.randint(2, 3))).capitalize()

    def company(self) -> tuple[str, str, str]:
        rng = self.rng
        if not self.companies or rng.random() < 0.12:  # a new company; the first ones grow largest
            words = rng.sample(_CO_WORDS, rng.choice((1, 2, 2)))
            base = "".join(words) + (rng.choice(("", "", "hq", "labs", "tech")) if rng.random() < 0.3 else "")
            domain = f"{base}{'-' + rng.choice(_CO_WORDS) if rng.random() < 0.05 else ''}.{rng.choice(_TLDS)}"
            name = " ".join(w.capitalize() for w in words) + rng.choice(_CO_SUFFIX)
            conv = rng.choices([c for c, _ in _CONVENTIONS], [w for _, w in _CONVENTIONS])[0]
            self.companies.append((name, domain, conv))
            self.company_cw.append(
                (self.company_cw[-1] if self.company_cw else 0) + 1 / len(self.companies) ** 0.6
            )
        return rng.choices(self.companies, cum_weights=self.company_cw)[0]

    def local(self, first: str, last: str, style: str) -> str:
        rng, f, ln = self.rng, _fold(first) or "x", _fold(last) or "y"
        nn = str(rng.randint(1, 99) if rng.random() < 0.6 else rng.randint(1960, 2006))
        forms = {
            "first.last": f"{f}.{ln}", "flast": f[0] + ln, "first": f, "firstlast": f + ln,
            "first_last": f"{f}_{ln}", "f.last": f"{f[0]}.{ln}", "last.first": f"{ln}.{f}",
            "firstl": f + ln[0], "first.lastNN": f"{f}.{ln}{nn}", "firstlastNN": f"{f}{ln}{nn}",
            "flastNN": f[0] + ln + nn, "lastfirst": ln + f,
            "handle": rng.choice(_WORDS) + rng.choice(_WORDS) + (nn if rng.random() < 0.7 else ""),
        }  # fmt: skip
        return forms[style]

    def register(self, local: str, domain: str, webmail: bool) -> str:
        """The address the provider lets this person have: digits or an initial when the handle is taken."""
        rng = self.rng
        for _ in range(50):
            key = self.key(local, domain)
            if key not in self.taken:
                self.taken.add(key)
                return f"{local}@{domain}"
            if webmail or rng.random() < 0.5:
                local = local.rstrip("0123456789") + str(rng.randint(1, 999))
            else:  # a colleague with the same name: a middle initial
                local = f"{local.split('.')[0]}.{rng.choice('abcdefghjklmnprstw')}.{local.split('.')[-1]}"
        return f"{local}{rng.randint(1000, 9999)}@{domain}"

    @staticmethod
    def key(local: str, domain: str) -> str:
        if domain in ("gmail.com", "googlemail.com"):
            return local.split("+")[0].replace(".", "") + "@gmail.com"
        return f"{local}@{domain}"

    def webmail(self) -> tuple[str, bool, bool]:
        _w, domain, tags, dots = self.rng.choices(WEBMAIL, self.web_w)[0]
        return domain, tags, dots


def _typo(rng: random.Random, text: str) -> str:
    """One keyboard slip: a neighbouring key, two swapped letters, a dropped or a doubled letter."""
    letters = [i for i, c in enumerate(text) if c.isalpha()]
    if len(letters) < 3:
        return text + rng.choice("aeiou")
    i = rng.choice(letters[1:])
    kind = rng.choice(("neighbour", "swap", "drop", "double"))
    if kind == "neighbour":
        row = next((r for r in _KEYS if text[i] in r), "aeiou")
        j = row.find(text[i])
        near = [row[k] for k in (j - 1, j + 1) if 0 <= k < len(row)] or ["e"]
        return text[:i] + rng.choice(near) + text[i + 1 :]
    if kind == "swap" and i + 1 < len(text) and text[i] != text[i + 1]:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind == "drop":
        return text[:i] + text[i + 1 :]
    return text[:i] + text[i] + text[i:]


def generate(people: int, seed: int = 7, dup_rate: float = 0.13) -> list[Account]:
    """Accounts of `people` people; about `dup_rate` of them signed up more than once."""
    g, out = _Gen(seed), list[Account]()
    rng = g.rng
    persons: list[tuple[_Person, str, str]] = []  # (person, first address, its kind: work/web/role)
    for pid in range(people):
        first, last = g.name()
        if persons and rng.random() < 0.08:  # a family member: same last name, often the same provider
            last = persons[-1][0].last
        if rng.random() < 1 - _WEBMAIL_SHARE:
            company, domain, conv = g.company()
            p = _Person(pid, first, last, company, domain, conv)
            if rng.random() < 0.04:
                email, kind = (
                    f"{rng.choice(ROLES)}@{domain}",
                    "role",
                )  # shared with colleagues: not registered
            else:
                email, kind = g.register(g.local(first, last, conv), domain, webmail=False), "work"
        else:
            company, co_domain, conv = g.company() if rng.random() < 0.3 else ("", "", "")
            p = _Person(pid, first, last, company, co_domain, conv)
            domain, _tags, _dots = g.webmail()
            style = rng.choices([c for c, _ in _PERSONAL], [w for _, w in _PERSONAL])[0]
            email, kind = g.register(g.local(first, last, style), domain, webmail=True), "web"
        persons.append((p, email, kind))
    names = list(PATTERNS)
    weights = list(PATTERNS.values())
    for p, email, kind in persons:
        out.append(_account(g, len(out), p, email, "first"))
        extra = 0 if rng.random() >= dup_rate else (1 if rng.random() < 0.85 else 2)
        for _ in range(extra):
            for _attempt in range(20):
                pattern = rng.choices(names, weights)[0]
                dup = _derive(g, p, email, kind, pattern)
                if dup is not None:
                    out.append(_account(g, len(out), p, dup, pattern))
                    break
    order = list(range(len(out)))
    rng.shuffle(order)  # account ids are not in person order
    for new_id, acc in zip(order, out, strict=True):
        acc.id = 1000 + new_id
    return sorted(out, key=lambda a: a.id)


def _derive(g: _Gen, p: _Person, email: str, kind: str, pattern: str) -> str | None:
    """The address of a second sign-up made by `pattern`, or None when the pattern cannot apply."""
    rng = g.rng
    local, domain = email.rsplit("@", 1)
    web = {d: (t, dots) for _w, d, t, dots in WEBMAIL}
    if kind == "role" and pattern not in ("case_space", "work_personal", "unrelated_handle"):
        return None
    if pattern == "case_space":
        variant = rng.choice((email.upper(), email.title(), f" {email}", f"{email} ", email.capitalize()))
        return variant if variant != email else None
    if pattern == "plus_tag":
        return f"{local}+{rng.choice(_TAGS)}@{domain}" if web.get(domain, (False,))[0] else None
    if pattern == "gmail_dots":
        if domain != "gmail.com":
            return None
        bare = local.replace(".", "")
        if "." in local:
            return f"{bare}@{domain}"
        if len(bare) < 4:
            return None
        cut = rng.randint(1, len(bare) - 1)
        return f"{bare[:cut]}.{bare[cut:]}@{domain}"
    if pattern == "googlemail":
        return f"{local}@googlemail.com" if domain == "gmail.com" else None
    if pattern == "separators":
        seps = [c for c in ".-_" if c in local]
        if not seps:
            return None
        new = rng.choice([s for s in (".", "_", "-", "") if s != seps[0]])
        return f"{local.replace(seps[0], new)}@{domain}"
    if pattern == "initial":
        f, ln = _fold(p.first), _fold(p.last)
        forms = {f"{f[:1]}{ln}", f"{f}.{ln[:1]}", f"{f[:1]}.{ln}", f"{f}{ln}", f"{f}.{ln}"} - {local}
        if (
            not f
            or not ln
            or local.rstrip("0123456789") not in {f"{f}.{ln}", f"{f}{ln}", f"{f}_{ln}", f[:1] + ln}
        ):
            return None
        return f"{rng.choice(sorted(forms))}@{domain}"
    if pattern == "local_typo":
        return f"{_typo(rng, local)}@{domain}" if len(local) >= 5 else None
    if pattern == "domain_typo":
        if domain in _DOMAIN_TYPOS:
            return f"{local}@{rng.choice(_DOMAIN_TYPOS[domain])}"
        name, _, tld = domain.partition(".")
        return f"{local}@{_typo(rng, name)}.{tld}" if kind == "work" and len(name) >= 5 else None
    if pattern == "digits":
        return f"{local}{rng.choice((str(rng.randint(1, 99)), str(rng.randint(1965, 2005))))}@{domain}"
    if pattern == "work_personal":  # the person's other address: work <-> personal, same way of writing it
        if kind == "web":
            if not p.domain:
                return None
            style = p.convention if rng.random() < 0.5 else "first.last"
            return g.register(g.local(p.first, p.last, style), p.domain, webmail=False)
        style = "first.last" if local.count(".") else rng.choice(("firstlast", "first.last", "first_last"))
        return g.register(g.local(p.first, p.last, style), g.webmail()[0], webmail=True)
    if pattern == "names_only_differ":  # same address, names typed otherwise (handled in _account)
        return email
    if pattern == "unrelated_handle":  # another address with nothing in common but the person
        return g.register(g.local(p.first, p.last, "handle"), g.webmail()[0], webmail=True)
    raise ValueError(pattern)


def _account(g: _Gen, index: int, p: _Person, email: str, pattern: str) -> Account:
    """An account row with the noise of a real form: names left out or written otherwise."""
    rng = g.rng
    first, last = p.first, p.last
    noisy = pattern != "first"
    if noisy and (pattern == "names_only_differ" or rng.random() < 0.15):
        change = rng.choice(("upper", "lower", "fold", "nick", "typo", "middle"))
        if change == "upper":
            first, last = first.upper(), last.upper()
        elif change == "lower":
            first, last = first.lower(), last.lower()
        elif change == "fold":
            first, last = _fold(first).capitalize() or first, _fold(last).capitalize() or last
        elif change == "nick":
            first = _NICK.get(first, first[:1] + ".")
        elif change == "typo" and len(last) >= 5:
            last = _typo(rng, last)
        elif change == "middle":
            first = f"{first} {rng.choice('ABCDEFGHJKLMNPRSTW')}."
    if rng.random() < 0.10:
        first = "" if rng.random() < 0.8 else rng.choice(("N/A", "-", "x", "test"))
    if rng.random() < 0.10:
        last = "" if rng.random() < 0.8 else rng.choice(("N/A", "-", "."))
    company = p.company if (p.domain and email.endswith(p.domain)) or rng.random() < 0.3 else ""
    if company and rng.random() < 0.5:
        company = rng.choice((company.upper(), company.split(" ")[0], company.lower(), company + ", Inc."))
    if rng.random() < 0.45:
        company = ""
    return Account(index, email, first, last, company, p.pid, pattern)
