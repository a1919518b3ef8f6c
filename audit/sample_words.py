"""Word lists that let the bulk generator invent surnames and companies beyond the hand-made pools.

A million accounts cannot all be drawn from the ~600 real surnames of `sample_data.POOLS` without
thousands of people sharing a full name and an address pattern, which the duplicate matcher would
(rightly) link. Surnames are therefore also made by joining the front of one real surname to the back
of another, and companies from two words and a top-level domain: enough distinct values that every
background account can keep a unique full name and a unique address, as in the small sample.
"""

from __future__ import annotations

import functools
import re

from audit import sample_data as sd
from audit.sample_model import fold

# fmt: off
COMPANY_WORDS_A = (
    "amber", "apex", "arc", "aster", "atlas", "aurora", "basalt", "beacon", "birch", "blue", "bolt",
    "bright", "cedar", "cinder", "clear", "cobalt", "copper", "coral", "crest", "crystal", "delta",
    "ember", "falcon", "fern", "flint", "forge", "golden", "granite", "harbor", "hazel", "helix",
    "indigo", "iron", "jade", "juniper", "keystone", "lark", "linden", "lumen", "maple", "meadow",
    "nimbus", "north", "oak", "onyx", "orbit", "pacific", "pine", "prism", "quartz", "raven", "ridge",
    "river", "sable", "sage", "silver", "spruce", "stone", "summit", "tidal", "vector", "willow",
)
COMPANY_WORDS_B = (
    "analytics", "apps", "bank", "bio", "cloud", "code", "consulting", "data", "dynamics", "energy",
    "engineering", "finance", "foods", "freight", "games", "health", "insurance", "labs", "legal",
    "logic", "logistics", "media", "medical", "metrics", "mobility", "networks", "partners", "pay",
    "robotics", "retail", "security", "semiconductor", "software", "solar", "studio", "systems",
    "telecom", "travel", "ventures", "works",
)
COMPANY_SUFFIXES = ("Inc.", "LLC", "Ltd", "GmbH", "B.V.", "S.A.", "AB", "Pty Ltd", "", "", "", "")
TLDS = ("com", "com", "com", "io", "dev", "net", "co.uk", "de", "fr", "nl", "com.au", "ca", "co.jp", "in")
# Conventions of company mail, weighted: most use first.last, some flast or first_last, few first only.
COMPANY_CONVENTIONS = (("first.last", 60), ("flast", 25), ("first_last", 8), ("first", 7))
FREE_CONVENTIONS = (
    ("first.last", 2), ("firstlast", 1), ("first_last", 1), ("flastNN", 1), ("f.lastNN", 1),
)
# fmt: on


def _split(name: str) -> tuple[str, str]:
    cut = (len(name) + 1) // 2
    return name[:cut], name[cut:].lower()


def synthetic_surnames() -> tuple[str, ...]:
    """Front half of one real surname + back half of another: ~300k plausible, mostly new surnames."""
    singles = [n for n in sd.LAST_NAMES if " " not in n and "'" not in n and len(n) >= 4]
    heads = sorted({_split(n)[0] for n in singles})
    tails = sorted({_split(n)[1] for n in singles if len(_split(n)[1]) >= 2})
    real = set(sd.LAST_NAMES)
    clumsy = re.compile(r"[^aeiouyáéíóúàèìòùäëïöüãõâêîôûåæøœ]{3}")  # "Subramrk": three consonants
    return tuple(
        h + t for h in heads for t in tails if h + t not in real and not clumsy.search((h + t).lower())
    )


def one_edit_keys(word: str) -> set[str]:
    """The word and its one-letter deletions: two words within one edit of each other share one."""
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


@functools.cache
def distinct_surnames() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(real, invented) surnames, every two at least two edits apart once folded (first come, first kept).

    "Gupta" and "Gupra", or "Okosen" and "Okoson", would be two people to the generator but one typo
    apart to a duplicate matcher, which may rightly link them; in a million accounts such pairs would
    be everywhere. Real surnames come first, so only invented ones are dropped, bar a few real pairs.
    """
    taken: set[str] = set()
    kept: tuple[list[str], list[str]] = ([], [])
    real = sorted(set(sd.LAST_NAMES))
    for group, names in enumerate((real, sorted(set(synthetic_surnames()) - set(real)))):
        for name in names:
            keys = one_edit_keys(fold(name))
            if not keys & taken:
                taken |= keys
                kept[group].append(name)
    return tuple(kept[0]), tuple(kept[1])


@functools.cache
def first_name_classes() -> dict[str, int]:
    """Folded first name -> class; names one edit apart ("qiang" / "quang") share a class (union-find)."""
    names = sorted({fold(n) for n in sd.FIRST_NAMES})
    parent = list(range(len(names)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, name in enumerate(names):
        for key in one_edit_keys(name):
            if key in owner:
                parent[root(i)] = root(owner[key])
            else:
                owner[key] = i
    return {name: root(i) for i, name in enumerate(names)}


def companies() -> tuple[tuple[str, str], ...]:
    """(name as typed, mail domain) of invented companies, in a fixed order."""
    out: list[tuple[str, str]] = []
    for i, a in enumerate(COMPANY_WORDS_A):
        for j, b in enumerate(COMPANY_WORDS_B):
            for k in range(3):
                tld = TLDS[(i * 7 + j * 3 + k * 5) % len(TLDS)]
                suffix = COMPANY_SUFFIXES[(i + j * 5 + k) % len(COMPANY_SUFFIXES)]
                name = f"{a.title()} {b.title()}" + (f" {suffix}" if suffix else "")
                sep = ("", "-", "")[k]
                out.append((name if k != 2 else f"{a.title()}{b}", f"{a}{sep}{b}.{tld}"))
    return tuple(dict.fromkeys(out))
