"""The project checks itself: every SQL file parses, documents itself and has a test; sql/ ships."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pytest

from audit.checks import REQUIRED_HEADER_KEYS, load_checks, sql_dir
from audit.config import Config
from audit.pipeline import PYTHON_CHECKS, parameters
from audit.schema import STG_ACCOUNTS, STG_EVENTS, create_sql

ROOT = Path(__file__).resolve().parent.parent
CHECKS = load_checks()
STAGES = load_checks(sql_dir() / "stage")


def test_sql_folder_is_found_and_holds_the_checks() -> None:
    assert {c.name for c in CHECKS} == {
        "email_mismatches",
        "gitlab_password_resets",
        "unconfirmed_accounts",
        "undeliverable_emails",
    }
    assert [s.name for s in STAGES] == ["stg_messages"]


@pytest.mark.parametrize("check", CHECKS + STAGES, ids=lambda c: c.name)
def test_every_sql_file_parses_against_the_staging_schema(check) -> None:  # type: ignore[no-untyped-def]
    con = duckdb.connect()
    con.execute(create_sql("stg_accounts", STG_ACCOUNTS))
    con.execute(create_sql("stg_events", STG_EVENTS))
    params = parameters(Config())
    for stage in STAGES:
        con.execute(f"CREATE TABLE {stage.name} AS {stage.sql}", {p: params[p] for p in stage.parameters})
    con.execute(f"CREATE TABLE probe AS {check.sql}", {p: params[p] for p in check.parameters})
    columns = [row[0] for row in con.execute("DESCRIBE probe").fetchall()]
    if check in CHECKS:
        assert columns[:2] == ["account_id", "email"]
        assert columns[-3:] == ["severity", "evidence", "action"]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.name)
def test_every_check_documents_itself_and_is_tested(check) -> None:  # type: ignore[no-untyped-def]
    assert check.header.get("check") == check.name
    for key in REQUIRED_HEADER_KEYS:
        assert check.header.get(key), f"{check.path.name} lacks '-- {key}:'"
    tests = (ROOT / "tests" / "test_checks.py").read_text()
    assert re.search(rf'^\s+"{check.name}",$', tests, re.M), f"no case for {check.name} in test_checks.py"
    readme = (ROOT / "README.md").read_text()
    assert f"### `{check.name}`" in readme, f"{check.name} report is not documented in the README"


def test_python_checks_are_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    for check in PYTHON_CHECKS:
        assert f"### `{check.name}`" in readme


@pytest.mark.slow
def test_built_wheel_ships_the_sql_folder_and_templates(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("account_audit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n for n in names if n.startswith("audit/sql/") and n.endswith(".sql")}
    expected = {f"audit/sql/{p.relative_to(ROOT / 'sql')}" for p in (ROOT / "sql").rglob("*.sql")}
    assert shipped == expected
    assert "audit/templates/digest.html" in names  # the digest's page template ships too
    # Installed from the wheel (no source tree beside it), the package still finds its checks.
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
    )
    found = subprocess.run(
        [sys.executable, "-c", "import audit.checks as c; print(c.sql_dir()); print(len(c.load_checks()))"],
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert found == [str(target / "audit" / "sql"), str(len(CHECKS))]
