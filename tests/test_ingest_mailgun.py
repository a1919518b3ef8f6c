"""Mailgun dumps: every problem line is a reject with its physical line, the rest loads, all is counted.

Every case runs through both load paths (DuckDB's fast reader and the line-by-line statement) and
must give the same result: the fast path only ever declines a file, it never judges a line
differently.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from audit import mailgun
from audit.config import Config, EventsInput
from audit.errors import DataError, InputError
from audit.incremental import STATE_EVENTS
from audit.inputs import KEPT_CODES, REJECTED_CODES, InputStats, Rejects, sha256_hex

TS = 1763630000.5  # 2025-11-20 09:13:20.5 UTC


def item(eid: str, event: str = "delivered", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": eid,
        "event": event,
        "timestamp": TS,
        "recipient": "Ana@Acme.com",
        "message": {"headers": {"subject": "Reset password instructions | GitLab", "message-id": "m1@x"}},
        "delivery-status": {"code": 250, "description": "", "message": "OK"},
    }
    body.update(extra)
    return body


def line(eid: str, **extra: Any) -> str:
    return json.dumps(item(eid, **extra))


def good(n: int, prefix: str = "g") -> list[str]:
    return [line(f"{prefix}{i}") for i in range(n)]


@pytest.fixture(params=["fast", "lines"])
def path_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "lines":
        monkeypatch.setattr(mailgun, "load_fast", lambda *args: None)
    return str(request.param)


def load(
    tmp_path: Path, text: str | bytes, name: str = "d.jsonl", domain: str = "mg.gitlab.com", **cfg: Any
) -> tuple[InputStats, list[tuple[int, str, str, str]], duckdb.DuckDBPyConnection]:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    con, rejects = duckdb.connect(), Rejects()
    config = Config(**({"reject_limit": 1.0} | cfg))
    stats = mailgun.load_events(con, config, (EventsInput(domain, str(path)),), rejects)
    assert len(stats) == 1
    return stats[0], [(r[1], r[2], r[3], r[4]) for r in sorted(rejects.rows)], con


def codes(rows: list[tuple[int, str, str, str]]) -> list[tuple[int, str]]:
    return [(r[0], r[1]) for r in rows]


def counts(s: InputStats) -> tuple[int, ...]:
    return (s.lines, s.blank_lines, s.rows_read, s.rows_loaded, s.rows_rejected, s.rows_duplicate)


def test_a_clean_dump_loads_every_line(tmp_path: Path, path_kind: str) -> None:
    stats, rejects, con = load(tmp_path, "\n".join(good(30)) + "\n")
    assert counts(stats) == (30, 0, 30, 30, 0, 0)
    assert rejects == []
    assert stats.sha256 == sha256_hex((tmp_path / "d.jsonl").read_bytes()) and stats.bytes > 0
    row = con.execute("SELECT * FROM stg_events WHERE event_id = 'g7'").fetchall()[0]
    assert row == (
        "mg.gitlab.com", "gitlab", "g7", "delivered", dt.datetime(2025, 11, 20, 9, 13, 20, 500000),
        "Ana@Acme.com", "ana@acme.com", "Reset password instructions | GitLab", "password_reset", "m1@x",
        None, None, 250, "OK", str(tmp_path / "d.jsonl"), 8,
    )  # fmt: skip


SUBJECTS = [
    ("Reset password instructions | GitLab", "password_reset"),
    ("RESET PASSWORD INSTRUCTIONS", "password_reset"),
    ("  Confirmation instructions | GitLab", "confirmation"),
    ("\u3000Reset password instructions", "password_reset"),  # trim() removes Unicode spaces
    ("Re: Reset password instructions", "other"),
    ("\u00c9t\u00e9 | Reset password instructions", "other"),
    ("Reset password", "other"),
    ("", "other"),
    (None, "other"),
]


@pytest.mark.parametrize(("subject", "kind"), SUBJECTS)
def test_mail_kind_comes_from_the_subject_before_the_bar_without_case(
    tmp_path: Path, path_kind: str, subject: str | None, kind: str
) -> None:
    headers = {"message-id": "m1@x"} | ({} if subject is None else {"subject": subject})
    _, rejects, con = load(tmp_path, "\n".join([*good(3), line("s", message={"headers": headers})]) + "\n")
    assert rejects == []
    assert con.execute("SELECT mail_kind FROM stg_events WHERE event_id = 's'").fetchall() == [(kind,)]


def logs_line(eid: str, at: str) -> str:
    """A Logs API item: its time is an RFC 3339 @timestamp instead of epoch seconds."""
    return json.dumps({k: v for k, v in item(eid).items() if k != "timestamp"} | {"@timestamp": at})


# Out of range in ways DuckDB's cast would take and shift: minute 75 of an offset, a 24-hour offset, hour 24.
IMPOSSIBLE_AT = ["2026-11-13T06:03:20+05:75", "2026-11-13T06:03:20+24:00", "2026-11-13T24:00:00Z"]

BROKEN = [
    ("not json", "not_json"),
    ('{"id": "x", "event": "delivered"', "not_json"),  # truncated line
    ("[1, 2]", "not_object"),
    ('"just a string"', "not_object"),
    ("{}", "missing_id"),
    (line("a", id=""), "missing_id"),
    (line("a", id=None), "missing_id"),
    (line("a", event=""), "missing_event"),
    (json.dumps({k: v for k, v in item("a").items() if k != "timestamp"}), "missing_timestamp"),
    (line("a", recipient=""), "missing_recipient"),
    (line("a", recipient=" "), "missing_recipient"),  # blank: trim() leaves nothing
    (line("a", id="\u00a0 \u3000"), "missing_id"),
    (line("a", event="  "), "missing_event"),
    (line("a", recipient="\t"), "missing_recipient"),  # white space that trim() leaves
    (line("a", event="\r\n\u000b\u000c"), "missing_event"),
    (line("a", id="\u2028\u0085"), "missing_id"),
    (line("a", id=42), "bad_type"),
    (line("a", event=["delivered"]), "bad_type"),
    (line("a", timestamp="1763630000.5"), "bad_type"),
    (line("a", recipient={"email": "x"}), "bad_type"),
    (line("a", **{"delivery-status": {"code": "550"}}), "bad_type"),
    (line("a", **{"delivery-status": {"code": 550.5}}), "bad_type"),
    (line("a", message="Reset password instructions"), "bad_type"),  # an object the loader reads
    (line("a", message={"headers": "x"}), "bad_type"),
    (line("a", **{"delivery-status": [550]}), "bad_type"),
    (line("a", domain="mg.gitlab.com"), "bad_type"),
    (line("a", timestamp=12.0), "bad_timestamp"),
    (line("a", timestamp=9e12), "bad_timestamp"),
    *[(logs_line("a", at), "bad_timestamp") for at in IMPOSSIBLE_AT],
    ('{"id": "a", "id": "b", "event": "delivered", "timestamp": 1763630000.5, "recipient": "a@b.c"}', "duplicate_key"),
    ('{"id": "a", "event": "delivered", "timestamp": 1763630000.5, "recipient": "a@b.c", "tags": [], "tags": []}', "duplicate_key"),
    (line("a", message={"headers": {"subject": "x"}}).replace('"subject": "x"', '"subject": "x", "subject": "y"'), "duplicate_key"),
]  # fmt: skip


@pytest.mark.parametrize(("bad", "code"), BROKEN, ids=[f"{c}-{i}" for i, (_, c) in enumerate(BROKEN)])
def test_each_broken_line_is_rejected_with_its_line_and_the_rest_loads(
    tmp_path: Path, path_kind: str, bad: str, code: str
) -> None:
    lines = [*good(10), bad, *good(10, "h")]
    stats, rejects, _ = load(tmp_path, "\n".join(lines) + "\n")
    assert counts(stats) == (21, 0, 21, 20, 1, 0)
    assert codes(rejects) == [(11, code)]
    assert rejects[0][3] == sha256_hex(bad)
    assert "Ana@" not in rejects[0][2] and "Acme" not in rejects[0][2]  # never a value in a message


def test_reject_messages_name_the_field_and_type(tmp_path: Path, path_kind: str) -> None:
    lines = [*good(5), line("a", id=42), line("b", timestamp="soon"), line("c", timestamp=1.0)]
    _, rejects, _ = load(tmp_path, "\n".join(lines) + "\n")
    assert [r[2] for r in rejects] == [
        "field 'id' must be string, found number",
        "field 'timestamp' must be number, found string",
        "field 'timestamp' is not epoch seconds between 2010 and 2100",
    ]


def test_a_nested_object_of_another_type_is_named_and_an_empty_or_null_one_loads(
    tmp_path: Path, path_kind: str
) -> None:
    webhook = {"signature": {"token": "t", "timestamp": "1", "signature": "s"}, "event-data": item("w")}
    webhook["event-data"]["delivery-status"] = 550
    lines = [
        *good(5),
        line("a", domain="mg.gitlab.com"),
        line("b", message={"headers": ["x"]}),
        json.dumps(webhook),
        line("c", message={}, domain=None),
        line("d", message={"headers": {}}, **{"delivery-status": None}),
    ]
    stats, rejects, _ = load(tmp_path, "\n".join(lines) + "\n")
    assert [(r[0], r[2]) for r in rejects] == [
        (6, "field 'domain' must be an object, found string"),
        (7, "field 'message.headers' must be an object, found array"),
        (8, "field 'delivery-status' must be an object, found number"),
    ]
    assert (stats.rows_loaded, stats.rows_rejected) == (7, 3)


@pytest.mark.parametrize("literal", ["nan", "-nan", "NaN", "inf", "Infinity"])
def test_a_nan_or_infinity_literal_is_a_number_wherever_a_type_is_checked(
    tmp_path: Path, path_kind: str, literal: str
) -> None:
    """DuckDB's parser accepts these literals in any case (found by the fast path's fuzz test): a
    lower-case `nan` was taken for `null`, so a `domain.name` of nan loaded and messages said null."""
    lines = [
        *good(5),
        line("a", id="ID").replace('"ID"', literal),
        line("b", domain={"name": "D"}).replace('"D"', literal),
        line("c", **{"delivery-status": {"code": "C"}}).replace('"C"', literal),
    ]
    _, rejects, _ = load(tmp_path, "\n".join(lines) + "\n")
    assert [(r[0], r[1], r[2]) for r in rejects] == [
        (6, "bad_type", "field 'id' must be string, found number"),
        (7, "bad_type", "field 'domain.name' must be string, found number"),
        (8, "bad_type", "field 'delivery-status.code' must be an integer, found number"),
    ]


def test_blank_lines_crlf_bom_and_a_missing_last_newline_keep_physical_line_numbers(
    tmp_path: Path, path_kind: str
) -> None:
    text = "\ufeff" + "\r\n".join([line("a"), "", "  ", line("b"), "not json", line("c")])
    stats, rejects, con = load(tmp_path, text)
    assert counts(stats) == (6, 2, 4, 3, 1, 0)
    assert codes(rejects) == [(5, "not_json")]
    assert con.execute("SELECT event_id, source_line FROM stg_events ORDER BY 2").fetchall() == [
        ("a", 1),
        ("b", 4),
        ("c", 6),
    ]
    assert stats.notes.get("bom") is True


def test_a_byte_order_mark_inside_a_dump_rejects_its_line_and_says_so(tmp_path: Path, path_kind: str) -> None:
    """Two dumps joined with `cat`: the second one's BOM starts a line, which no JSON parser takes."""
    stats, rejects, _ = load(
        tmp_path, "\ufeff" + "\n".join([line("a"), "\ufeff" + line("b"), line("c")]) + "\n"
    )
    assert counts(stats) == (3, 0, 3, 2, 1, 0)
    assert [(r[0], r[1], r[2]) for r in rejects] == [
        (2, "not_json", "line is not valid JSON: it starts with a byte order mark (were two files joined?)")
    ]


