"""The polars fast path of matching_features must compute exactly what the pure functions of normalize define."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import matching_features as mf
from audit import normalize as nz
from audit.matching import MatchingConfig

LOCAL_CHARS = st.sampled_from([*"abcdeJS.._-+19@", "é", "İ", "ß", "Σ", " ", "\x1c", "\u00a0", "\u2003", "\n"])
DOMAINS = st.sampled_from(
    [
        "gmail.com",
        "GoogleMail.com",
        "outlook.com",
        "acme.com",
        "acme.com.",
        "proton.me",
        "",
        "..",
        "x.",
        "GMAİL.com",
    ]
)
PADS = st.sampled_from(["", " ", "\t", "\x1c", "\u2003"])
EMAILS = st.one_of(
    st.builds(
        lambda local, domain, pad: f"{pad}{local}@{domain}{pad}",
        st.text(LOCAL_CHARS, max_size=12),
        DOMAINS,
        PADS,
    ),
    st.text(max_size=20),
    st.none(),
)
ROLES = frozenset(nz.skeleton(r) for r in nz.ROLE_LOCAL_PARTS)


@settings(max_examples=400, deadline=None)
@given(st.lists(EMAILS, min_size=1, max_size=12), st.sampled_from([nz.PLUS_TAG_DOMAINS, (), ("acme.com",)]))
def test_mailboxes_equal_the_pure_function(emails: list[str | None], plus: tuple[str, ...]) -> None:
    got = mf.mailboxes(pl.Series(emails, dtype=pl.String), plus).rows()
    for email, row in zip(emails, got, strict=True):
        box = nz.mailbox(email, plus)
        assert row == (tuple(box) if box else (None,) * len(mf.MAILBOX_COLUMNS)), email


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(st.sampled_from([*"billngadmit.-_+29 x", "é"]), max_size=14), min_size=1, max_size=12)
)
def test_role_locals_equal_the_pure_function(locals_: list[str]) -> None:
    locals_ = [local.lower() for local in locals_]
    stems = [nz.skeleton(local).rstrip(nz.DIGITS) for local in locals_]
    got = mf.role_locals(pl.Series(locals_, dtype=pl.String), pl.Series(stems, dtype=pl.String), ROLES)
    assert got.to_list() == [nz.is_role_local(local, ROLES) for local in locals_]


NAMES = st.sampled_from([None, "john", "smith", "j", "s", "jo", "johnsmith"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["jsmith", "johnsmith", "smithj", "john", "js", "", "x"]), NAMES, NAMES),
                min_size=1, max_size=10))  # fmt: skip
def test_name_forms_equal_the_pure_function(rows: list[tuple[str, str | None, str | None]]) -> None:
    frame = pl.DataFrame(rows, schema=dict.fromkeys(("stem", "first", "last"), pl.String), orient="row")
    got = frame.select(mf.name_forms(pl.col("stem"), pl.col("first"), pl.col("last"))).to_series()
    assert got.to_list() == [nz.built_from_name(*row) for row in rows]


@given(st.lists(st.one_of(st.none(), st.text(max_size=8)), max_size=10))
def test_by_value_calls_the_function_per_value(values: list[str | None]) -> None:
    got = mf.by_value(pl.Series(values, dtype=pl.String), nz.name_key)
    assert got.to_list() == [nz.name_key(v) if v is not None else None for v in values]


def test_domain_typos_map_rare_look_alikes_to_the_common_domain() -> None:
    domains = ["gmail.com"] * 5 + ["gmial.com", "gmail.co", "ymail.com", "acme.com", "acne.com", "mail.com"]
    public = MatchingConfig().public_domains
    typos = mf.domain_typos(pl.Series(domains), public, ratio=2.0)
    # ymail.com and mail.com are real providers; acme.com and acne.com are equally common
    assert typos == {"gmial.com": "gmail.com", "gmail.co": "gmail.com"}
    assert mf.domain_typos(pl.Series(["gmail.com", "gmial.com"]), public, ratio=2.0) == {
        "gmial.com": "gmail.com"
    }
    assert mf.domain_typos(pl.Series(["acme.com", "acme.co"]), public, ratio=2.0) == {}


@pytest.mark.parametrize(
    ("first", "last", "companies", "namesakes"),
    [
        pytest.param(
            "Ana", "Lima", 2, 1 * 1 / (2 + 1000), id="each account counts the other, over a floor of 1000"
        ),
        pytest.param("N/A", "Lima", 2, None, id="placeholder first name: no name"),
    ],
)
def test_features_name_frequency(first: str, last: str, companies: int, namesakes: float | None) -> None:
    accounts = pl.DataFrame(
        {"email": ["a@x.com", "b@y.com"], "first_name": [first] * 2, "last_name": [last] * 2,
         "company": ["Acme Corp."] * companies},
        schema=dict.fromkeys(("email", "first_name", "last_name", "company"), pl.String),
    )  # fmt: skip
    feats = mf.features(accounts, MatchingConfig())
    assert feats["namesakes"].to_list() == [namesakes, namesakes]
    assert feats["company"].to_list() == ["acme", "acme"]
    assert feats["org"].to_list() == ["x", "y"]
