"""The same Mailgun event in every dump shape gives the same stg_events row."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from audit.config import Config, EventsInput
from audit.errors import DataError
from audit.inputs import Rejects
from audit.mailgun import load_events

V3: dict[str, Any] = {
    "id": "Ev1d-xYz_123",
    "event": "failed",
    "timestamp": 1763630000.5,
    "log-level": "error",
    "severity": "permanent",
    "reason": "bounce",
    "recipient": "Ana.Lima@Acme.com",
    "recipient-domain": "acme.com",
    "envelope": {"sender": "bounce@mg.gitlab.com", "targets": "Ana.Lima@Acme.com"},
    "message": {
        "headers": {"subject": "Reset password instructions | GitLab", "message-id": "m1@mg.gitlab.com"}
    },
    "delivery-status": {"code": 550, "description": "", "message": "5.1.1 User unknown"},
    "user-variables": {},
}
LOGS = {k: v for k, v in V3.items() if k not in ("timestamp", "user-variables")} | {
    "@timestamp": "2025-11-20T11:13:20.500+02:00",  # the same instant, with an offset
    "domain": {"name": "mg.gitlab.com"},
    "user-variables": "{}",  # the Logs API encodes user variables as a JSON string
}
FLAT = {
    "id": V3["id"],
    "event": "failed",
    "timestamp": 1763630000.5,
    "log_level": "error",
    "severity": "permanent",
    "reason": "bounce",
    "recipient": "Ana.Lima@Acme.com",
    "recipient_domain": "acme.com",
    "envelope_sender": "bounce@mg.gitlab.com",
    "envelope_targets": "Ana.Lima@Acme.com",
    "message_headers_subject": "Reset password instructions | GitLab",
    "message_headers_message_id": "m1@mg.gitlab.com",
    "delivery_status_code": 550,
    "delivery_status_description": "",
    "delivery_status_message": "5.1.1 User unknown",
}
FLAT_LOGS = {k: v for k, v in FLAT.items() if k != "timestamp"} | {  # a Logs API item, flattened
    "@timestamp": LOGS["@timestamp"],
    "domain_name": "mg.gitlab.com",
    "user_variables": "{}",
}
WEBHOOK = {"signature": {"timestamp": "1763630001", "token": "t0k", "signature": "ab12"}, "event-data": V3}
WEBHOOK_NEW = {"signature": WEBHOOK["signature"], "event-data": V3 | {"domain": {"name": "mg.gitlab.com"}}}
PAGE = {"items": [V3], "paging": {"next": "https://api.mailgun.net/v3/x/events/W3", "previous": "..."}}

SHAPES = {
    "v3_line": json.dumps(V3) + "\n",
    "api_page_line": json.dumps(PAGE) + "\n",
    "api_page_pretty": json.dumps(PAGE, indent=2) + "\n",
    "item_array_pretty": json.dumps([V3], indent=2) + "\n",
    "item_array_line": json.dumps([V3]) + "\n",
    "api_page_item_per_line": '{"items": [\n' + json.dumps(V3) + '\n], "paging": {}}\n',
    "webhook": json.dumps(WEBHOOK) + "\n",
    "webhook_with_domain": json.dumps(WEBHOOK_NEW) + "\n",
    "logs_api_item": json.dumps(LOGS) + "\n",
    "flattened": json.dumps(FLAT) + "\n",
    "flattened_logs_item": json.dumps(FLAT_LOGS) + "\n",
}


def stg_row(tmp_path: Path, name: str, text: str, gz: bool = False) -> tuple[Any, ...]:
    path = tmp_path / (name + (".jsonl.gz" if gz else ".jsonl"))
    path.write_bytes(gzip.compress(text.encode(), mtime=0) if gz else text.encode())
    con, rejects = duckdb.connect(), Rejects()
    stats = load_events(con, Config(), (EventsInput("mg.gitlab.com", str(path)),), rejects)
    assert rejects.rows == [] and stats[0].rows_loaded == 1
    rows = con.execute("SELECT * EXCLUDE (source_file, source_line) FROM stg_events").fetchall()
    assert len(rows) == 1
    return tuple(rows[0])


@pytest.mark.parametrize("gz", [False, True])
def test_every_shape_of_the_same_event_gives_the_same_row(tmp_path: Path, gz: bool) -> None:
    rows = {name: stg_row(tmp_path, name, text, gz) for name, text in SHAPES.items()}
    expected = rows["v3_line"]
    assert expected[:6] == ("mg.gitlab.com", "gitlab", V3["id"], "failed", expected[4], "Ana.Lima@Acme.com")
    assert expected[6:] == (
        "ana.lima@acme.com", "Reset password instructions | GitLab", "password_reset", "m1@mg.gitlab.com",
        "permanent", "bounce", 550, "5.1.1 User unknown",
    )  # fmt: skip
    for name, row in rows.items():
        assert row == expected, name


def test_a_flattened_item_whose_only_flattened_key_is_domain_name_takes_that_domain(tmp_path: Path) -> None:
    required = {k: FLAT_LOGS[k] for k in ("id", "event", "recipient", "@timestamp")}
    lines = [json.dumps(required | {"domain_name": "customers.gitlab.com"}), json.dumps(V3 | {"id": "b"})]
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(lines) + "\n")
    con, rejects = duckdb.connect(), Rejects()
    stats = load_events(con, Config(), (EventsInput("mg.gitlab.com", str(path)),), rejects)[0]
    assert (stats.rows_loaded, rejects.rows, "unknown_fields" in stats.notes) == (2, [], False)
    assert con.execute("SELECT event_id, domain FROM stg_events ORDER BY 1").fetchall() == [
        ("Ev1d-xYz_123", "customers.gitlab.com"),
        ("b", "mg.gitlab.com"),
    ]


def test_shapes_are_noted_and_can_be_mixed_in_one_file(tmp_path: Path) -> None:
    lines = [
        json.dumps(V3 | {"id": "a"}),
        json.dumps({"signature": {}, "event-data": V3 | {"id": "b"}}),
        json.dumps(LOGS | {"id": "c"}),
        json.dumps(FLAT | {"id": "d"}),
        json.dumps({"items": [V3 | {"id": "e"}], "paging": {}}),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    con, rejects = duckdb.connect(), Rejects()
    stats = load_events(con, Config(), (EventsInput("mg.gitlab.com", str(path)),), rejects)[0]
    assert (stats.rows_read, stats.rows_loaded, rejects.rows) == (5, 5, [])
    assert stats.notes["shapes"] == {"flat": 1, "logs": 1, "v3": 2, "webhook": 1}
    assert stats.notes["api_pages"] == 1
    assert con.execute("SELECT event_id, source_line FROM stg_events ORDER BY 1").fetchall() == [
        ("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("[" + ", ".join(json.dumps(V3 | {"id": f"a{n}"}) for n in range(3)) + "]\n", [1, 1, 1]),
        ("[" + ",\n".join(json.dumps(V3 | {"id": f"a{n}"}) for n in range(3)) + "]\n", [1, 2, 3]),
        ('{"items": [' + ",\n".join(json.dumps(V3 | {"id": f"a{n}"}) for n in range(3)) + "]}\n", [1, 2, 3]),
        ("".join("[" + json.dumps(V3 | {"id": f"a{n}"}) + "]\n" for n in range(3)), [1, 2, 3]),
    ],
    ids=["one line", "an item per line", "page with an item per line", "an array per line"],
)
def test_a_file_of_json_arrays_of_items_gives_each_item_at_its_line(
    tmp_path: Path, text: str, lines: list[int]
) -> None:
    path = tmp_path / "items.json"
    path.write_text(text)
    con, rejects = duckdb.connect(), Rejects()
    stats = load_events(con, Config(), (EventsInput("mg.gitlab.com", str(path)),), rejects)[0]
    assert (stats.rows_read, stats.rows_loaded, rejects.rows) == (3, 3, [])
    values = text.count("\n[") + text.startswith("[") + text.startswith("{")  # top-level values
    assert stats.lines == stats.blank_lines + stats.continuation_lines + values
    got = con.execute("SELECT event_id, source_line FROM stg_events ORDER BY 1").fetchall()
    assert got == [(f"a{n}", at) for n, at in enumerate(lines)]


@pytest.mark.parametrize("end", ["\n", ""], ids=["newline", "no newline"])
def test_a_one_line_array_of_items_is_a_document_whatever_its_length(tmp_path: Path, end: str) -> None:
    path = tmp_path / "items.json"
    path.write_text(json.dumps([V3 | {"id": f"a{n}"} for n in range(5)]) + end)
    assert path.stat().st_size > 2048
    con, rejects = duckdb.connect(), Rejects()
    stats = load_events(con, Config(max_line_bytes=2048), (EventsInput("mg.gitlab.com", str(path)),), rejects)
    assert (stats[0].rows_read, stats[0].rows_loaded, rejects.rows) == (5, 5, [])


def test_a_first_line_that_is_an_array_of_non_objects_is_a_rejected_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(["[1, 2]", *(json.dumps(V3 | {"id": f"a{n}"}) for n in range(3))]) + "\n")
    con, rejects = duckdb.connect(), Rejects()
    stats = load_events(con, Config(reject_limit=1.0), (EventsInput("mg.gitlab.com", str(path)),), rejects)[0]
    assert (stats.rows_read, stats.rows_loaded, [(r[1], r[2]) for r in rejects.rows]) == (
        4,
        3,
        [(1, "not_object")],
    )


def test_a_first_line_with_a_stray_comma_after_its_item_is_a_rejected_line(tmp_path: Path) -> None:
    """A JSON-lines dump whose first item ends in a comma: that line is rejected, the others load."""
    path = tmp_path / "d.jsonl"
    lines = [json.dumps(V3 | {"id": "a0"}) + ",", *(json.dumps(V3 | {"id": f"a{n}"}) for n in (1, 2, 3))]
    path.write_text("\n".join(lines) + "\n")
    con, rejects = duckdb.connect(), Rejects()
    stats = load_events(con, Config(reject_limit=1.0), (EventsInput("mg.gitlab.com", str(path)),), rejects)[0]
    assert (stats.rows_read, stats.rows_loaded, [(r[1], r[2]) for r in rejects.rows]) == (
        4,
        3,
        [(1, "not_json")],
    )


@pytest.mark.parametrize("cut", ['"log-level": "error",', '"envelope": {', '"tags": ['])
@pytest.mark.parametrize("gz", [False, True])
def test_a_first_line_cut_where_a_document_would_go_on_is_a_rejected_line(
    tmp_path: Path, cut: str, gz: bool
) -> None:
    """A JSON-lines dump whose first line ends as a pretty-printed document's would (after a comma, an
    opening brace or bracket): the next line is a whole object with the same first key, so the file is
    JSON lines with its first line rejected."""
    events = [json.dumps(V3 | {"id": f"a{n}", "tags": []}) for n in range(30)]
    first = events[0]
    events[0] = first[: first.index(cut) + len(cut)]
    path = tmp_path / ("d.jsonl.gz" if gz else "d.jsonl")
    data = ("\n".join(events) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    con, rejects = duckdb.connect(), Rejects()
    stats = load_events(con, Config(), (EventsInput("mg.gitlab.com", str(path)),), rejects)[0]
    assert (stats.rows_read, stats.rows_loaded, stats.rows_rejected) == (30, 29, 1)
    assert [(r[1], r[2]) for r in rejects.rows] == [(1, "not_json")]
    assert "document" not in stats.notes


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            '{"items": [\n' + json.dumps(V3) + ",\n" + json.dumps(V3)[:40] + "\n",
            4,
        ),  # item per line, cut: the end
        ('{"items": [\n' + json.dumps(V3) + "\n", 3),  # one item, the page never closed: the end
        (
            "[" + json.dumps(V3) + "]\n" + json.dumps(V3 | {"id": "b"})[:40] + "\n",
            2,
        ),  # an array, then a cut line
    ],
)
def test_a_broken_document_stops_the_run_naming_where_it_breaks(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "page.json"
    path.write_text(text)
    with pytest.raises(DataError, match="multi-line JSON document cannot be parsed") as caught:
        load_events(duckdb.connect(), Config(), (EventsInput("mg.gitlab.com", str(path)),), Rejects())
    assert caught.value.line == line


def _repeat_first_key(text: str, inside: str) -> str:
    """The JSON text with the first key of the object that follows `inside` written twice."""
    at = text.index(inside) + len(inside)
    key = text[at : text.index('": ', at) + 1]  # with its quotes
    return text[:at] + f'{key}: "x", ' + text[at:]


REPEATS = [
    ("v3 top level", json.dumps(V3), "{"),
    ("v3 message.headers", json.dumps(V3), '"headers": {'),
    ("v3 delivery-status", json.dumps(V3), '"delivery-status": {'),
    ("webhook top level", json.dumps(WEBHOOK), "{"),
    ("webhook event-data", json.dumps(WEBHOOK), '"event-data": {'),
    ("webhook event-data message.headers", json.dumps(WEBHOOK), '"headers": {'),
    ("webhook event-data domain", json.dumps(WEBHOOK_NEW), '"domain": {'),
    ("logs domain", json.dumps(LOGS), '"domain": {'),
    ("logs message", json.dumps(LOGS), '"message": {'),
]


@pytest.mark.parametrize(("text", "inside"), [(t, i) for _, t, i in REPEATS], ids=[n for n, _, _ in REPEATS])
def test_a_repeated_key_in_any_object_the_loader_reads_is_rejected_in_every_shape(
    tmp_path: Path, text: str, inside: str
) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join([json.dumps(V3 | {"id": "ok"}), _repeat_first_key(text, inside)]) + "\n")
    con, rejects = duckdb.connect(), Rejects()
    stats = load_events(con, Config(reject_limit=1.0), (EventsInput("mg.gitlab.com", str(path)),), rejects)[0]
    assert (stats.rows_read, stats.rows_loaded, stats.rows_rejected) == (2, 1, 1)
    assert [(r[1], r[2]) for r in rejects.rows] == [(2, "duplicate_key")]


DEEP = "[" * 3000 + "]" * 3000  # deeper than Python's json decoder can recurse


@pytest.mark.parametrize("where", ["page", "item"])
@pytest.mark.parametrize("pretty", [False, True], ids=["one line", "pretty document"])
def test_a_page_with_a_deeply_nested_field_still_gives_its_items(
    tmp_path: Path, where: str, pretty: bool
) -> None:
    items = [V3 | {"id": f"i{n}"} for n in range(3)]
    page = {"items": items, "paging": {}}
    text = json.dumps(page, indent=2 if pretty else None)
    if where == "page":
        text = text[: text.rindex("}")] + f', "deep": {DEEP}}}'
    else:
        at = text.index('"id": "i1"')
        text = text[:at] + f'"deep": {DEEP}, ' + text[at:]
    lines = [] if pretty else [json.dumps(V3 | {"id": "before"})]
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join([*lines, text]) + "\n")
    con, rejects = duckdb.connect(), Rejects()
    stats = load_events(con, Config(), (EventsInput("mg.gitlab.com", str(path)),), rejects)[0]
    assert rejects.rows == []
    ids = [r[0] for r in con.execute("SELECT event_id FROM stg_events ORDER BY event_id").fetchall()]
    assert ids == sorted([*(["before"] if not pretty else []), "i0", "i1", "i2"])
    assert stats.rows_loaded == len(ids)


def test_a_deep_value_that_is_not_json_is_still_an_error(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text(
        '{"items": [\n' + json.dumps(V3) + ',\n{"x": ' + "[" * 3000 + "1 2" + "]" * 3000 + "}\n]}\n"
    )
    with pytest.raises(DataError, match="multi-line JSON document cannot be parsed"):
        load_events(duckdb.connect(), Config(), (EventsInput("mg.gitlab.com", str(path)),), Rejects())


def _pages(broken: str) -> str:
    """Three API pages of 100 items each, one line each; the middle one broken as asked."""
    pages = [
        json.dumps({"items": [V3 | {"id": f"p{p}-{n}"} for n in range(100)], "paging": {}}) for p in range(3)
    ]
    if broken == "truncated":
        pages[1] = pages[1][: len(pages[1]) // 2]
    elif broken == "one_item":
        pages[1] = pages[1].replace('"id": "p1-7"', '"id": 7', 1)
    return "\n".join(pages) + "\n"


@pytest.mark.parametrize(
    ("broken", "rows", "outcome"),
    [
        # a rejected page is one row of 201, but a third of the file's lines and all of its 100 events
        ("truncated", None, "1 of 3 lines rejected (33.3%), above inputs.reject_limit (5.0%) "
                                     "(a rejected API page loses all its events); first: line 2 not_json"),
        ("one_item", (300, 299, 1), None),  # one item of a page: 1 row of 300, no line lost whole
    ],
)  # fmt: skip
def test_a_rejected_api_page_counts_against_the_reject_limit_as_a_line(
    tmp_path: Path, broken: str, rows: tuple[int, int, int] | None, outcome: str | None
) -> None:
    path = tmp_path / "pages.jsonl"
    path.write_text(_pages(broken))
    con, rejects = duckdb.connect(), Rejects()
    inputs = (EventsInput("mg.gitlab.com", str(path)),)
    if outcome is None:
        stats = load_events(con, Config(), inputs, rejects)[0]
        assert (stats.rows_read, stats.rows_loaded, stats.rows_rejected) == rows
        return
    with pytest.raises(DataError) as caught:
        load_events(con, Config(), inputs, rejects)
    assert caught.value.render() == f"{path}: {outcome}"
