"""The accounts export: a checked header, one reject per bad record, kept rows listed for data quality."""

from __future__ import annotations

import datetime as dt
import gzip
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest

from audit import accounts_lines
from audit.accounts import load_accounts
from audit.config import Config
from audit.errors import ConfigError, DataError, InputError
from audit.inputs import InputStats, Rejects, sha256_hex

HEADER = "id,email,first_name,last_name,created_at,confirmed_at,last_sign_in_at,login_activated,sign_in_count"


def row(i: int, **fields: str) -> str:
    values = {
        "id": str(i),
        "email": f"u{i}@acme.com",
        "first_name": "Ana",
        "last_name": "Lima",
        "created_at": "2026-01-01 10:00:00 UTC",
        "confirmed_at": "",
        "last_sign_in_at": "",
        "login_activated": "true",
        "sign_in_count": "1",
    } | fields
    return ",".join(values[c] for c in HEADER.split(","))


def good(n: int, start: int = 100) -> list[str]:
    return [row(i) for i in range(start, start + n)]


def load(
    tmp_path: Path, text: str | bytes, name: str = "a.csv", **cfg: Any
) -> tuple[InputStats, list[tuple[int, str, str, str]], duckdb.DuckDBPyConnection]:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    con, rejects = duckdb.connect(), Rejects()
    stats = load_accounts(con, Config(**({"reject_limit": 1.0} | cfg)), path, rejects)
    return stats, [(r[1], r[2], r[3], r[4]) for r in sorted(rejects.rows)], con


def codes(rows: list[tuple[int, str, str, str]]) -> list[tuple[int, str]]:
    return [(r[0], r[1]) for r in rows]


def counts(s: InputStats) -> tuple[int, ...]:
    return (s.lines, s.blank_lines, s.continuation_lines, s.rows_read, s.rows_loaded, s.rows_rejected)


BAD_RECORDS = [
    (row(1, created_at="yesterday"), "bad_timestamp", "column created_at: value is not a timestamp"),
    (
        row(1, created_at="2026-02-30 10:00:00 UTC"),
        "bad_timestamp",
        "column created_at: value is not a timestamp",
    ),
    (row(1, login_activated="maybe"), "bad_boolean", "column login_activated: value is not true or false"),
    (row(1, id="x1"), "bad_integer", "column id: value is not an integer"),
    (row(1, id="1e3"), "bad_integer", "column id: value is not an integer"),
    (row(1, id="\u0661\u0662"), "bad_integer", "column id: value is not an integer"),  # Arabic-Indic 12
    (row(1, sign_in_count="\uff11\uff12"), "bad_integer", "column sign_in_count: value is not an integer"),
    (row(1, sign_in_count="1.5"), "bad_integer", "column sign_in_count: value is not an integer"),
    (row(1, id=""), "missing_id", "column id is empty"),
    ("1,a@acme.com,Ana", "field_count", "expected 9 fields, found 3"),
    (row(1) + ",extra", "field_count", "expected 9 fields, found 10"),
    (row(1, first_name='"Bo"x'), "bad_csv", "record cannot be parsed as CSV (',' expected after '\"')"),
]


@pytest.mark.parametrize(("bad", "code", "message"), BAD_RECORDS)
def test_a_bad_record_is_rejected_with_its_line_and_the_run_goes_on(
    tmp_path: Path, bad: str, code: str, message: str
) -> None:
    stats, rejects, _ = load(tmp_path, "\n".join([HEADER, *good(5), bad, *good(5, 200)]) + "\n")
    assert counts(stats) == (12, 0, 0, 11, 10, 1)
    assert rejects == [(7, code, message, sha256_hex(bad))]


def test_an_unterminated_quote_costs_one_row_not_the_rest_of_the_file(tmp_path: Path) -> None:
    text = (
        "\n".join([HEADER, *good(3), row(7, first_name='"Bo'), *good(3, 200), row(8, last_name='"Li')]) + "\n"
    )
    stats, rejects, con = load(tmp_path, text)
    assert counts(stats) == (9, 0, 0, 8, 6, 2)
    assert codes(rejects) == [(5, "unterminated_quote"), (9, "unterminated_quote")]
    assert con.execute("SELECT count(*) FROM stg_accounts").fetchall() == [(6,)]


