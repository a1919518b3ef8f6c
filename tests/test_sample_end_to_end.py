"""The committed sample through the real CLI: each check flags exactly the accounts the generator planted.

expected.json is the generator's own ground truth (what it planted), not a recording of a past run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner

from audit.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
EXPECTED: dict[str, Any] = json.loads((SAMPLE / "expected.json").read_text())


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample-out")
    result = CliRunner().invoke(
        main, ["run", "--config", str(SAMPLE / "audit.toml"), "--as-of", EXPECTED["as_of"], "--out", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    return out / EXPECTED["as_of"]


@pytest.mark.parametrize(
    "check", ["unconfirmed_accounts", "gitlab_password_resets", "email_mismatches", "undeliverable_emails"]
)
def test_each_check_flags_exactly_the_planted_accounts(reports: Path, check: str) -> None:
    flagged = pl.read_parquet(reports / f"{check}.parquet")["account_id"].to_list()
    assert flagged == EXPECTED["checks"][check]


def test_duplicate_clusters_are_exactly_the_planted_ones(reports: Path) -> None:
    frame = pl.read_parquet(reports / "duplicate_signups.parquet")
    clusters = sorted(
        sorted(group) for group in frame.group_by("cluster_id").agg("account_id")["account_id"].to_list()
    )
    assert clusters == sorted(sorted(c) for c in EXPECTED["checks"]["duplicate_signups"])
    for cluster_id, ids in frame.group_by("cluster_id").agg("account_id").iter_rows():
        assert cluster_id == f"dup-{min(ids)}"


def test_near_misses_are_not_flagged_where_they_would_be_wrong(reports: Path) -> None:
    flagged: dict[str, set[int]] = {}
    findings = pl.read_parquet(reports / "findings.parquet")
    for check, account_id in findings.select("check_name", "account_id").iter_rows():
        flagged.setdefault(check, set()).add(account_id)
    wrong = {
        "reset_": "gitlab_password_resets",
        "gitlab_email_": "email_mismatches",
        "unlinked_": "email_mismatches",
        "bounce_then_": "undeliverable_emails",
        "temporary_": "undeliverable_emails",
        "different_first_names": "duplicate_signups",
        "role_address": "duplicate_signups",
        "shared_last_name": "duplicate_signups",
        "confirmed_login": "unconfirmed_accounts",
    }
    checked = 0
    for name, ids in EXPECTED["near_misses"].items():
        for prefix, check in wrong.items():
            if name.startswith(prefix):
                assert not set(ids) & flagged.get(check, set()), f"{name} wrongly flagged by {check}"
                checked += 1
    assert checked >= 12


def test_reports_keep_emails_exactly_as_exported(reports: Path) -> None:
    accounts = pl.read_csv(SAMPLE / "accounts.csv", infer_schema=False).select(
        pl.col("id").cast(pl.Int64).alias("account_id"), "email"
    )
    exported = dict(accounts.iter_rows())
    findings = pl.read_parquet(reports / "findings.parquet")
    assert findings.height > 0
    for account_id, email in findings.select("account_id", "email").iter_rows():
        assert exported[account_id] == email


def test_manifest_accounts_for_every_input_row(reports: Path) -> None:
    manifest = json.loads((reports / "manifest.json").read_text())
    assert len(manifest["inputs"]) >= 1 + 3 * 2
    domains = {i["domain"] for i in manifest["inputs"] if i["kind"] == "events"}
    assert domains == {"mg.gitlab.com", "customers.gitlab.com", "mg.about.gitlab.com"}
    for entry in manifest["inputs"]:
        assert entry["rows_read"] == entry["rows_loaded"] + entry["rows_rejected"] + entry["rows_duplicate"]
    assert sum(i["rows_duplicate"] for i in manifest["inputs"]) > 0  # the nightly dumps overlap
