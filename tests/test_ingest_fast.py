"""The fast path reads every dump of a run in one statement and must still judge each file exactly as
the line-by-line path does: a broken file goes line by line on its own, the others stay fast, and
errors surface in the order the inputs were given."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path
from typing import Any

import duckdb
import pytest

from audit import mailgun, mailgun_fast
from audit.config import Config, EventsInput
from audit.errors import DataError, InputError
from audit.inputs import InputStats, Rejects
from audit.mailgun_sql import class_lists

TS = 1763630000.5


def line(eid: str, **extra: Any) -> str:
    body: dict[str, Any] = {
        "id": eid,
        "event": "delivered",
        "timestamp": TS,
        "recipient": "Ana@Acme.com",
        "message": {"headers": {"subject": "Confirmation instructions", "message-id": "m@x"}},
        "delivery-status": {"code": 250, "description": "", "message": "OK"},
    }
    return json.dumps(body | extra)


def good(n: int, prefix: str) -> list[str]:
    return [line(f"{prefix}{i}") for i in range(n)]


def write(path: Path, lines: list[str], gz: bool = False) -> None:
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)


def dumps(folder: Path) -> dict[str, str]:
    """Two domains, eight dumps: clean, gzipped, and each kind of file the reader must not judge alone."""
    a, b = folder / "a", folder / "b"
    a.mkdir()
    b.mkdir()
    write(a / "1-clean.jsonl", good(50, "c"))
    write(a / "2-gzip.jsonl.gz", good(40, "z") + good(5, "c"), gz=True)  # overlaps 1-clean
    write(a / "3-not-json.jsonl", [*good(10, "n"), '{"id": "x", oops', *good(10, "m")])
    write(a / "4-blank.jsonl", [*good(10, "b"), "", *good(3, "k")])
    write(a / "5-types.jsonl", [*good(10, "t"), line("t1", timestamp="soon"), line("t2", recipient=None)])
    write(b / "6-null.jsonl", [*good(10, "u"), "null", *good(2, "v")])
    write(b / "7-copy.jsonl", good(20, "c"))  # same ids in another domain: other events
    write(b / "8-conflict.jsonl", [line("c1", event="failed"), *good(4, "w")])
    return {"mg.gitlab.com": str(a / "*"), "customers.gitlab.com": str(b / "*")}


# (stats per file, sorted rejects rows, stg_events rows) of one load
Loaded = tuple[list[InputStats], list[tuple[str, int, str, str, str]], list[tuple[Any, ...]]]


def run(inputs: dict[str, str], **cfg: Any) -> Loaded:
    con, rejects = duckdb.connect(), Rejects()
    stats = mailgun.load_events(
        con,
        Config(**({"reject_limit": 1.0} | cfg)),
        tuple(EventsInput(d, p) for d, p in inputs.items()),
        rejects,
    )
    rows = con.execute("SELECT * FROM stg_events ORDER BY source_file, source_line").fetchall()
    return stats, sorted(rejects.rows), rows


def accounting(stats: list[InputStats]) -> list[tuple[Any, ...]]:
    return [
        (Path(s.path).name, s.sha256, s.lines, s.blank_lines, s.rows_read, s.rows_loaded, s.rows_rejected,
         s.rows_duplicate, s.notes)
        for s in stats
    ]  # fmt: skip


def test_one_read_of_many_dumps_gives_the_line_by_line_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = dumps(tmp_path)
    kept: list[int] = []
    real = mailgun_fast.load_fast

    def spy(*args: Any) -> Any:
        outcomes = real(*args)
        kept.extend(sorted(outcomes))
        return outcomes

    monkeypatch.setattr(mailgun, "load_fast", spy)
    fast = run(inputs)
    monkeypatch.setattr(mailgun, "load_fast", lambda *args: None)
    slow = run(inputs)
    assert accounting(fast[0]) == accounting(slow[0])
    assert fast[1] == slow[1]
    assert fast[2] == slow[2]
    names = [Path(s.path).name for s in fast[0]]
    # not-JSON (reader fails) and a blank line (row count short) go line by line; a JSON null or a
    # wrong type is one row rechecked by the line-by-line statement, its file stays on the fast path
    assert [names[no] for no in kept] == [
        "1-clean.jsonl", "2-gzip.jsonl.gz", "5-types.jsonl", "6-null.jsonl", "7-copy.jsonl",
        "8-conflict.jsonl",
    ]  # fmt: skip
    codes = {(Path(r[0]).name, r[1], r[2]) for r in fast[1]}
    assert codes == {
        ("3-not-json.jsonl", 11, "not_json"),
        ("5-types.jsonl", 11, "bad_type"),
        ("5-types.jsonl", 12, "missing_recipient"),
        ("6-null.jsonl", 11, "not_object"),
        ("8-conflict.jsonl", 1, "conflicting_duplicate"),  # c1 of 7-copy, same domain, other event
    }
    by_name = {Path(s.path).name: s for s in fast[0]}
    assert by_name["2-gzip.jsonl.gz"].rows_duplicate == 5
    assert by_name["7-copy.jsonl"].rows_duplicate == 0  # another domain
    assert by_name["4-blank.jsonl"].blank_lines == 1


@pytest.mark.parametrize("glob_name", ["d[1].jsonl", "d*.jsonl", "d?.jsonl"])
def test_a_file_named_like_a_glob_among_others_keeps_each_files_rows_apart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, glob_name: str
) -> None:
    # read_json expands each path it is given as a glob: `d[1].jsonl` reads d1.jsonl, `d*.jsonl` reads
    # both d files. A row's file is its position in the reader's list (file_index), so such a name
    # would shift every later file's rows onto the wrong name, with the same ids and line counts
    # unnoticed: it goes line by line
    files = {glob_name: "mg.gitlab.com", "d1.jsonl": "customers.gitlab.com", "c.jsonl": "other.example"}
    for name in files:
        write(tmp_path / name, [line(f"g{i}", recipient=f"{name}@acme.com") for i in range(3)])
    con, rejects = duckdb.connect(), Rejects()
    inputs = tuple(EventsInput(domain, str(tmp_path / name)) for name, domain in files.items())
    with caplog.at_level(logging.INFO, logger="audit.mailgun_fast"):
        stats = mailgun.load_events(con, Config(), inputs, rejects)
    assert [r.getMessage() for r in caplog.records if "line by line" in r.getMessage()] == [
        f"{tmp_path / glob_name}: loading line by line ({mailgun_fast.NAMED_LIKE_A_GLOB})"
    ]
    assert [(Path(s.path).name, s.rows_loaded) for s in stats] == [(name, 3) for name in files]
    rows = con.execute(
        "SELECT source_file, recipient, count(*) FROM stg_events GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert rows == sorted((str(tmp_path / name), f"{name}@acme.com", 3) for name in files)
    assert rejects.rows == []


def test_a_relative_path_under_a_folder_named_tilde_is_that_file_not_one_in_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DuckDB reads a leading `~` as the home folder; the reader is given absolute paths
    home = tmp_path / "home"
    for folder in (tmp_path / "~", home):
        folder.mkdir()
    write(tmp_path / "~" / "d.jsonl", [line(f"t{i}", recipient="here@acme.com") for i in range(3)])
    write(home / "d.jsonl", [line(f"t{i}", recipient="home@other.com") for i in range(3)])
    monkeypatch.chdir(tmp_path)
    con = duckdb.connect()
    con.execute("SET home_directory = $home", {"home": str(home)})
    stats = mailgun.load_events(con, Config(), (EventsInput("mg.gitlab.com", "~/d.jsonl"),), Rejects())
    assert [(s.path, s.rows_loaded) for s in stats] == [("~/d.jsonl", 3)]
    assert con.execute("SELECT DISTINCT source_file, recipient FROM stg_events").fetchall() == [
        ("~/d.jsonl", "here@acme.com")
    ]


@pytest.mark.parametrize("folder", ["severity=permanent", "event=opened", "recipient=x@y.z"])
def test_a_folder_named_like_a_hive_partition_changes_no_value(tmp_path: Path, folder: str) -> None:
    lines = [
        line(f"h{i}", event="failed", severity="temporary", recipient=f"r{i}@acme.com") for i in range(3)
    ]
    (tmp_path / folder).mkdir()
    write(tmp_path / folder / "h.jsonl", lines)
    con = duckdb.connect()
    inputs = (EventsInput("mg.gitlab.com", str(tmp_path / folder / "h.jsonl")),)
    stats = mailgun.load_events(con, Config(), inputs, Rejects())
    assert [s.rows_loaded for s in stats] == [3]
    assert con.execute("SELECT event, severity, recipient FROM stg_events ORDER BY 3").fetchall() == [
        ("failed", "temporary", f"r{i}@acme.com") for i in range(3)
    ]


def test_a_file_the_reader_refuses_leaves_the_others_on_the_fast_path(tmp_path: Path) -> None:
    for name, lines in (
        ("1.jsonl", good(5, "a")),
        ("2.jsonl", [*good(5, "b"), "[1, 2]"]),
        ("3.jsonl", good(5, "c")),
    ):
        write(tmp_path / name, lines)
    rejects = Rejects()
    con = duckdb.connect()
    con.execute(mailgun.MG_ROWS)
    for macro in mailgun.MACROS:
        con.execute(macro)
    candidates = [
        mailgun_fast.Candidate(no, str(tmp_path / name), "mg.gitlab.com", "gitlab")
        for no, name in enumerate(("1.jsonl", "2.jsonl", "3.jsonl"))
    ]
    lists = class_lists(Config(gitlab_domains=("mg.gitlab.com",), portal_domains=()))
    outcomes = mailgun_fast.load_fast(con, candidates, mailgun.params(lists, 0, "", "", 1 << 20))
    assert sorted(outcomes) == [0, 2]
    assert con.execute("SELECT file_no, count(*) FROM mg_rows GROUP BY 1 ORDER BY 1").fetchall() == [
        (0, 5),
        (2, 5),
    ]
    assert con.execute("SELECT min(source_line), max(source_line) FROM mg_rows").fetchall() == [(1, 5)]
    assert rejects.rows == []


def test_errors_come_in_input_order(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(gzip.compress(("\n".join(good(200, "g")) + "\n").encode())[:-30])
    write(tmp_path / "fine.jsonl", good(5, "f"))
    with pytest.raises(DataError, match="truncated"):
        run({"mg.gitlab.com": str(broken), "x.example": str(tmp_path / "none-*.jsonl")})
    with pytest.raises(InputError, match="no file matches"):
        run({"x.example": str(tmp_path / "none-*.jsonl"), "mg.gitlab.com": str(broken)})
    with pytest.raises(DataError, match="truncated"):
        run({"a.example": str(tmp_path / "fine.jsonl"), "mg.gitlab.com": str(broken)})


@pytest.mark.parametrize("odd", ["null", "{}", '{"foo": 1}'])
def test_a_line_without_any_field_read_far_from_the_samples_is_judged_exactly(
    tmp_path: Path, odd: str
) -> None:
    lines = good(6000, "g")  # past the first MiB, whose every line is a sample
    assert sum(len(x) + 1 for x in lines) > 1 << 20
    write(tmp_path / "d.jsonl", [*lines, odd, *good(3, "h")])
    stats, rejects, rows = run({"mg.gitlab.com": str(tmp_path / "d.jsonl")})
    code = "not_object" if odd == "null" else "missing_id"
    assert [(r[1], r[2]) for r in rejects] == [(6001, code)]
    assert (stats[0].rows_read, stats[0].rows_loaded, len(rows)) == (6004, 6003, 6003)


def test_a_reader_error_naming_no_file_gives_each_file_its_own_statement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("1.jsonl", "2.jsonl"):
        write(tmp_path / name, good(5, name[0]))
    real = mailgun_fast._statement
    calls: list[int] = []

    def flaky(con: Any, files: list[mailgun_fast.Candidate], *args: Any) -> str | None:
        calls.append(len(files))
        return "Invalid Input Error: something" if len(files) > 1 else real(con, files, *args)

    monkeypatch.setattr(mailgun_fast, "_statement", flaky)
    stats, rejects, rows = run({"mg.gitlab.com": str(tmp_path / "*.jsonl")})
    assert calls == [2, 1, 1]
    assert [s.rows_loaded for s in stats] == [5, 5] and rejects == [] and len(rows) == 10


def kept_by_fast_path(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The file numbers still on the fast path once its doubtful rows were rechecked."""
    kept: list[int] = []
    real = mailgun._recheck

    def spy(con: Any, cfg: Any, files: Any, outcomes: dict[int, Any], *args: Any) -> None:
        real(con, cfg, files, outcomes, *args)
        kept.extend(sorted(outcomes))

    monkeypatch.setattr(mailgun, "_recheck", spy)
    return kept