@pytest.mark.parametrize("bad", [b"not json\r", b"not json \xff\r"], ids=["utf8", "not-utf8"])
def test_a_crlf_line_ending_is_one_cr_and_one_lf(tmp_path: Path, path_kind: str, bad: bytes) -> None:
    """Only the line ending is left out of a reject's hash: a second b"\\r" belongs to the line."""
    text = b"\r\n".join([line("a").encode(), bad, line("b").encode()]) + b"\r\n"
    stats, rejects, _ = load(tmp_path, text)
    assert counts(stats) == (3, 0, 3, 2, 1, 0)
    assert rejects[0][0] == 2 and rejects[0][3] == sha256_hex(bad)


def test_a_line_that_is_not_utf8_or_too_long_is_rejected_unread(tmp_path: Path, path_kind: str) -> None:
    lines = [
        line("a").encode(),
        b'{"id": "\xff", "event": "x"}',
        line("b", pad="x" * 3000).encode(),
        line("c").encode(),
    ]
    stats, rejects, _ = load(tmp_path, b"\n".join(lines) + b"\n", max_line_bytes=2048)
    assert counts(stats) == (4, 0, 4, 2, 2, 0)
    assert codes(rejects) == [(2, "not_utf8"), (3, "line_too_long")]
    assert rejects[0][3] == sha256_hex(lines[1])