def test_quoted_line_breaks_and_quotes_inside_unquoted_fields_load(tmp_path: Path) -> None:
    text = "\n".join([HEADER, row(1, first_name='"Bo\nMulti-line"'), row(2, last_name='O"Brien'), row(3)])
    stats, rejects, con = load(tmp_path, text)  # no newline after the last line
    assert counts(stats) == (5, 0, 1, 3, 3, 0) and rejects == []
    assert con.execute(
        "SELECT account_id, first_name, last_name, source_line FROM stg_accounts ORDER BY 1"
    ).fetchall() == [
        (1, "Bo\nMulti-line", "Lima", 2),
        (2, "Ana", 'O"Brien', 4),
        (3, "Ana", "Lima", 5),
    ]


def test_timestamps_with_offsets_are_converted_to_utc(tmp_path: Path) -> None:
    text = "\n".join(
        [
            HEADER,
            row(1, created_at="2026-03-04T12:11:12+02:00", confirmed_at="2026-03-04 12:11:12 +0200"),
            row(2, created_at="2026-03-04T10:11:12.250Z", confirmed_at="2026-03-04 05:11:12-05:00"),
        ]
    )
    _, rejects, con = load(tmp_path, text)
    assert rejects == []
    assert con.execute(
        "SELECT created_at, confirmed_at FROM stg_accounts ORDER BY account_id"
    ).fetchall() == [
        (dt.datetime(2026, 3, 4, 10, 11, 12), dt.datetime(2026, 3, 4, 10, 11, 12)),
        (dt.datetime(2026, 3, 4, 10, 11, 12, 250000), dt.datetime(2026, 3, 4, 10, 11, 12)),
    ]


def test_duplicate_ids_and_empty_or_invalid_emails_are_kept_and_listed(tmp_path: Path) -> None:
    text = "\n".join(
        [HEADER, *good(3), row(101, email="again@acme.com"), row(4, email=""), row(5, email="not an email"),
         row(6, email="a..b@acme.com"), row(7, email="o'brien+tag@sub.acme.co.uk")]
    )  # fmt: skip
    stats, rejects, con = load(tmp_path, text)
    assert counts(stats)[3:] == (8, 8, 0)  # every row kept
    assert [(r[0], r[1], r[2]) for r in rejects] == [
        (5, "duplicate_id", "kept: same id as line 3"),
        (6, "empty_email", "kept: the email is empty"),
        (7, "invalid_email", "kept: the email is not a valid address"),
        (8, "invalid_email", "kept: the email is not a valid address"),
    ]
    assert con.execute("SELECT count(*) FROM stg_accounts WHERE account_id = 101").fetchall() == [(2,)]


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        ("id,email,created_at", "header lacks required column(s): confirmed_at (header 'confirmed_at')"),
        ("id;email;created_at;confirmed_at", "the header looks ';'-separated: set csv.delimiter"),
        ("id\temail\tcreated_at\tconfirmed_at", "the header looks '\\t'-separated"),
        ("id,email,Email,email,created_at,confirmed_at", "header repeats column(s): email"),
        ('"id,email,created_at,confirmed_at', "header cannot be parsed as CSV"),
        ("1,ana@acme.com,2026-01-01,", "found 4 column(s): none of them a known column"),
        (
            "ID,Email,created_at,confirmed_at",
            "column names are case-sensitive: 'ID' for 'id', 'Email' for 'email'",
        ),
    ],
)
def test_a_bad_header_stops_the_run_naming_the_columns(tmp_path: Path, header: str, fragment: str) -> None:
    with pytest.raises(DataError) as info:
        load(tmp_path, header + "\n" + row(1) + "\n")
    assert fragment in str(info.value) and info.value.line == 1
    assert "ana@acme.com" not in str(info.value)


def test_a_mapped_header_is_checked_by_its_export_name(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"email \(header 'E-mail'\)"):
        load(tmp_path, "id,Mail,created_at,confirmed_at\n1,a@b.co,2026-01-01,\n", columns={"E-mail": "email"})
    stats, _, con = load(tmp_path, "Customer ID,E-mail,Signed Up,Confirmed,Shoe size\n9,z@acme.com,2026-01-01,,44\n",
                         columns={"Customer ID": "id", "E-mail": "email", "Signed Up": "created_at", "Confirmed": "confirmed_at"})  # fmt: skip
    assert stats.notes["ignored_columns"] == ["Shoe size"]
    assert con.execute("SELECT account_id, email FROM stg_accounts").fetchall() == [(9, "z@acme.com")]


