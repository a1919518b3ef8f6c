"""Broken inputs end to end: exit code, one clear line, rejects.csv and the manifest's accounting."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit.cli import main

HEADER = "id,email,first_name,last_name,created_at,confirmed_at"


def accounts(n: int, *extra: str) -> str:
    rows = [
        f"{i},user{i}@acme.com,Ana,Lima,2025-10-01 10:00:00 UTC,2025-10-01 11:00:00 UTC"
        for i in range(1, n + 1)
    ]
    return "\n".join([HEADER, *rows, *extra]) + "\n"


def event(eid: str, **extra: object) -> str:
    body = {"id": eid, "event": "delivered", "timestamp": 1763460000.0, "recipient": "user1@acme.com"}
    return json.dumps(body | extra)


def run(
    tmp_path: Path, accounts_text: str | bytes, events: bytes | None = None, *flags: str
) -> tuple[int, str]:
    acc = tmp_path / "accounts.csv"
    acc.write_bytes(accounts_text.encode() if isinstance(accounts_text, str) else accounts_text)
    args = [
        "run",
        "--accounts",
        str(acc),
        "--out",
        str(tmp_path / "out"),
        "--as-of",
        "2025-11-20",
        "-q",
        *flags,
    ]
    if events is not None:
        (tmp_path / "ev.jsonl.gz").write_bytes(events)
        args += ["--events", f"mg.gitlab.com={tmp_path / 'ev.jsonl.gz'}"]
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.stderr


def dump(*lines: str) -> bytes:
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


def test_rejects_are_reported_and_every_input_is_accounted(tmp_path: Path) -> None:
    text = accounts(40, "41,x@acme.com,Bo", "42,,Cy,Dee,2025-10-01 10:00:00 UTC,")
    events = dump(*[event(f"e{i}") for i in range(30)], "not json", event("e1"), event("e2", event="failed"))
    code, stderr = run(tmp_path, text, events)
    assert code == 0, stderr
    folder = tmp_path / "out" / "2025-11-20"
    reports = {}
    for name in ("rejects", "data_quality"):
        with (folder / f"{name}.csv").open() as fh:
            reports[name] = list(csv.DictReader(fh))
        assert list(reports[name][0]) == ["file", "line", "code", "message", "raw_sha256"]
    shown = {
        name: [(Path(r["file"]).name, r["line"], r["code"]) for r in rows] for name, rows in reports.items()
    }
    assert shown == {
        "rejects": [("accounts.csv", "42", "field_count"), ("ev.jsonl.gz", "31", "not_json")],
        "data_quality": [
            ("accounts.csv", "43", "empty_email"),
            ("ev.jsonl.gz", "33", "conflicting_duplicate"),
        ],
    }
    rows = reports["rejects"] + reports["data_quality"]
    assert all(len(r["raw_sha256"]) == 64 and "@" not in r["message"] for r in rows)
    manifest = json.loads((folder / "manifest.json").read_text())
    by_name = {Path(i["path"]).name: i for i in manifest["inputs"]}
    acc, ev = by_name["accounts.csv"], by_name["ev.jsonl.gz"]
    assert (
        acc["lines"],
        acc["header_lines"],
        acc["rows_read"],
        acc["rows_loaded"],
        acc["rows_rejected"],
    ) == (43, 1, 42, 41, 1)
    assert (ev["lines"], ev["rows_read"], ev["rows_loaded"], ev["rows_rejected"], ev["rows_duplicate"]) == (
        33,
        33,
        30,
        1,
        2,
    )
    assert ev["notes"] == {"conflicting_duplicates": 1}
    for entry in manifest["inputs"]:
        assert entry["rows_read"] == entry["rows_loaded"] + entry["rows_rejected"] + entry["rows_duplicate"]


@pytest.mark.parametrize(
    ("accounts_text", "events", "code", "fragment"),
    [
        (
            "id;email;created_at;confirmed_at\n1;a@b.co;2025-10-01;\n",
            None,
            65,
            "accounts.csv:1: header lacks",
        ),
        (accounts(3).replace("user2@acme.com,Ana", 'user2@acme.com,"Ana'), None, 65, "rows rejected (33.3%)"),
        (
            accounts(30),
            dump(*[event(f"e{i}") for i in range(30)])[:-9],
            65,
            "ev.jsonl.gz: gzip data is truncated",
        ),
        (
            accounts(30),
            dump(*[event(f"e{i}") for i in range(18)], "x", "y"),
            65,
            "first: line 19 not_json, line 20",
        ),
        (
            accounts(3).encode("utf-8").replace(b"Ana", b"An\xe4", 1),
            None,
            65,
            "accounts.csv:2: line is not valid utf-8",
        ),
        ("", None, 66, "accounts.csv: accounts export is empty"),
        (HEADER + "\n", None, 66, "has a header but no rows"),
        (accounts(3), b"", 66, "ev.jsonl.gz: Mailgun dump holds no events"),
    ],
)
def test_a_broken_input_fails_with_one_clear_line_and_publishes_nothing(
    tmp_path: Path, accounts_text: str | bytes, events: bytes | None, code: int, fragment: str
) -> None:
    got, stderr = run(tmp_path, accounts_text, events)
    assert got == code, stderr
    assert fragment in stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    assert "@acme.com" not in stderr
    assert not (tmp_path / "out" / "2025-11-20").exists()


def test_allow_empty_and_the_reject_limit_come_from_the_config(tmp_path: Path) -> None:
    config = tmp_path / "audit.toml"
    config.write_text("[inputs]\nallow_empty = true\nreject_limit = 0.5\n")
    code, stderr = run(tmp_path, accounts(3, "4,x"), b"", "--config", str(config))
    assert code == 0, stderr
    config.write_text("[inputs]\nreject_limit = 2\n")
    code, stderr = run(tmp_path, accounts(3), None, "--config", str(config))
    assert code == 78 and "inputs.reject_limit" in stderr