def test_gzip_is_recognised_by_content_and_broken_gzip_stops_the_run(tmp_path: Path) -> None:
    data = gzip.compress(("\n".join(good(50)) + "\n").encode(), mtime=0)
    stats, _, _ = load(tmp_path, data, name="dump.jsonl")  # gzipped, named as plain
    assert (stats.rows_loaded, stats.bytes) == (50, len(data))
    with pytest.raises(DataError, match="truncated"):
        load(tmp_path, data[: len(data) - 10], name="t.jsonl.gz")
    with pytest.raises(DataError, match="not gzip data"):
        load(tmp_path, "\n".join(good(3)), name="fake.jsonl.gz")


@pytest.mark.parametrize("text", ["", "\n\n  \n", '{"items": [], "paging": {}}\n'])
def test_an_empty_dump_stops_the_run_unless_allowed(tmp_path: Path, text: str) -> None:
    with pytest.raises(InputError, match="holds no events"):
        load(tmp_path, text)
    stats, rejects, _ = load(tmp_path, text, allow_empty=True)
    assert (stats.rows_read, stats.rows_loaded, rejects) == (0, 0, [])


def test_the_reject_limit_fails_the_run_naming_lines_and_codes(tmp_path: Path, path_kind: str) -> None:
    lines = [*good(18), "oops", line("x", id=7)]
    stats, _, _ = load(tmp_path, "\n".join(lines) + "\n", reject_limit=0.1)  # 10% is within 10%
    assert stats.rows_rejected == 2
    with pytest.raises(DataError) as info:
        load(tmp_path, "\n".join(lines) + "\n", reject_limit=0.05)
    assert "2 of 20 rows rejected (10.0%), above inputs.reject_limit (5.0%)" in str(info.value)
    assert "first: line 19 not_json, line 20 bad_type" in str(info.value)
    assert "oops" not in str(info.value)
    assert "CR alone" not in str(info.value)