def as_line_by_line(
    monkeypatch: pytest.MonkeyPatch, inputs: dict[str, str], **cfg: Any
) -> tuple[list[int], Loaded]:
    """Load with the fast path, then with it switched off, and assert both give the same result:
    (the file numbers the fast path kept, the fast run's result)."""
    kept = kept_by_fast_path(monkeypatch)
    fast = run(inputs, **cfg)
    monkeypatch.setattr(mailgun, "load_fast", lambda *args: None)
    slow = run(inputs, **cfg)
    assert (accounting(fast[0]), fast[1], fast[2]) == (accounting(slow[0]), slow[1], slow[2])
    return kept, fast


# The reader turns a number, boolean, object or array into text when a column is VARCHAR: the fast
# path must still reject each as the line-by-line path does, and keep strings that only look alike.
ODD_VALUES = [
    ({"id": 12}, "bad_type"),
    ({"id": -0.5}, "bad_type"),
    ({"event": True}, "bad_type"),
    ({"recipient": {"a": 1}}, "bad_type"),
    ({"recipient": [1]}, "bad_type"),
    ({"id": float("nan")}, "bad_type"),  # json.dumps writes NaN, which both readers accept
    ({"event": float("-inf")}, "bad_type"),
    ({"id": 1e300 * 1e10}, "bad_type"),
    ({"event": False}, "bad_type"),
    ({"id": None}, "missing_id"),
    ({"recipient": ""}, "missing_recipient"),
    ({"recipient": " "}, "missing_recipient"),
    ({"id": "\u2003"}, "missing_id"),
    ({"event": "\u00a0"}, "missing_event"),
    ({"recipient": " ana@example.com"}, None),  # only blank is missing
    ({"id": "\u00e9t\u00e9"}, None),
    ({"timestamp": "1763630000.5"}, "bad_type"),
    ({"delivery-status": {"code": 250.5}}, "bad_type"),
    ({"domain": {"name": 7}}, "bad_type"),
    ({"id": "12"}, None),
    ({"id": " 1e5"}, None),
    ({"event": "true"}, None),
    ({"event": "Failed"}, None),  # lower-cased on both paths
    ({"reason": 25, "severity": True}, None),  # descriptive text keeps any JSON value as text
    ({"message": {"headers": {"subject": "2 new issues", "message-id": "20261111.cc44@x"}}}, None),
    ({"id": "nan"}, None),
    ({"id": "Infinity"}, None),
    ({"recipient": "inf@example.com"}, None),
    ({"id": "-"}, None),
    ({"recipient": "[x]@example.com"}, None),
    ({"id": '{"a": 1}'}, None),
    ({"id": 'caf\u00e9\\"q'}, None),
    ({"domain": {"name": "Mg.GitLab.com "}}, None),
    ({"domain": None, "message": {}}, None),  # null and empty objects are no wrong type
]


