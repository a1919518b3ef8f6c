"""The command line end to end: exit codes, output, files read back, determinism, file modes."""

from __future__ import annotations

import csv
import gzip
import json
import os
import stat
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from audit.cli import main
from audit.errors import OutputError
from audit.report import neutralise_formulas

ACCOUNTS = """id,email,first_name,last_name,company,created_at,confirmed_at,last_sign_in_at,provider,uid,gitlab_email,login_activated
1,ana.lima@acme.com,Ana,Lima,Acme,2025-10-01 10:00:00 UTC,,,,,,true
2,bo.chen@acme.com,Bo,Chen,"=HYPERLINK(""http://x"")",2025-10-01 10:00:00 UTC,2025-10-01 11:00:00 UTC,2025-10-02 10:00:00 UTC,gitlab,55,-bo@gitlab.example,true
3,cy.dee@acme.com,Cy,Dee,Acme,2025-10-01 10:00:00 UTC,2025-10-01 11:00:00 UTC,2025-10-02 10:00:00 UTC,,,,true
4,cy_dee@acme.com,Cy,Dee,Acme,2025-10-03 10:00:00 UTC,2025-10-03 11:00:00 UTC,,,,,true
"""


def mail(eid: str, event: str, ts: float, to: str, subject: str, **extra: object) -> str:
    return json.dumps(
        {
            "id": eid,
            "event": event,
            "timestamp": ts,
            "recipient": to,
            "message": {"headers": {"subject": subject, "message-id": f"{eid[:2]}@x"}},
            **extra,
        }
    )


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    (tmp_path / "accounts.csv").write_text(ACCOUNTS)
    gl = tmp_path / "mg.gitlab.com"
    gl.mkdir()
    lines = [
        mail("r1a", "accepted", 1763460000.0, "cy.dee@acme.com", "Reset password instructions"),  # 2025-11-18
        mail("r1d", "delivered", 1763460005.0, "cy.dee@acme.com", "Reset password instructions"),
        mail(
            "b1f",
            "failed",
            1763460000.0,
            "ana.lima@acme.com",
            "Welcome",
            severity="permanent",
            reason="bounce",
            **{"delivery-status": {"code": 550, "description": "no such user"}},
        ),
    ]
    with gzip.open(gl / "events-1.jsonl.gz", "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    return tmp_path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def audit_args(inputs: Path, out: Path) -> list[str]:
    return [
        "run",
        "--accounts",
        str(inputs / "accounts.csv"),
        "--events",
        f"mg.gitlab.com={inputs}/mg.gitlab.com/*.jsonl.gz",
        "--out",
        str(out),
        "--as-of",
        "2025-11-20",
        "--quiet",
    ]


def test_run_writes_every_report_and_a_manifest(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = run(*audit_args(inputs, out))
    assert code == 0, stderr
    folder = out / "2025-11-20"
    assert f"Reports for 2025-11-20 written to {folder}" in stdout
    names = {
        "duplicate_signups",
        "email_mismatches",
        "gitlab_password_resets",
        "unconfirmed_accounts",
        "undeliverable_emails",
        "findings",
        "resolved",
        "rejects",
        "data_quality",
    }
    assert {p.name for p in folder.iterdir()} == {
        f"{n}.{ext}" for n in names for ext in ("csv", "parquet")
    } | {"manifest.json", "digest.html", "digest.md"}
    for name in names:
        assert (
            pl.read_parquet(folder / f"{name}.parquet").columns == pl.read_csv(folder / f"{name}.csv").columns
        )
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["as_of"] == "2025-11-20" and manifest["events_given"] is True
    assert manifest["reports"]["gitlab_password_resets"] == 1
    accounts = next(i for i in manifest["inputs"] if i["kind"] == "accounts")
    assert (accounts["rows_read"], accounts["rows_loaded"]) == (4, 4)
    findings = pl.read_parquet(folder / "findings.parquet")
    assert sorted(zip(findings["check_name"], findings["account_id"], strict=True)) == [
        ("duplicate_signups", 3),
        ("duplicate_signups", 4),
        ("email_mismatches", 2),
        ("gitlab_password_resets", 3),
        ("unconfirmed_accounts", 1),
        ("undeliverable_emails", 1),
    ]
    assert os.readlink(out / "latest") == "2025-11-20"


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run(*audit_args(inputs, out))[0] == 0
    with (out / "2025-11-20" / "email_mismatches.csv").open(newline="") as fh:
        row = next(csv.DictReader(fh))
    assert row["gitlab_email"] == "'-bo@gitlab.example"
    parquet = pl.read_parquet(out / "2025-11-20" / "email_mismatches.parquet")
    assert parquet["gitlab_email"].to_list() == ["-bo@gitlab.example"]


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        (" =HYPERLINK(1)", "' =HYPERLINK(1)"),
        ("\u00a0\u3000=1", "'\u00a0\u3000=1"),
        ("＝1+1", "'＝1+1"),
        ("a=1", "a=1"),
        ("ann@example.com", "ann@example.com"),
        (" ann", " ann"),
        ("", ""),
    ],
)
def test_neutralise_formulas_quotes_exactly_the_cells_a_spreadsheet_would_run(
    cell: str, written: str
) -> None:
    frame = pl.DataFrame({"text": [cell, None], "n": [-1, 2]})
    out = neutralise_formulas(frame)
    assert out["text"].to_list() == [written, None]
    assert out["n"].to_list() == [-1, 2]


def test_reports_are_owner_only(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    old = os.umask(0o022)
    try:
        assert run(*audit_args(inputs, out))[0] == 0
    finally:
        os.umask(old)
    folder = out / "2025-11-20"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}