def test_an_encoding_error_names_file_and_line_unless_the_encoding_is_configured(tmp_path: Path) -> None:
    data = f"{HEADER}\n{row(1)}\n{row(2, first_name='José')}\n".encode("latin-1")
    with pytest.raises(DataError) as info:
        load(tmp_path, data)
    assert info.value.line == 3 and "csv.encoding" in str(info.value)
    _, _, con = load(tmp_path, data, encoding="latin-1")
    assert con.execute("SELECT first_name FROM stg_accounts ORDER BY account_id").fetchall() == [
        ("Ana",),
        ("José",),
    ]
    with pytest.raises(ConfigError, match="not supported"):
        load(tmp_path, data, encoding="utf-16")


def test_bom_crlf_and_blank_lines(tmp_path: Path) -> None:
    text = "\ufeff" + "\r\n".join([HEADER, row(1), "", row(2), "   ", row(3)]) + "\r\n"
    stats, rejects, con = load(tmp_path, text)
    assert counts(stats) == (6, 2, 0, 3, 3, 0) and rejects == []
    assert con.execute("SELECT source_line FROM stg_accounts ORDER BY 1").fetchall() == [(2,), (4,), (6,)]


@pytest.mark.parametrize(
    ("text", "what"), [("", "is empty"), ("\n\n", "is empty"), (HEADER + "\n", "has a header but no rows")]
)
def test_an_empty_or_header_only_export_stops_the_run_unless_allowed(
    tmp_path: Path, text: str, what: str
) -> None:
    with pytest.raises(InputError, match=what):
        load(tmp_path, text)
    stats, _, con = load(tmp_path, text, allow_empty=True)
    assert (stats.rows_read, stats.rows_loaded) == (0, 0)
    assert con.execute("SELECT count(*) FROM stg_accounts").fetchall() == [(0,)]


def test_gzip_by_content_truncated_or_fake(tmp_path: Path) -> None:
    data = gzip.compress(("\n".join([HEADER, *good(30)]) + "\n").encode(), mtime=0)
    stats, _, _ = load(tmp_path, data, name="export.csv")
    assert stats.rows_loaded == 30 and stats.bytes == len(data)
    with pytest.raises(DataError, match="gzip data is truncated"):
        load(tmp_path, data[:-12], name="t.csv.gz")
    with pytest.raises(DataError, match="not gzip data"):
        load(tmp_path, HEADER + "\n" + row(1), name="f.csv.gz")
    with pytest.raises(DataError, match=r"g\.csv\.gz: gzip data is corrupt$"):  # trailing bytes not gzip
        load(tmp_path, data + b"garbage!", name="g.csv.gz")


def test_a_line_longer_than_the_limit_is_rejected_unread(tmp_path: Path) -> None:
    long_row = row(5, last_name="x" * 5000)
    stats, rejects, _ = load(
        tmp_path, "\n".join([HEADER, *good(3), long_row, row(6)]) + "\n", max_line_bytes=1024
    )
    assert counts(stats)[3:] == (5, 4, 1)
    assert rejects == [
        (5, "line_too_long", "line is longer than inputs.max_line_bytes", sha256_hex(long_row))
    ]


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
@pytest.mark.parametrize(
    ("extra", "rejected"), [(0, False), (1, True)], ids=["at the limit", "one byte over"]
)
def test_the_line_limit_leaves_out_the_cr_of_a_crlf_ending(
    tmp_path: Path, encoding: str, extra: int, rejected: bool
) -> None:
    short = row(5, last_name="")
    exact = row(5, last_name="x" * (1024 - len(short) + extra))
    text = "\r\n".join([HEADER, *good(3), exact, row(6)]) + "\r\n"
    stats, rejects, _ = load(tmp_path, text, max_line_bytes=1024, encoding=encoding)
    assert [r[1] for r in rejects] == (["line_too_long"] if rejected else [])
    assert counts(stats)[3:] == ((5, 4, 1) if rejected else (5, 5, 0))


