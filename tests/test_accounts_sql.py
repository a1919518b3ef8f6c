"""The SQL conversions of the accounts export agree with the Python converters they stand in for.

Whatever SQL decides (certain rows) must be what accounts_rows.convert gives; anything else must be
left to Python (uncertain), never rejected or accepted differently.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.accounts_rows import convert, email_problem
from audit.accounts_sql import conversion_sql, email_problem_sql

COLUMNS = ["id", "email", "first_name", "created_at", "login_activated", "sign_in_count"]
POSITIONS = {c: i for i, c in enumerate(COLUMNS)}

digits = st.text("0123456789", min_size=1, max_size=3)
spaces = st.sampled_from(["", "", " ", "\t", "\x0b", "\xa0", "\u3000", "\x1c", "\n"])


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    y = draw(st.sampled_from(["2026", "0000", "0001", "9999", "1999", "26", "20261"]))
    mo = draw(st.sampled_from(["01", "02", "12", "13", "00", "1"]))
    d = draw(st.sampled_from(["01", "28", "29", "30", "31", "32", "1"]))
    text = f"{y}-{mo}-{d}"
    if draw(st.booleans()):
        sep = draw(st.sampled_from(["T", " ", "t", "x", "  "]))
        h = draw(st.sampled_from(["00", "09", "23", "24", "7"]))
        mi = draw(st.sampled_from(["00", "59", "60"]))
        s = draw(st.sampled_from([":00", ":59", ":60", "", ":5"]))
        frac = draw(st.sampled_from(["", ".1", ".25", ".123456", ".1234567", ",5", "."]))
        text += f"{sep}{h}:{mi}{s}{frac}"
    text += draw(
        st.sampled_from(
            ["", " UTC", "UTC", " utc", "Z", "z", " Z", "+02:00", "-05:30", "+0200", " +0200", " -02:00",
             "  +0200", "+24:00", "+02:60", "+02", " +02", "+00:00 UTC"]
        )
    )  # fmt: skip
    return draw(spaces) + text + draw(spaces)


integers = st.one_of(
    st.builds(
        lambda s, sign, d, t: s + sign + d + t, spaces, st.sampled_from(["", "+", "-", "--"]), digits, spaces
    ),
    st.sampled_from(
        ["1e3", "1_000", "١٢", "9" * 18, "9" * 19, str(2**63 - 1), str(-(2**63)), str(2**63), "0x1f", " ", ""]
    ),
)
booleans = st.builds(
    lambda s, w, t: s + w + t,
    spaces,
    st.sampled_from(["true", "TRUE", "t", "Yes", "y", "n", "No", "F", "0", "1", "2", "maybe", "", "ｔrue"]),
    spaces,
)
texts = st.one_of(st.sampled_from(["", " ", "\xa0", "\u2028", "Ana", " Bo "]), st.text(max_size=4))
emails = st.one_of(
    st.sampled_from(
        ["a@acme.com", " a@acme.com ", "a..b@acme.com", "a@b.c", "not an email", "o'brien+x@sub.acme.co.uk",
         "jos\xe9@acme.com", "a@acme.com\xa0", "a b@acme.com", "a@acme.com\t", "", "@acme.com", "a@acme..com",
         ".a@acme.com", " .a@acme.com", "a.@acme.com", "a.b.@acme.com", "a@acme.com.", "a\x01@acme.com"]
    ),
    st.text(alphabet="ab.@ -+\"", max_size=12),
)  # fmt: skip


def sql_rows(rows: list[list[str]]) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    con.register("src", pa.table({"start": list(range(len(rows))), "fields": rows}))
    return con.execute(
        f"SELECT * FROM ({conversion_sql('src', POSITIONS, COLUMNS)}) ORDER BY start"
    ).fetchall()


def check_agree(rows: list[list[str]]) -> None:
    for fields, got in zip(rows, sql_rows(rows), strict=True):
        record, problem = convert(fields, POSITIONS)
        certain = got[-1]
        if not certain:
            continue  # Python decides this row
        assert problem is None or problem[0] == "missing_id", (fields, problem)
        assert list(got[1:-1]) == [record.get(c) for c in COLUMNS], fields


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(integers, emails, texts, timestamps(), booleans, integers), min_size=1, max_size=30)
)
def test_sql_conversion_decides_only_what_python_decides_the_same_way(cells: list[tuple[str, ...]]) -> None:
    check_agree([list(c) for c in cells])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-04 10:11:12 UTC", dt.datetime(2026, 3, 4, 10, 11, 12)),
        ("2026-03-04T12:11:12+02:00", dt.datetime(2026, 3, 4, 10, 11, 12)),
        ("2026-03-04 12:11:12 +0200", dt.datetime(2026, 3, 4, 10, 11, 12)),
        ("2026-03-04T10:11:12.25Z", dt.datetime(2026, 3, 4, 10, 11, 12, 250000)),
        ("2026-03-04 05:11:12-05:00", dt.datetime(2026, 3, 4, 10, 11, 12)),
        ("2026-03-04", dt.datetime(2026, 3, 4)),
    ],
)
def test_the_usual_forms_are_decided_in_sql(text: str, expected: dt.datetime) -> None:
    (row,) = sql_rows([["1", "a@acme.com", "Ana", text, "true", "3"]])
    assert row[-1] is True and row[4] == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(emails, min_size=1, max_size=20))
def test_email_problems_in_sql_match_python(addresses: list[str]) -> None:
    con = duckdb.connect()
    values = [None if not a.strip() else a for a in addresses]
    con.register("e", pa.table({"i": list(range(len(values))), "email": pa.array(values, pa.string())}))
    got = con.execute(f"SELECT {email_problem_sql('email')} FROM e ORDER BY i").fetchall()
    for value, (sql,) in zip(values, got, strict=True):
        printable = value is None or all(" " <= ch <= "~" for ch in value)
        if printable:
            assert (None if sql is None else (sql["code"], sql["message"])) == email_problem(value), value
        else:
            assert sql is None  # left to the Python rule
