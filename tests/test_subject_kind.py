"""SUBJECT_KIND's shortcuts (a first-character gate, exact configured subjects, a lowered-head gate)
give every subject the kind of the plain rule: the subject before " | ", trimmed and lowered, is a
configured reset subject, else a confirmation subject, else other."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from audit.config import Config
from audit.mailgun_sql import SUBJECT_KIND, bind, class_lists

RULE = """CASE WHEN list_contains($reset, lower(trim(split_part(subject, ' | ', 1)))) THEN 'password_reset'
     WHEN list_contains($confirm, lower(trim(split_part(subject, ' | ', 1)))) THEN 'confirmation'
     ELSE 'other' END"""
QUERY = f"SELECT subject, {SUBJECT_KIND} AS fast, {RULE} AS rule FROM (SELECT unnest($subjects) AS subject)"

# Letters of the configured subjects in both cases, blanks that trim() does and does not take, the bar,
# and code points whose case mapping is unusual.
PIECES = ["Re", "re", "RE", "set", "Set", "c", "C", "on", "Reset password instructions", " | ", "|", " ",
          "\t", "\n", "\x1c", "\x85", "\u2028", "\u00a0", "\u3000", "\u00c9", "\u00e9", "\u0130", "i",
          "\u0307", "\u212a", "k", "\u03a3", "\u03c3", "\u03c2", "\u00df", "\u1e9e", "x", ":"]  # fmt: skip
texts = st.lists(st.sampled_from(PIECES), max_size=6).map("".join)


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def kinds(con: duckdb.DuckDBPyConnection, cfg: Config, subjects: list[str]) -> list[tuple[str, str, str]]:
    params = class_lists(cfg) | {"subjects": subjects}
    return [tuple(row) for row in con.execute(QUERY, bind(QUERY, params)).fetchall()]


@settings(max_examples=300, deadline=None)
@given(
    reset=st.lists(texts, max_size=3),
    confirm=st.lists(texts, max_size=3),
    subjects=st.lists(texts, max_size=8),
)
@example(
    reset=["Reset password instructions"],
    confirm=["Confirmation instructions"],
    subjects=[
        "Reset password instructions",
        "Re: acme | x",
        "reset PASSWORD instructions | GitLab",
        "  Reset password instructions",
        "\u00a0Confirmation instructions",
        "Confirmation",
    ],
)
@example(reset=["FOO"], confirm=["foo"], subjects=["foo", "FOO", "Foo"])  # a reset subject comes first
@example(reset=["a | b"], confirm=["x"], subjects=["a | b", "a", "A | c"])  # configured with a bar
@example(reset=["ab"], confirm=[""], subjects=["", " ", "ab", "AB | x", "abc", "x"])  # short subjects
@example(reset=["\u0130x"], confirm=["k"], subjects=["\u0130x", "i\u0307x", "\u212a", "K"])
def test_the_shortcuts_give_every_subject_the_kind_of_the_plain_rule(
    con: duckdb.DuckDBPyConnection, reset: list[str], confirm: list[str], subjects: list[str]
) -> None:
    cfg = Config(reset_subjects=tuple(reset), confirmation_subjects=tuple(confirm))
    for subject, fast, rule in kinds(con, cfg, subjects):
        assert fast == rule, (subject, reset, confirm)


def test_the_default_subjects_are_listed_for_the_shortcuts(con: duckdb.DuckDBPyConnection) -> None:
    lists = class_lists(Config())
    assert lists["reset_exact"] == ["Reset password instructions"]
    assert lists["confirm_exact"] == ["Confirmation instructions"]
    assert (lists["head_len"], lists["kind_heads"]) == (3, ["con", "res"])
    rows = kinds(
        con, Config(), ["Reset password instructions", "Re: x | y", "Confirmation instructions | Portal"]
    )
    assert [fast for _, fast, _ in rows] == ["password_reset", "other", "confirmation"]
