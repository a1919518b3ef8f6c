"""Loading the accounts export and Mailgun dumps: mapping by header, UTC handling, rejects, accounting."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.accounts import load_accounts, parse_timestamp
from audit.config import Config, EventsInput
from audit.errors import DataError, InputError
from audit.inputs import Rejects
from audit.lineblocks import LineHash, Overlong, line_blocks, split_lines, strip_cr
from audit.mailgun import load_events
from audit.rawlines import RawFile

HEADER = "id,email,first_name,last_name,created_at,confirmed_at,last_sign_in_at,login_activated,sign_in_count"


def write(path: Path, text: str, gz: bool = False) -> Path:
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def rejects_of(con: duckdb.DuckDBPyConnection, rejects: Rejects) -> list[tuple[Any, ...]]:
    rejects.register(con)
    return con.execute("SELECT line, code FROM stg_rejects ORDER BY line").fetchall()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-04 10:11:12 UTC", dt.datetime(2026, 3, 4, 10, 11, 12)),
        ("2026-03-04T12:11:12+02:00", dt.datetime(2026, 3, 4, 10, 11, 12)),
        ("2026-03-04T10:11:12.250Z", dt.datetime(2026, 3, 4, 10, 11, 12, 250000)),
        ("2026-03-04 05:11:12-05:00", dt.datetime(2026, 3, 4, 10, 11, 12)),
        ("2026-03-04 10:11:12", dt.datetime(2026, 3, 4, 10, 11, 12)),
    ],
)
def test_timestamps_with_offsets_are_converted_to_utc(text: str, expected: dt.datetime) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("gz", [False, True])
def test_accounts_load_with_rejects_and_physical_lines(tmp_path: Path, gz: bool) -> None:
    text = (
        f"{HEADER}\n"
        "1,ana@acme.com,Ana,Lima,2026-01-01 10:00:00 UTC,,,true,0\n"
        '2,bo@acme.com,"Bo\nMulti-line",Chen,2026-01-01T12:00:00+02:00,2026-01-02 10:00:00 UTC,,false,3\n'
        "\n"
        "3,cy@acme.com,Cy,Dee,yesterday,,,true,1\n"
        "4,di@acme.com,Di,Ray,2026-01-01 10:00:00 UTC,,,maybe,1\n"
        "5,ed@acme.com,Ed\n"
        "x6,fi@acme.com,Fi,Oh,2026-01-01 10:00:00 UTC,,,true,1\n"
        "7,,Gu,Li,2026-01-01 10:00:00 UTC,,,,\n"
    )
    path = write(tmp_path / ("a.csv.gz" if gz else "a.csv"), text, gz)
    con, rejects = duckdb.connect(), Rejects()
    stats = load_accounts(con, Config(reject_limit=1.0), path, rejects)
    assert (stats.rows_read, stats.rows_loaded, stats.rows_rejected, stats.blank_lines) == (7, 3, 4, 1)
    assert (stats.lines, stats.header_lines, stats.continuation_lines) == (10, 1, 1)
    rows = con.execute(
        "SELECT account_id, email, email_norm, first_name, created_at, login_activated, source_line "
        "FROM stg_accounts ORDER BY account_id"
    ).fetchall()
    assert rows == [
        (1, "ana@acme.com", "ana@acme.com", "Ana", dt.datetime(2026, 1, 1, 10), True, 2),
        (2, "bo@acme.com", "bo@acme.com", "Bo\nMulti-line", dt.datetime(2026, 1, 1, 10), False, 3),
        (7, None, None, "Gu", dt.datetime(2026, 1, 1, 10), None, 10),
    ]
    assert rejects_of(con, rejects) == [
        (6, "bad_timestamp"),
        (7, "bad_boolean"),
        (8, "field_count"),
        (9, "bad_integer"),
    ]
    # kept, and listed in the data-quality report instead
    assert con.execute("SELECT line, code FROM stg_data_quality").fetchall() == [(10, "empty_email")]


def test_columns_are_mapped_by_header_name_in_any_order(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.csv", "Signed Up,Customer ID,E-mail,Confirmed\n2026-01-01 10:00:00 UTC,9,z@acme.com,\n"
    )
    cfg = Config(
        columns={
            "Customer ID": "id",
            "E-mail": "email",
            "Signed Up": "created_at",
            "Confirmed": "confirmed_at",
        }
    )
    con = duckdb.connect()
    load_accounts(con, cfg, path, Rejects())
    assert con.execute("SELECT account_id, email, confirmed_at FROM stg_accounts").fetchall() == [
        (9, "z@acme.com", None)
    ]


@pytest.mark.parametrize(
    ("text", "error", "fragment"),
    [
        ("id,email,created_at\n1,a@b.c,2026-01-01\n", DataError, "confirmed_at"),
        ("id;email;created_at;confirmed_at\n1;a@b.c;2026-01-01;\n", DataError, "looks ';'-separated"),
        ("id,email,email,created_at,confirmed_at\n", DataError, "repeats column(s): email"),
        ("", InputError, "is empty"),
        (f"{HEADER}\n", InputError, "no rows"),
    ],
)
def test_broken_accounts_exports_stop_the_run(tmp_path: Path, text: str, error: type, fragment: str) -> None:
    path = write(tmp_path / "a.csv", text)
    with pytest.raises(error) as info:
        load_accounts(duckdb.connect(), Config(), path, Rejects())
    assert fragment in str(info.value)
    assert str(path) in str(info.value)


def test_non_utf8_accounts_stop_the_run_unless_the_encoding_is_configured(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(
        f"{HEADER}\n1,jos\xe9@acme.com,Jos\xe9,X,2026-01-01 10:00:00 UTC,,,true,1\n".encode("latin-1")
    )
    with pytest.raises(DataError, match="not valid utf-8") as info:
        load_accounts(duckdb.connect(), Config(), path, Rejects())
    assert info.value.line == 2 and "jos" not in str(info.value)
    con = duckdb.connect()
    load_accounts(con, Config(encoding="latin-1"), path, Rejects())
    assert con.execute("SELECT first_name FROM stg_accounts").fetchall() == [("José",)]


def test_fake_gzip_stops_the_run(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv.gz", f"{HEADER}\n")
    with pytest.raises(DataError, match="not gzip"):
        load_accounts(duckdb.connect(), Config(), path, Rejects())


def item(eid: str, event: str = "delivered", ts: float = 1763630000.5, **extra: Any) -> str:
    body = {
        "id": eid,
        "event": event,
        "timestamp": ts,
        "recipient": "Ana@Acme.com",
        "message": {"headers": {"subject": "Reset password instructions | GitLab", "message-id": "m1@x"}},
        "delivery-status": {"code": 250, "description": "", "message": "OK"},
    }
    body.update(extra)
    return json.dumps(body)


def test_events_load_dedupe_and_reject_with_line_numbers(tmp_path: Path) -> None:
    day1 = write(tmp_path / "d1.jsonl.gz", "\n".join([item("a"), item("b", "accepted"), ""]) + "\n", gz=True)
    day2 = write(
        tmp_path / "d2.jsonl",
        "\n".join(
            [
                item("b", "accepted"),  # 1 duplicate of day 1
                "not json",  # 2
                "[1, 2]",  # 3
                json.dumps({"id": "c", "event": "failed"}),  # 4 missing timestamp
                item("d", ts=12.0),  # 5 impossible timestamp
                "",  # 6 blank
                item("e", recipient=""),  # 7 empty recipient
                item("f", "failed", severity="Permanent", reason="bounce"),  # 8
            ]
        )
        + "\n",
    )
    con, rejects = duckdb.connect(), Rejects()
    cfg = Config(reject_limit=1.0)
    stats = load_events(con, cfg, (EventsInput("mg.gitlab.com", str(tmp_path / "d*")),), rejects)
    assert [
        (s.path, s.rows_read, s.rows_loaded, s.rows_rejected, s.rows_duplicate, s.blank_lines) for s in stats
    ] == [(str(day1), 2, 2, 0, 0, 1), (str(day2), 7, 1, 5, 1, 1)]
    assert rejects_of(con, rejects) == [
        (2, "not_json"),
        (3, "not_object"),
        (4, "missing_timestamp"),
        (5, "bad_timestamp"),
        (7, "missing_recipient"),
    ]
    rows = con.execute(
        "SELECT event_id, domain, domain_role, event, recipient_norm, mail_kind, severity, event_at "
        "FROM stg_events ORDER BY event_id"
    ).fetchall()
    assert rows == [
        (
            "a",
            "mg.gitlab.com",
            "gitlab",
            "delivered",
            "ana@acme.com",
            "password_reset",
            None,
            dt.datetime(2025, 11, 20, 9, 13, 20, 500000),
        ),
        (
            "b",
            "mg.gitlab.com",
            "gitlab",
            "accepted",
            "ana@acme.com",
            "password_reset",
            None,
            dt.datetime(2025, 11, 20, 9, 13, 20, 500000),
        ),
        (
            "f",
            "mg.gitlab.com",
            "gitlab",
            "failed",
            "ana@acme.com",
            "password_reset",
            "permanent",
            dt.datetime(2025, 11, 20, 9, 13, 20, 500000),
        ),
    ]


def test_same_id_in_two_domains_is_two_events(tmp_path: Path) -> None:
    write(tmp_path / "a.jsonl", item("same") + "\n")
    write(tmp_path / "b.jsonl", item("same") + "\n")
    con = duckdb.connect()
    load_events(
        con,
        Config(),
        (
            EventsInput("mg.gitlab.com", str(tmp_path / "a.jsonl")),
            EventsInput("customers.gitlab.com", str(tmp_path / "b.jsonl")),
        ),
        Rejects(),
    )
    assert con.execute("SELECT domain, domain_role FROM stg_events ORDER BY 1").fetchall() == [
        ("customers.gitlab.com", "portal"),
        ("mg.gitlab.com", "gitlab"),
    ]


def test_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    write(tmp_path / "a.jsonl", item("same") + "\n")
    con = duckdb.connect()
    stats = load_events(
        con,
        Config(),
        (
            EventsInput("mg.gitlab.com", str(tmp_path / "a.jsonl")),
            EventsInput("customers.gitlab.com", str(tmp_path / "a.jsonl")),
        ),
        Rejects(),
    )
    assert len(stats) == 1  # one file named twice is read once, for its first domain
    assert con.execute("SELECT count(*) FROM stg_events").fetchall() == [(1,)]


@pytest.mark.parametrize(
    "name", ["*.jsonl", "x" * 300 + "*.jsonl"], ids=["glob", "glob longer than a file name"]
)
def test_missing_events_input_is_an_input_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(InputError, match="no file matches"):
        load_events(
            duckdb.connect(), Config(), (EventsInput("mg.gitlab.com", str(tmp_path / name)),), Rejects()
        )


def test_truncated_gzip_stops_the_run(tmp_path: Path) -> None:
    data = gzip.compress(("\n".join(item(str(i)) for i in range(200)) + "\n").encode(), mtime=0)
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="gzip data is truncated"):
        load_events(duckdb.connect(), Config(), (EventsInput("mg.gitlab.com", str(path)),), Rejects())


@given(
    body=st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")),
    ending=st.sampled_from([b"", b"\r"]),
    cuts=st.lists(st.integers(min_value=0, max_value=41), max_size=4),
)
def test_a_line_hashed_in_pieces_leaves_out_the_cr_of_its_ending(
    body: bytes, ending: bytes, cuts: list[int]
) -> None:
    """However the line is cut into pieces (a lone b"\\r" at the end of one of them included)."""
    line = body + ending
    bounds = sorted({min(c, len(line)) for c in cuts})
    pieces = [line[a:b] for a, b in zip([0, *bounds], [*bounds, len(line)], strict=True)]
    digest = LineHash()
    for piece in pieces:
        digest.update(piece)
    assert digest.hexdigest() == hashlib.sha256(strip_cr(line)).hexdigest()
    assert digest.size == len(line)


@pytest.mark.parametrize("chunk", [7, 8, 64])
def test_split_lines_hashes_an_overlong_crlf_line_without_its_ending(tmp_path: Path, chunk: int) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b"short\r\n" + b"y" * 40 + b"\r\n" + b"z" * 30 + b"\r")
    lines = list(split_lines(RawFile(path), max_line_bytes=20, chunk=chunk))
    assert lines[0] == (1, b"short")
    assert lines[1] == (2, Overlong(41, hashlib.sha256(b"y" * 40).hexdigest()))
    assert lines[2] == (3, Overlong(31, hashlib.sha256(b"z" * 30).hexdigest()))


@pytest.mark.parametrize("chunk", [5, 7, 20, 21, 22, 23, 64])
def test_a_crlf_line_of_exactly_the_limit_is_a_line_however_the_file_is_cut(
    tmp_path: Path, chunk: int
) -> None:
    """The limit is on the line without its ending, also when its b"\r" ends a chunk or a block."""
    path = tmp_path / "d.jsonl"
    path.write_bytes(b"a" * 20 + b"\r\n" + b"b" * 21 + b"\r\n" + b"c" * 20 + b"\r\n" + b"d" * 20 + b"\r")
    lines = list(split_lines(RawFile(path), max_line_bytes=20, chunk=chunk))
    assert [(n, x if isinstance(x, bytes) else "too long") for n, x in lines] == [
        (1, b"a" * 20), (2, "too long"), (3, b"c" * 20), (4, b"d" * 20),
    ]  # fmt: skip
    blocks = list(line_blocks(RawFile(path), 20, block_bytes=chunk))
    texts = {
        n: text
        for b in blocks
        if b.table is not None
        for n, text in zip(b.table.column("line").to_pylist(), b.table.column("raw").to_pylist(), strict=True)
    }
    assert [texts.get(n) for n in (1, 3, 4)] == ["a" * 20, "c" * 20, "d" * 20]
    assert sum(b.count for b in blocks) == 4
