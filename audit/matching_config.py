"""Thresholds of the duplicate_signups pass, apart from the pass itself.

Kept free of polars and duckdb so that loading a config (every command, `lookup` included) stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit import normalize as nz

_SCORES = ("min_score", "name_weight", "company_weight", "separator_score", "domain_typo_score", "typo_score",
           "digits_score", "name_pattern_score", "same_local_score", "rare_name_score")  # fmt: skip
_COUNTS = {
    "min_local_length": (1, 64), "typo_min_length": (1, 64), "window": (1, 1000),
    "max_name_typo_accounts": (0, 1_000_000_000),
}  # fmt: skip
_RATIOS = {  # 0 (1 for the ratio) .. max
    "max_namesakes": 1e6, "max_same_local_namesakes": 1e6, "max_common_namesakes": 1e6,
    "max_domain_namesakes": 1e6, "domain_typo_ratio": 1e6, "name_typo_ratio": 1e6,
}  # fmt: skip
_LISTS = ("plus_tag_domains", "public_domains", "role_local_parts")


@dataclass(frozen=True)
class MatchingConfig:
    """Thresholds of the duplicate_signups pass; every field is a plain TOML value with a default."""

    # A look-alike link is accepted at or above this score (same-inbox links always are).
    min_score: float = 0.9
    # Share of the gap to 1 that agreeing names close (half for an initial, short form or typo);
    # conflicting names take this share of the score off instead.
    name_weight: float = 0.5
    company_weight: float = 0.3  # the same for companies: "Acme Corp" and "Globex" overturn a look-alike
    separator_score: float = 0.95  # address evidence when local parts differ only in . _ - or a +tag
    domain_typo_score: float = 0.92  # ... only in a typo of the domain (gmial.com / gmail.com)
    typo_score: float = 0.9  # ... only in one typo: a letter swapped, mistyped, missing or doubled
    digits_score: float = 0.85  # ... only in trailing digits: below min_score, so names must agree
    name_pattern_score: float = 0.85  # ... both are forms of the shared name (jsmith / john.smith)
    same_local_score: float = 0.85  # same local part in two domains, same full name (work + personal)
    rare_name_score: float = 0.8  # same full name, found in no other domain, both addresses contain it
    # Expected other accounts with a full name ((first-name count - 1) x (last-name count - 1) / accounts,
    # the account itself left out): above this a name is too common to link accounts across domains (a
    # work and a personal address) ...
    max_namesakes: float = 0.01
    # ... a less rare one when both addresses have the same local part too (that is evidence of its own) ...
    max_same_local_namesakes: float = 0.02
    # ... even when the companies agree.
    max_common_namesakes: float = 0.3
    # Within one domain, namesakes x the domain's share of the accounts: above this a name does not lift
    # weak evidence (digits, a short typo, jsmith / john.smith, separators at free-mail) over min_score.
    max_domain_namesakes: float = 0.05
    # A name one letter from another (Jhon / John) is taken for its typo only while at most this many
    # accounts carry it, or the other is `name_typo_ratio` times commoner: names the export shows both in
    # use (Mark / Mary) are two names.
    max_name_typo_accounts: int = 2
    name_typo_ratio: float = 10.0
    min_local_length: int = 4  # shorter local parts are never compared by edit distance or digits
    typo_min_length: int = 9  # shorter ones one typo apart (jon.smith / jan.smith) need agreeing names
    # Plain look-alikes (jsmithson / ksmithson: one letter apart) link only when the names agree.
    similar_needs_names: bool = True
    window: int = 10  # a block with more members pairs each with this many next ones (sorted)
    domain_typo_ratio: float = 2.0  # a typo domain has at most 1/ratio of the accounts of the real one
    plus_tag_domains: tuple[str, ...] = nz.PLUS_TAG_DOMAINS  # deliver local+tag@ to local@
    public_domains: tuple[str, ...] = nz.PUBLIC_DOMAINS  # free-mail: look-alikes need agreeing names
    role_local_parts: tuple[str, ...] = nz.ROLE_LOCAL_PARTS  # shared mailboxes: never link on their own

    def __post_init__(self) -> None:
        for name in _LISTS:  # TOML gives lists; tuples keep the config hashable
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))

    def validate(self) -> None:
        """Raise ValueError naming the first bad field (TOML values arrive unchecked)."""
        for name in _SCORES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")
        for name, (low, high) in _COUNTS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
        for name in _LISTS:
            value = getattr(self, name)
            if not isinstance(value, tuple) or not all(isinstance(v, str) and v.strip() for v in value):
                raise ValueError(f"{name} must be a list of non-empty strings")
        for name, top in _RATIOS.items():
            ratio, bottom = getattr(self, name), 1 if name.endswith("_ratio") else 0
            if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not bottom <= ratio <= top:
                raise ValueError(f"{name} must be a number from {bottom} to {top:g}, got {ratio!r}")
        if self.min_score == 0:
            raise ValueError("min_score must be above 0, or every compared pair would link")
        if not isinstance(self.similar_needs_names, bool):
            raise ValueError(f"similar_needs_names must be true or false, got {self.similar_needs_names!r}")