def test_a_dump_whose_lines_end_in_cr_alone_is_one_line_and_the_message_says_why(
    tmp_path: Path, path_kind: str
) -> None:
    with pytest.raises(DataError) as info:  # lines end at LF only: the whole file is one line
        load(tmp_path, "\r".join(good(5)) + "\r", reject_limit=0.05)
    assert str(info.value).endswith(
        "1 of 1 rows rejected (100.0%), above inputs.reject_limit (5.0%); first: line 1 not_json; the "
        "file's lines may end in CR alone: export it with LF or CRLF line endings"
    )
    with pytest.raises(DataError) as info:  # one bad line, no CR: no such advice
        load(tmp_path, "oops\n", reject_limit=0.05)
    assert "CR alone" not in str(info.value)


def test_unknown_fields_and_event_types_are_counted(tmp_path: Path, path_kind: str) -> None:
    lines = [*good(5), line("a", surprise=1), line("b", surprise=2, other="x"), line("c", event="teleported")]
    stats, rejects, _ = load(tmp_path, "\n".join(lines) + "\n")
    assert rejects == [] and stats.rows_loaded == 8
    assert stats.notes["unknown_fields"] == {"other": 1, "surprise": 2}
    assert stats.notes["unknown_events"] == {"teleported": 1}


def test_schema_drift_names_at_most_a_hundred_per_file(tmp_path: Path, path_kind: str) -> None:
    """A new name on every line must not copy the dump into the manifest: the rest are summed."""
    lines = [line(f"u{n}", **{f"extra_{n:03}": 1}, event=f"kind_{n:03}") for n in range(150)]
    lines += [line("v1", common=1), line("v2", common=2)]
    stats, rejects, _ = load(tmp_path, "\n".join(lines) + "\n")
    assert rejects == [] and stats.rows_loaded == 152
    fields = stats.notes["unknown_fields"]
    assert (
        len(fields) == 100 and fields["common"] == 2 and "extra_000" in fields and "extra_099" not in fields
    )
    assert stats.notes["unknown_fields_not_listed"] == {"names": 51, "rows": 51}
    assert len(stats.notes["unknown_events"]) == 100
    assert stats.notes["unknown_events_not_listed"] == {"names": 50, "rows": 50}