@pytest.mark.parametrize("block_bytes", [None, 4096])  # the line inside a block, or running past blocks
@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_a_long_crlf_line_is_hashed_without_its_line_ending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block_bytes: int | None, encoding: str
) -> None:
    if block_bytes is not None:
        monkeypatch.setattr(accounts_lines, "BLOCK_BYTES", block_bytes)
    long_row = row(5, last_name="x" * 9000)
    text = "\r\n".join([HEADER, *good(3), long_row, row(6)]) + "\r\n"
    stats, rejects, _ = load(tmp_path, text, max_line_bytes=1024, encoding=encoding)
    assert counts(stats)[3:] == (5, 4, 1)
    assert rejects == [
        (5, "line_too_long", "line is longer than inputs.max_line_bytes", sha256_hex(long_row))
    ]


def test_the_reject_limit_stops_the_run(tmp_path: Path) -> None:
    text = "\n".join([HEADER, *good(18), row(1, id="x"), row(2, created_at="never")]) + "\n"
    assert load(tmp_path, text, reject_limit=0.1)[0].rows_rejected == 2
    with pytest.raises(
        DataError, match=r"2 of 20 rows rejected \(10.0%\).*line 20 bad_integer, line 21 bad_timestamp"
    ):
        load(tmp_path, text, reject_limit=0.05)


@pytest.mark.parametrize(
    ("rejected", "limit", "shown"),
    [(2, 0.05, "(10.0%), above inputs.reject_limit (5.0%)"),
     (501, 0.05, "(5.01%), above inputs.reject_limit (5.00%)"),  # one decimal would read 5.0% above 5.0%
     (5001, 0.5, "(50.01%), above inputs.reject_limit (50.00%)")],
)  # fmt: skip
def test_the_reject_limit_message_shows_the_share_apart_from_the_limit(
    rejected: int, limit: float, shown: str
) -> None:
    read = 20 if rejected == 2 else 10_000
    stats = InputStats(kind="accounts", path="a.csv", rows_read=read, rows_loaded=read - rejected,
                       rows_rejected=rejected)  # fmt: skip
    with pytest.raises(DataError, match=re.escape(f"{rejected} of {read} rows rejected {shown}")):
        stats.finish(limit, Rejects())


def test_a_file_name_with_a_line_break_keeps_the_message_on_one_line() -> None:
    error = InputError("input file not found", file="/in/acc\nounts.csv")
    assert str(error) == "/in/acc\\nounts.csv: input file not found"
    assert str(DataError("bad", file="a\tb\r.csv", line=3)) == "a\\tb\\r.csv:3: bad"


def test_a_missing_file_or_a_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_accounts(duckdb.connect(), Config(), tmp_path / "missing.csv", Rejects())
    with pytest.raises(InputError, match="not a file"):
        load_accounts(duckdb.connect(), Config(), tmp_path, Rejects())


def test_a_quoted_field_longer_than_the_csv_modules_default_limit_loads(tmp_path: Path) -> None:
    # 1,000,000 characters: the line is under inputs.max_line_bytes, so the row is judged on its values
    # (the csv module alone refuses a field over 128 KiB: that limit is not the job's)
    big = "x" * 1_000_000
    text = "\n".join([HEADER, row(1, last_name=f'"{big}"'), row(2, last_name=f'"{big[:-3]}\n, "')]) + "\n"
    stats, rejects, con = load(tmp_path, text)
    assert counts(stats) == (4, 0, 1, 2, 2, 0) and rejects == []
    assert con.execute("SELECT account_id, length(last_name) FROM stg_accounts ORDER BY 1").fetchall() == [
        (1, 1_000_000),
        (2, 1_000_000),
    ]


def test_every_int64_id_loads_and_one_beyond_is_rejected(tmp_path: Path) -> None:
    top, bottom = str(2**63 - 1), str(-(2**63))
    text = "\n".join(
        [HEADER, row(1, id=top), row(2, id=bottom), row(3, id="1" + "0" * 18, sign_in_count=top),
         row(4, id=str(2**63)), row(5, sign_in_count=str(-(2**63) - 1)), row(6, id="9" * 19)]
    )  # fmt: skip
    stats, rejects, con = load(tmp_path, text)
    assert counts(stats)[3:] == (6, 3, 3)
    assert codes(rejects) == [(5, "bad_integer"), (6, "bad_integer"), (7, "bad_integer")]
    assert con.execute(
        "SELECT account_id, sign_in_count FROM stg_accounts ORDER BY source_line"
    ).fetchall() == [
        (2**63 - 1, 1),
        (-(2**63), 1),
        (10**18, 2**63 - 1),
    ]