def test_same_inputs_give_byte_identical_reports(inputs: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    assert run(*audit_args(inputs, first))[0] == 0
    assert run(*audit_args(inputs, second))[0] == 0
    files = sorted(p.name for p in (first / "2025-11-20").iterdir() if p.name != "manifest.json")
    assert len(files) == 20  # 9 reports x (csv, parquet) + digest.html, digest.md
    for name in files:
        assert (first / "2025-11-20" / name).read_bytes() == (second / "2025-11-20" / name).read_bytes(), name


def test_without_events_only_account_checks_run_and_it_says_so(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, _ = run(
        "run",
        "--accounts",
        str(inputs / "accounts.csv"),
        "--out",
        str(out),
        "--as-of",
        "2025-11-20",
        "--quiet",
    )
    assert code == 0
    assert "No Mailgun events were given" in stdout
    assert "gitlab_password_resets   skipped" in stdout
    manifest = json.loads((out / "2025-11-20" / "manifest.json").read_text())
    assert manifest["events_given"] is False
    assert set(manifest["checks_skipped"]) == {"gitlab_password_resets", "undeliverable_emails"}
    assert not (out / "2025-11-20" / "gitlab_password_resets.csv").exists()


def test_config_file_with_flags_overriding(inputs: Path, tmp_path: Path) -> None:
    config = tmp_path / "audit.toml"
    config.write_text(
        'out = "cfg-out"\n[inputs]\naccounts = "accounts.csv"\n'
        '[inputs.events]\n"mg.gitlab.com" = "mg.gitlab.com/*.jsonl.gz"\n[checks]\nlookback_days = 1\n'
    )
    code, _, stderr = run("run", "--config", str(config), "--as-of", "2025-11-20", "--quiet")
    assert code == 0, stderr
    manifest = json.loads((tmp_path / "cfg-out" / "2025-11-20" / "manifest.json").read_text())
    assert manifest["reports"]["gitlab_password_resets"] == 0  # the reset is two days old
    code, _, _ = run(
        "run", "--config", str(config), "--as-of", "2025-11-18", "--out", str(tmp_path / "flag"), "--quiet"
    )
    assert code == 0
    assert (tmp_path / "flag" / "2025-11-18" / "manifest.json").exists()


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--accounts", "{d}/missing.csv"], 66, "missing.csv: input file not found"),
        (["--accounts", "{d}/accounts.csv", "--events", "nodomain"], 78, "DOMAIN=PATH_OR_GLOB"),
        (
            ["--accounts", "{d}/accounts.csv", "--events", "mg gitlab!=x.jsonl"],
            78,
            "is not a sending domain name",
        ),
        (["--accounts", "{d}/accounts.csv", "--as-of", "20-11-2025"], 78, "--as-of must be a date"),
        (["--accounts", "{d}/bad.csv"], 65, "header lacks required column(s): confirmed_at"),
        (["--config", "{d}/bad.toml"], 78, "unknown config key(s)"),
        ([], 78, "no accounts export given"),
        (["--accounts", "{d}/accounts.csv", "--bogus"], 78, "No such option '--bogus'"),
        (
            ["--accounts", "{d}/accounts.csv", "--as-of", "9999-12-31"],
            78,
            "audit date (--as-of) must be from",
        ),
        (
            ["--accounts", "{d}/accounts.csv", "--as-of", "0001-01-01"],
            78,
            "audit date (--as-of) must be from",
        ),
        (["--accounts", "{d}"], 66, "input is not a file"),
    ],
)
def test_errors_are_one_clear_line_with_a_documented_exit_code(
    inputs: Path, tmp_path: Path, args: list[str], code: int, fragment: str
) -> None:
    (inputs / "bad.csv").write_text("id,email,created_at\n1,a@b.c,2026-01-01\n")
    (inputs / "bad.toml").write_text("[inputs]\naccount = 'x.csv'\n")
    out = tmp_path / "out"
    got, _, stderr = run("run", *[a.format(d=inputs) for a in args], "--out", str(out), "--quiet")
    assert got == code
    assert fragment in stderr
    assert len(stderr.strip().splitlines()) == 1 and stderr.startswith("account-audit: error: ")
    assert "Traceback" not in stderr
    assert not (out / "2025-11-20").exists()


def test_an_error_quoting_a_multi_line_library_message_is_still_one_line() -> None:
    error = OutputError(
        "cannot write: IO Error: checkpoint failed.\nOriginal error: disk full\n", file="o/s.db"
    )
    assert str(error) == "o/s.db: cannot write: IO Error: checkpoint failed. Original error: disk full"


def test_an_out_folder_that_is_a_file_is_an_option_error(inputs: Path) -> None:
    got, _, stderr = run(
        "run", "--accounts", str(inputs / "accounts.csv"), "--out", str(inputs / "accounts.csv")
    )
    assert got == 78
    assert stderr.strip().splitlines() == [
        f"account-audit: error: Invalid value for '--out': Directory '{inputs / 'accounts.csv'}' is a file. "
        "(see 'main run --help')"
    ]


def test_a_failed_run_leaves_earlier_reports_untouched(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run(*audit_args(inputs, out))[0] == 0
    before = {p.name: p.read_bytes() for p in (out / "2025-11-20").iterdir()}
    (inputs / "accounts.csv").write_text("id;email\n")
    assert run(*audit_args(inputs, out))[0] == 65
    assert {p.name: p.read_bytes() for p in (out / "2025-11-20").iterdir()} == before
    assert sorted(p.name for p in out.iterdir()) == [".lock", "2025-11-20", "latest", "state.duckdb"]


def test_every_command_has_help() -> None:
    for command in main.commands.values():
        assert command.help, command.name
        code, stdout, _ = run(command.name or "", "--help")
        assert code == 0 and "Usage:" in stdout
        for param in command.params:
            assert getattr(param, "help", None), f"{command.name} {param.name}"