def test_copies_are_counted_and_a_conflicting_copy_is_listed_first_copy_kept(
    tmp_path: Path, path_kind: str
) -> None:
    day1 = tmp_path / "day1.jsonl"
    day1.write_text("\n".join([line("a"), line("b")]) + "\n")
    day2 = tmp_path / "day2.jsonl"
    day2.write_text("\n".join([line("a"), line("b", event="failed"), line("c"), line("c")]) + "\n")
    con, rejects = duckdb.connect(), Rejects()
    stats = mailgun.load_events(
        con, Config(), (EventsInput("mg.gitlab.com", str(tmp_path / "day*")),), rejects
    )
    assert [counts(s)[2:] for s in stats] == [(2, 2, 0, 0), (4, 1, 0, 3)]
    assert stats[1].notes == {"conflicting_duplicates": 1}
    assert [(r[0], r[1], r[2]) for r in rejects.rows] == [
        (str(day2), 2, "conflicting_duplicate"),
    ]
    assert rejects.rows[0][3] == (
        f"same (domain, id) as line 2 of {day1} but different content; the first copy was kept"
    )
    assert rejects.rows[0][4] == sha256_hex(line("b", event="failed"))
    assert con.execute("SELECT event_id, event, source_file FROM stg_events ORDER BY 1").fetchall() == [
        ("a", "delivered", str(day1)),
        ("b", "delivered", str(day1)),
        ("c", "delivered", str(day2)),
    ]


def test_the_item_domain_wins_over_the_input_domain(tmp_path: Path) -> None:
    lines = [line("a"), line("b", domain={"name": "Customers.GitLab.com"})]
    _, _, con = load(tmp_path, "\n".join(lines) + "\n")
    assert con.execute("SELECT event_id, domain, domain_role FROM stg_events ORDER BY 1").fetchall() == [
        ("a", "mg.gitlab.com", "gitlab"),
        ("b", "customers.gitlab.com", "portal"),
    ]


@pytest.mark.parametrize("name", ["dump[1].jsonl", "dump[a-z].jsonl", "x[.jsonl"])
def test_a_dump_named_with_glob_characters_is_read_as_named(tmp_path: Path, name: str) -> None:
    (tmp_path / "dump1.jsonl").write_text(line("other") + "\n")  # what dump[1] matches as a pattern
    stats, rejects, con = load(tmp_path, "\n".join(good(3)) + "\n", name=name)
    assert (Path(stats.path).name, stats.rows_loaded, rejects) == (name, 3, [])
    assert con.execute("SELECT count(*) FROM stg_events WHERE event_id = 'other'").fetchall() == [(0,)]