@pytest.mark.parametrize(("extra", "code"), ODD_VALUES)
def test_a_value_read_as_text_is_judged_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any], code: str | None
) -> None:
    lines = good(6000, "g")  # the odd line is past the sampled first MiB
    write(tmp_path / "d.jsonl", [*lines, line("odd", **extra), *good(3, "h")])
    inputs = {"mg.gitlab.com": str(tmp_path / "d.jsonl")}
    kept, fast = as_line_by_line(monkeypatch, inputs)
    assert kept == [0]
    assert [(r[1], r[2]) for r in fast[1]] == ([] if code is None else [(6001, code)])
    assert fast[0][0].rows_loaded == 6004 - (code is not None)


@pytest.mark.parametrize(
    "extra",
    [{"message": "Reset password instructions"}, {"message": {"headers": 7}}, {"delivery-status": [550]},
     {"domain": "mg.gitlab.com"}],
)  # fmt: skip
def test_a_nested_object_of_another_type_past_the_sample_sends_its_file_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any]
) -> None:
    """The reader refuses a non-object where it reads a struct, so the line is judged line by line."""
    write(tmp_path / "d.jsonl", [*good(6000, "g"), line("odd", **extra), *good(3, "h")])
    kept, fast = as_line_by_line(monkeypatch, {"mg.gitlab.com": str(tmp_path / "d.jsonl")})
    assert kept == []
    assert [(r[1], r[2]) for r in fast[1]] == [(6001, "bad_type")]