@pytest.mark.parametrize(
    ("codec", "bom", "encoding", "fragment"),
    [
        ("utf-16-le", b"\xff\xfe", "utf-8", "the file is UTF-16 (it starts with a UTF-16 byte-order mark)"),
        ("utf-16-be", b"\xfe\xff", "utf-8", "the file is UTF-16 (it starts with a UTF-16 byte-order mark)"),
        ("utf-32-le", b"\xff\xfe\x00\x00", "utf-8", "the file is UTF-32 (it starts with a UTF-32 byte-order"),
        ("utf-16-le", b"", "utf-8", "header holds NUL bytes (UTF-16 or UTF-32?): export the file as UTF-8"),
        ("utf-16-be", b"\xfe\xff", "latin-1", "header holds NUL bytes (UTF-16 or UTF-32?)"),
    ],
)
def test_a_utf16_or_utf32_export_is_named_as_such(
    tmp_path: Path, codec: str, bom: bytes, encoding: str, fragment: str
) -> None:
    # csv.encoding cannot name UTF-16/32 (lines are split on b"\n"): the message must not suggest it
    data = bom + (HEADER + "\n" + row(1) + "\n").encode(codec)
    with pytest.raises(DataError) as info:
        load(tmp_path, data, encoding=encoding)
    assert fragment in str(info.value) and info.value.line == 1
    assert "set csv.encoding" not in str(info.value)


def test_a_carriage_return_outside_quotes_is_named_and_cr_only_line_endings_are_explained(
    tmp_path: Path,
) -> None:
    # a CR-only file is one physical line (lines end at "\n"): its header cannot parse; say why
    with pytest.raises(DataError) as info:
        load(tmp_path, "\r".join([HEADER, *good(3)]) + "\r")
    message = str(info.value)
    assert info.value.line == 1 and "universal-newline" not in message
    assert message.endswith(
        "header cannot be parsed as CSV: record cannot be parsed as CSV (a carriage return outside "
        "quotes); the file's lines may end in CR alone: export it with LF or CRLF line endings"
    )
    # longer than the line limit, it is not parsed at all: the hint comes from the file's first bytes
    with pytest.raises(DataError) as info:
        load(tmp_path, "\r".join([HEADER, *good(30)]) + "\r", max_line_bytes=1024)
    assert str(info.value).endswith(
        "header cannot be parsed as CSV: line is longer than inputs.max_line_bytes; the file's lines may "
        "end in CR alone: export it with LF or CRLF line endings"
    )
    with pytest.raises(DataError) as info:  # a long CRLF header line is only too long
        load(tmp_path, HEADER + "," * 1100 + "\r\n" + row(1) + "\r\n", max_line_bytes=1024)
    assert str(info.value).endswith(
        "header cannot be parsed as CSV: line is longer than inputs.max_line_bytes"
    )
    bad = row(1, first_name="A\rna")
    _, rejects, _ = load(tmp_path, "\n".join([HEADER, *good(3), bad, *good(3, 200)]) + "\n")
    assert rejects == [
        (5, "bad_csv", "record cannot be parsed as CSV (a carriage return outside quotes)", sha256_hex(bad))
    ]


def test_an_email_with_a_dot_at_either_end_of_its_local_part_or_a_control_character_is_invalid(
    tmp_path: Path,
) -> None:
    emails = [".ana@acme.com", "ana.@acme.com", " .ana@acme.com ", "an\x01a@acme.com", "ana@acme.com\x00",
              "an\x9fa@acme.com"]  # fmt: skip
    ok = ["a.na@acme.com", "ana@a.acme.com", "anä@acme.com"]
    text = "\n".join([HEADER, *(row(i, email=e) for i, e in enumerate(emails + ok, 1))]) + "\n"
    stats, rejects, _ = load(tmp_path, text)
    assert counts(stats)[3:] == (9, 9, 0)
    assert [(r[0], r[1], r[2]) for r in rejects] == [
        (line, "invalid_email", "kept: the email is not a valid address") for line in range(2, 8)
    ]