def test_api_pages_on_lines_keep_the_page_line_and_items_are_numbered(tmp_path: Path, path_kind: str) -> None:
    page1 = {"items": [item("a"), 5, item("b", id=None)], "paging": {"next": "x"}}
    text = "\n".join([json.dumps(page1), line("c"), json.dumps({"items": "nope"}), json.dumps({"items": []})])
    stats, rejects, con = load(tmp_path, text + "\n")
    assert counts(stats) == (4, 0, 5, 2, 3, 0)  # 3 items + a v3 line + a page whose items is no array
    assert [(r[0], r[1], r[2]) for r in rejects] == [
        (
            1,
            "missing_id",
            "item 3 of the API page or document: required field 'id' is missing, null, empty or blank",
        ),
        (1, "not_object", "item 2 of the API page or document: JSON value is not an object"),
        (3, "bad_type", "field 'items' must be an array of event objects"),
    ]
    assert stats.notes == {"api_pages": 3, "empty_api_pages": 1}
    assert con.execute("SELECT event_id, source_line FROM stg_events ORDER BY 1").fetchall() == [
        ("a", 1),
        ("c", 2),
    ]


def test_an_object_with_items_and_an_item_field_is_an_item_not_an_api_page(
    tmp_path: Path, path_kind: str
) -> None:
    """An API page holds items and paging only: `{"id": 5, "items": []}` is a broken item, not an empty page."""
    odd = [json.dumps({"id": "b", "items": []}), json.dumps({"recipient": "x@y.z", "items": [item("c")]})]
    stats, rejects, _ = load(tmp_path, "\n".join([line("a"), *odd]) + "\n")
    assert counts(stats) == (3, 0, 3, 1, 2, 0) and "api_pages" not in stats.notes
    assert codes(rejects) == [(2, "missing_event"), (3, "missing_id")]


@pytest.mark.parametrize(
    ("extra", "code"),
    [({"id": "b"}, "missing_event"), ({"event": "delivered"}, "missing_id")],
    ids=["id", "event"],
)
def test_a_document_whose_object_has_an_item_field_is_one_item(
    tmp_path: Path, extra: dict[str, str], code: str
) -> None:
    text = json.dumps({"items": [item("a")], **extra}, indent=2) + "\n"
    stats, rejects, _ = load(tmp_path, text, name="odd.json")
    assert (stats.rows_read, stats.rows_loaded, stats.rows_rejected) == (1, 0, 1)
    assert stats.notes["document"] == {"values": 1, "api_pages": 0}
    assert codes(rejects) == [(1, code)]


def test_a_pretty_printed_page_file_gives_each_item_its_own_line(tmp_path: Path) -> None:
    page = {"items": [item("a"), item("b", recipient="")], "paging": {"next": "x"}}
    text = json.dumps(page, indent=2) + "\n"
    stats, rejects, con = load(tmp_path, text, name="page.json")
    starts = [n for n, text_line in enumerate(text.splitlines(), start=1) if text_line == "    {"]
    assert (stats.rows_read, stats.rows_loaded, stats.lines) == (2, 1, text.count("\n"))
    assert stats.lines == stats.blank_lines + stats.continuation_lines + 1
    assert codes(rejects) == [(starts[1], "missing_recipient")]
    assert con.execute("SELECT source_line FROM stg_events").fetchall() == [(starts[0],)]