def test_event_names_are_lower_cased_on_the_fast_path_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "d.jsonl", [line(f"e{i}", event="Delivered") for i in range(5)])
    inputs = {"mg.gitlab.com": str(tmp_path / "d.jsonl")}
    kept = kept_by_fast_path(monkeypatch)
    fast = run(inputs)
    assert kept == [0]
    assert {row[3] for row in fast[2]} == {"delivered"}  # stg_events.event
    assert "unknown_events" not in fast[0][0].notes


def test_a_line_of_another_shape_far_from_the_samples_sends_its_file_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = json.dumps({"items": [json.loads(line("p1")), json.loads(line("p2"))], "paging": {}})
    write(tmp_path / "d.jsonl", [*good(6000, "g"), page, *good(3, "h")])
    inputs = {"mg.gitlab.com": str(tmp_path / "d.jsonl")}
    kept, fast = as_line_by_line(monkeypatch, inputs)
    assert kept == []
    assert fast[0][0].rows_read == 6005 and fast[0][0].notes["api_pages"] == 1


@pytest.mark.parametrize("limit", [1024, None])  # a small configured limit, and the default 1 MiB
def test_a_line_over_the_limit_far_from_the_samples_is_rejected_as_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int | None
) -> None:
    cfg = {} if limit is None else {"max_line_bytes": limit}
    size = Config(**cfg).max_line_bytes
    long = line("long", **{"user-variables": {"note": "x" * size}})  # valid JSON, one byte too many at most
    write(tmp_path / "d.jsonl", [*good(6000, "g"), long, *good(3, "h")])
    inputs = {"mg.gitlab.com": str(tmp_path / "d.jsonl")}
    kept, fast = as_line_by_line(monkeypatch, inputs, **cfg)
    assert kept == []
    assert [(r[1], r[2]) for r in fast[1]] == [(6001, "line_too_long")]


