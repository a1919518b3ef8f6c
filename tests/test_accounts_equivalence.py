"""The SQL accounts loader gives exactly what the line-by-line loader gave: rows, rejects, accounting.

Exports are generated from awkward pieces (quoted and multi-line fields, unterminated quotes, blank
and whitespace-only lines, CR, NUL, overlong lines, bad values, duplicate ids, odd emails, other
encodings, gzip) and read with tiny blocks, so records cross block boundaries.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit import accounts_lines
from audit.accounts import load_accounts
from audit.config import Config
from audit.errors import AuditError
from audit.inputs import Rejects
from tests import accounts_reference

HEADER = "id,email,first_name,created_at,confirmed_at,login_activated,sign_in_count,company"
GOOD = "{i},u{i}@acme.com,Ana,2026-01-01 10:00:00 UTC,,true,3,Acme"
PIECES = [
    GOOD,
    GOOD,
    GOOD,
    "{i},U{i}@Acme.com , Bo,2026-03-04T12:11:12+02:00,2026-03-04 12:11:12 +0200,Yes,+7,",
    '{i},q{i}@acme.com,"Smith, Jo",2026-01-01,,f,0,"The ""Blue"" Co"',
    '{i},m{i}@acme.com,"Multi\nline",2026-01-01 10:00:00 UTC,,t,1,x',
    '{i},m{i}@acme.com,"Three\n\nlines, blank inside",2026-01-01 10:00:00 UTC,,t,1,x',
    '{i},o{i}@acme.com,O"Brien,2026-01-01 10:00:00 UTC,,n,1,x',
    '{i},x{i}@acme.com,"Bo,2026-01-01 10:00:00 UTC,,true,1,x',  # unterminated quote
    '{i},y{i}@acme.com,"Bo"x,2026-01-01 10:00:00 UTC,,true,1,x',  # bad_csv
    "",
    "   ",
    "\t\xa0",
    "\r",
    "{i},r{i}@acme.com,Ana,2026-01-01 10:00:00 UTC,,true,3,Acme\r",
    "{i},cr{i}@acme.com,A\rna,2026-01-01 10:00:00 UTC,,true,3,Acme",
    "{i},nul{i}@acme.com,A\x00na,2026-01-01 10:00:00 UTC,,true,3,Acme",
    "{i},a{i}@acme.com,Ana,2026-02-30 10:00:00 UTC,,true,3,Acme",
    "{i},b{i}@acme.com,Ana,2026-03-04 10:11,,true,3,Acme",  # no seconds: Python accepts it
    "{i},c{i}@acme.com,Ana,0000-01-01 10:00:00 UTC,,true,3,Acme",
    "{i},d{i}@acme.com,Ana,2026-01-01 10:00:00 UTC,,maybe,3,Acme",
    "x{i},e{i}@acme.com,Ana,2026-01-01 10:00:00 UTC,,true,3,Acme",
    ",f{i}@acme.com,Ana,2026-01-01 10:00:00 UTC,,true,3,Acme",
    "٣,g{i}@acme.com,Ana,2026-01-01 10:00:00 UTC,,true,١٢,Acme",  # Unicode digits: Python accepts them
    "7,dup@acme.com,Ana,2026-01-01 10:00:00 UTC,,true,3,Acme",  # the same id again and again
    "{i},,Ana,2026-01-01 10:00:00 UTC,,true,3,Acme",
    "{i},not an email,Ana,2026-01-01 10:00:00 UTC,,true,3,Acme",
    "{i},josé{i}@acme.com,José,2026-01-01 10:00:00 UTC,,true,3,Acme",
    "{i},a..b{i}@acme.com,Ana,2026-01-01 10:00:00 UTC,,true,3,Acme",
    "{i},h{i}@acme.com\xa0,Ana,2026-01-01 10:00:00 UTC,,true,3,Acme",
    "{i},s{i}@acme.com,Ana",  # field_count
    "{i},t{i}@acme.com,Ana,2026-01-01 10:00:00 UTC,,true,3,Acme,extra",
    "{i},l{i}@acme.com," + "L" * 1500 + ",2026-01-01 10:00:00 UTC,,true,3,Acme",  # overlong
    "{i},z{i}@acme.com,  ,2026-01-01 10:00:00 UTC  , ,  ,  , ",
]


def load(load_fn: Any, path: Path, cfg: Config) -> Any:
    con, rejects = duckdb.connect(), Rejects()
    try:
        stats = load_fn(con, cfg, path, rejects)
    except AuditError as exc:
        return ("error", type(exc).__name__, str(exc), exc.line)
    rows = con.execute("SELECT * FROM stg_accounts ORDER BY source_line").fetchall()
    return stats.to_json(), sorted(rejects.rows), rows


def compare(tmp_path: Path, data: bytes, name: str = "a.csv", **cfg: Any) -> Any:
    path = tmp_path / name
    path.write_bytes(data)
    config = Config(**({"reject_limit": 1.0, "max_line_bytes": 1024} | cfg))
    want = load(accounts_reference.load_accounts, path, config)
    got = load(load_accounts, path, config)
    assert got == want
    return got


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts_lines, "BLOCK_BYTES", 97)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    picks=st.lists(st.integers(0, len(PIECES) - 1), min_size=1, max_size=25),
    ending=st.sampled_from(["\n", "\r\n", ""]),
    bom=st.booleans(),
)
def test_generated_exports_load_exactly_as_before(
    tmp_path_factory: pytest.TempPathFactory, picks: list[int], ending: str, bom: bool
) -> None:
    lines = [HEADER] + [PIECES[p].format(i=100 + n) for n, p in enumerate(picks)]
    text = ("\ufeff" if bom else "") + ending.join(lines) + ending
    compare(tmp_path_factory.mktemp("eq"), text.encode("utf-8"))


def test_every_piece_once_plain_gzip_and_latin1(tmp_path: Path) -> None:
    lines = [HEADER] + [p.format(i=100 + n) for n, p in enumerate(PIECES + PIECES[-12:])]
    text = "\n".join(lines) + "\n"
    stats, rejects, _rows = compare(tmp_path, text.encode())
    assert {r[2] for r in rejects} >= {"unterminated_quote", "bad_csv", "line_too_long", "field_count",
                                        "bad_timestamp", "duplicate_id", "invalid_email"}  # fmt: skip
    compare(tmp_path, gzip.compress(text.encode(), mtime=0), "a.csv.gz")
    latin = text.replace("١٢", "12").replace("٣", "3").encode("latin-1", "replace")
    compare(tmp_path, latin, encoding="latin-1")
    assert stats["rows_read"] == len(PIECES) + 12 - 4 and stats["continuation_lines"] == 3


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n\n",
        (HEADER + "\n").encode(),
        ("\n \n" + HEADER + "\n" + GOOD.format(i=1) + "\n").encode(),
        (HEADER + "\n" + GOOD.format(i=1) + "\n\xff\xfe\n").encode("latin-1"),
        ("id,email,created_at\n" + GOOD.format(i=1) + "\n\xff\n").encode("latin-1"),
        b"\xff,id\n1,2\n",
        ('"' + HEADER + "\n" + GOOD.format(i=1) + "\n").encode(),
        ("x" * 2000 + "\n" + GOOD.format(i=1) + "\n").encode(),
        (HEADER + "\n" + GOOD.format(i=1) + "\n" + "y" * 3000).encode(),
        (HEADER + "\n" + GOOD.format(i=1) + "\n" + "\xff" * 2000 + "\n").encode("latin-1"),
    ],
)
def test_edge_files_fail_or_load_exactly_as_before(tmp_path: Path, data: bytes) -> None:
    compare(tmp_path, data)
    compare(tmp_path, data, allow_empty=True)


def test_a_truncated_gzip_after_a_bad_header_reports_the_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accounts_lines, "BLOCK_BYTES", 8 << 20)
    body = "".join(GOOD.format(i=i) + "\n" for i in range(30_000))  # > 1 MiB: gzip fails after the header
    data = gzip.compress(("id,email\n" + body).encode(), mtime=0)
    got = compare(tmp_path, data[:-12], "t.csv.gz")
    assert got[0] == "error" and "header lacks" in got[2]
    path = tmp_path / "u.gz"
    path.write_bytes(gzip.compress((HEADER + "\n" + GOOD.format(i=1) + "\n").encode())[:-12])
    for fn in (accounts_reference.load_accounts, load_accounts):  # (how many bytes it names: block size)
        got = load(fn, path, Config())
        assert got[:2] == ("error", "DataError") and "gzip data is truncated" in got[2]