def test_a_broken_multi_line_document_stops_the_run_at_its_line(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load(tmp_path, '{\n  "items": [\n    {"id": "a",\n', name="page.json")
    assert info.value.line == 4 and "cannot be parsed" in str(info.value)


@pytest.mark.parametrize("constant", ["NaN", "-Infinity", "Infinity"])
def test_a_document_with_a_nan_stops_the_run_at_the_line_of_the_nan(tmp_path: Path, constant: str) -> None:
    page = {"items": [item("a", subject="NaN Infinity"), item("b", timestamp=0)], "paging": {}}
    text = json.dumps(page, indent=2).replace('"timestamp": 0', f'"timestamp": {constant}') + "\n"
    at = next(
        n for n, text_line in enumerate(text.splitlines(), start=1) if constant in text_line.split('"')[-1]
    )
    assert at > 20
    with pytest.raises(DataError) as info:
        load(tmp_path, text, name="page.json")
    assert info.value.line == at and "cannot be parsed" in str(info.value)


def test_both_paths_give_identical_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [*good(40), line("x", id=5), line("y", timestamp=1.0), line("z", recipient=None), line("g3")]
    text = "\n".join(lines) + "\n"
    fast = load(tmp_path, text)
    monkeypatch.setattr(mailgun, "load_fast", lambda *args: None)
    slow = load(tmp_path, text)
    assert counts(fast[0]) == counts(slow[0]) == (44, 0, 44, 40, 3, 1)
    assert fast[1] == slow[1]
    query = "SELECT * FROM stg_events ORDER BY source_line"
    assert fast[2].execute(query).fetchall() == slow[2].execute(query).fetchall()


def test_the_fast_path_declines_when_the_reader_lost_the_file_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("audit.mailgun_proof._order_kept", lambda *args: False)
    stats, rejects, con = load(tmp_path, "\n".join(good(20)) + "\n")
    assert counts(stats) == (20, 0, 20, 20, 0, 0) and rejects == []
    assert con.execute("SELECT count(*) FROM stg_events").fetchall() == [(20,)]


def test_every_code_is_documented_and_rejected_and_kept_codes_do_not_overlap() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for code in {**REJECTED_CODES, **KEPT_CODES}:
        assert f"`{code}`" in readme, code
    assert not set(REJECTED_CODES) & set(KEPT_CODES)


def test_a_copy_of_an_event_the_state_holds_is_a_duplicate_listed_when_it_differs(
    tmp_path: Path, path_kind: str
) -> None:
    old, new = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    old.write_text(line("a") + "\n")
    page = json.dumps({"items": [item("d"), item("a", event="opened")], "paging": {}})
    new.write_text("\n".join([line("b"), line("a", event="failed"), line("a"), page]) + "\n")
    con, found = duckdb.connect(), Rejects()
    mailgun.load_events(con, Config(), (EventsInput("mg.gitlab.com", str(old)),), Rejects())
    con.execute(f"CREATE TABLE {STATE_EVENTS} AS SELECT *, DATE '2026-11-19' AS first_as_of FROM stg_events")
    [stats] = mailgun.load_events(
        con, Config(), (EventsInput("mg.gitlab.com", str(new)),), found, STATE_EVENTS
    )
    assert counts(stats)[2:] == (5, 2, 0, 3) and stats.notes["conflicting_duplicates"] == 2
    same = "same (domain, id) as an event kept from an earlier run (first read on 2026-11-19)"
    assert [(r[1], r[2], r[3]) for r in found.rows] == [
        (2, "conflicting_duplicate", f"{same} but different content; that copy was kept"),
        (4, "conflicting_duplicate", f"item 2: {same} but different content; that copy was kept"),
    ]
    assert con.execute("SELECT event_id FROM stg_events ORDER BY 1").fetchall() == [("b",), ("d",)]


def test_an_rfc_3339_timestamp_in_lower_case_is_read_at_its_instant(tmp_path: Path, path_kind: str) -> None:
    lines = [
        *good(5),
        logs_line("a", "2026-11-13t06:03:20.5-08:00"),
        logs_line("b", "2026-11-13 14:03:20.5z"),
    ]
    _, rejects, con = load(tmp_path, "\n".join(lines) + "\n")
    assert rejects == []
    at = con.execute("SELECT DISTINCT event_at FROM stg_events WHERE event_id IN ('a', 'b')").fetchall()
    assert at == [(dt.datetime(2026, 11, 13, 14, 3, 20, 500000),)]