def test_a_line_just_within_the_limit_stays_on_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = line("edge", **{"user-variables": {"note": ""}})
    exact = body.replace('"note": ""', '"note": "' + "y" * (2048 - len(body)) + '"')
    assert len(exact) == 2048
    write(tmp_path / "d.jsonl", [*good(10, "g"), exact, *good(3, "h")])
    kept = kept_by_fast_path(monkeypatch)
    stats, rejects, _ = run({"mg.gitlab.com": str(tmp_path / "d.jsonl")}, max_line_bytes=2048)
    assert kept == [0] and rejects == [] and stats[0].rows_loaded == 14


# A key repeated in a nested object the loader reads but the reader has no column for: the reader loads
# such a line, so the sample check must see it (in the first MiB every line is a sample).
NESTED_REPEATS = [
    ('"subject": "Confirmation', '"to": "a", "to": "b", "subject": "Confirmation'),
    ('"code": 250', '"code": 250, "attempt-no": 1, "attempt-no": 2'),
    ('"message": {', '"message": {"size": 1, "size": 2, '),
    ('"delivery-status"', '"domain": {"name": "mg.gitlab.com", "x": 1, "x": 2}, "delivery-status"'),
]


@pytest.mark.parametrize(
    ("old", "new"), NESTED_REPEATS, ids=["headers", "delivery-status", "message", "domain"]
)
def test_a_nested_repeated_key_on_a_sample_line_is_rejected_as_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str
) -> None:
    odd = line("odd").replace(old, new, 1)
    assert odd != line("odd")
    write(tmp_path / "d.jsonl", [*good(10, "g"), odd, *good(3, "h")])
    inputs = {"mg.gitlab.com": str(tmp_path / "d.jsonl")}
    kept, fast = as_line_by_line(monkeypatch, inputs)
    assert kept == []
    assert [(r[1], r[2]) for r in fast[1]] == [(11, "duplicate_key")]


def test_running_out_of_memory_in_the_reader_is_no_reason_to_go_line_by_line(tmp_path: Path) -> None:
    """A statement that cannot get memory (or spill) says nothing about the file: the error goes up to
    the run (database.resource_failures gives it its exit code) instead of sending every file line by line."""
    write(tmp_path / "1.jsonl", good(5, "a"))
    con = duckdb.connect(config={"memory_limit": "16MB"})
    with pytest.raises(duckdb.OutOfMemoryException, match="failed to allocate"):
        mailgun.load_events(
            con, Config(), (EventsInput("mg.gitlab.com", str(tmp_path / "1.jsonl")),), Rejects()
        )
