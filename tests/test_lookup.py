"""`account-audit lookup`: the engineer's view of one customer, driven through the CLI on the sample."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from click.testing import CliRunner

from audit.cli import main
from audit.lookup import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
AS_OF = "2026-11-20"
DOMAINS = ("mg.gitlab.com", "customers.gitlab.com", "mg.about.gitlab.com")
CASES = json.loads((SAMPLE / "expected.json").read_text())["cases"]
TOP_KEYS = {
    "schema_version",
    "query",
    "found",
    "state",
    "accounts",
    "mail",
    "duplicate_clusters",
    "email_mismatches",
    "findings",
    "suggestions",
    "next_step",
}


def cli(*args: str, color: bool = False) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), color=color)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample audited into a fresh OUT, as the nightly job would leave it."""
    out = tmp_path_factory.mktemp("lookup") / "out"
    args = ["run", "--accounts", str(SAMPLE / "accounts.csv"), "--out", str(out), "--as-of", AS_OF, "-q"]
    for domain in DOMAINS:
        args += ["--events", f"{domain}={SAMPLE}/mailgun/{domain}/*.jsonl.gz"]
    code, _, stderr = cli(*args)
    assert code == 0, stderr
    return out


def look(out: Path, email: str, *extra: str) -> tuple[int, str, dict[str, Any]]:
    """The terminal layout and the JSON for one address; both must agree on the exit status."""
    code, text, stderr = cli("lookup", email, "--out", str(out), *extra)
    json_code, raw, _ = cli("lookup", email, "--out", str(out), "--json", *extra)
    assert code == json_code, stderr
    assert stderr == ""
    return code, text, json.loads(raw)


def email_of(account_id: int) -> str:
    return next(c["email"] for c in CASES if c["id"] == account_id)


def action_of(out: Path, check: str, account_id: int) -> str:
    findings = pl.read_parquet(out / AS_OF / "findings.parquet")
    row = findings.filter((pl.col("check_name") == check) & (pl.col("account_id") == account_id))
    return str(row["action"][0])


# One planted case per check (data/sample/expected.json) and the story the engineer must see.
STORIES = {
    "unconfirmed_accounts": (
        225,
        ["never confirmed", "login deactivated", "latest confirmation mail: never seen"],
    ),
    "gitlab_password_resets": (
        69,
        ["mg.gitlab.com (GitLab.com)", "Reset password instructions", "delivered", "never signed in"],
    ),
    "undeliverable_emails": (
        66,
        ["failed permanently (suppress-bounce 605)", "customers.gitlab.com (portal)"],
    ),
    "duplicate_signups": (
        72,
        [
            "Duplicate sign-ups: cluster dup-72, 3 accounts",
            "keep account 110",
            "tomasnovak@gmail.com",
            "tomas.novak+gitlab@gmail.com",
        ],
    ),
    "email_mismatches": (67, ["Email mismatch", "GitLab.com user 780991:  joaquim.duarte@solymar.com"]),
}


@pytest.mark.parametrize("check", sorted(STORIES))
def test_a_planted_case_of_each_check_tells_its_story_and_next_step(out: Path, check: str) -> None:
    account_id, fragments = STORIES[check]
    code, text, result = look(out, email_of(account_id))
    assert code == 0
    assert result["schema_version"] == SCHEMA_VERSION and set(result) == TOP_KEYS
    assert result["found"] is True
    assert [a["account_id"] for a in result["accounts"] if a["matched_by"] == "exact"] == [account_id]
    assert check in {f["check"] for f in result["findings"]}
    top = result["findings"][0]
    assert result["next_step"] == f"Account {top['account_id']}: {action_of(out, top['check'], account_id)}"
    assert f"Next step: {result['next_step']}" in text
    for fragment in fragments:
        assert fragment in text, fragment
    assert "events the audit keeps" in text


def test_json_carries_the_same_story(out: Path) -> None:
    _, _, duplicate = look(out, email_of(72))
    (cluster,) = duplicate["duplicate_clusters"]
    assert cluster["cluster_id"] == "dup-72" and cluster["primary_account_id"] == 110
    assert sorted(a["account_id"] for a in cluster["accounts"]) == [72, 75, 110]
    assert [a["account_id"] for a in cluster["accounts"] if a["is_primary"]] == [110]
    _, _, mismatch = look(out, email_of(67))
    assert mismatch["email_mismatches"] == [
        {
            "account_id": 67,
            "portal_email": "joaquim.duarte@solymar.es",
            "gitlab_email": "joaquim.duarte@solymar.com",
            "gitlab_uid": "780991",
        }
    ]
    _, _, bounced = look(out, email_of(66))
    (portal,) = [d for d in bounced["mail"]["domains"] if d["domain"] == "customers.gitlab.com"]
    assert portal["role"] == "portal" and portal["messages"][0]["outcome"] == "failed permanently"
    assert bounced["findings"][0]["evidence"].startswith("permanent failure (suppress-bounce, 605)")
    _, _, reset = look(out, email_of(69))
    (gitlab,) = [d for d in reset["mail"]["domains"] if d["domain"] == "mg.gitlab.com"]
    assert {(m["kind"], m["outcome"]) for m in gitlab["messages"]} >= {("password_reset", "delivered")}


def test_delivery_is_fixed_before_the_confirmation_is_resent(out: Path) -> None:
    _, _, result = look(out, email_of(379))  # unconfirmed and undeliverable
    assert [f["check"] for f in result["findings"]] == ["undeliverable_emails", "unconfirmed_accounts"]
    assert result["next_step"].startswith("Account 379: The address is on the bounce list")


def test_an_account_is_found_through_its_mailbox_or_a_near_identical_address(out: Path) -> None:
    _, _, mailbox = look(out, "  Tomas.Novak+ticket@GoogleMail.com ")
    assert {a["account_id"]: a["matched_by"] for a in mailbox["accounts"]} == {
        72: "same_mailbox",
        75: "same_mailbox",
        110: "same_mailbox",
    }
    code, text, typo = look(out, "tomas.nvoak@gmail.com")
    assert code == 0 and {a["matched_by"] for a in typo["accounts"]} == {"similar"}
    assert "similar address" in text and "Confirm with the customer" in typo["next_step"]
    _, _, spaces = look(out, "ravi.shankar@brightwave.io")  # exported as " ravi.shankar@brightwave.io "
    assert [a["account_id"] for a in spaces["accounts"]] == [129]
    _, _, gitlab = look(out, "JOAQUIM.DUARTE@solymar.com")
    assert [(a["account_id"], a["matched_by"]) for a in gitlab["accounts"]] == [(67, "gitlab_email")]


def test_an_unknown_address_says_so_suggests_the_nearest_and_exits_1(out: Path) -> None:
    code, text, result = look(out, "wendell.okoro@meridianbank.co")
    assert code == 1 and result["found"] is False
    assert "No account and no kept mail match this address." in text
    assert result["suggestions"][0]["email"] == "wendell.okoro@meridianbank.com"
    assert "wendell.okoro@meridianbank.com" in text
    assert "ask the customer which address they signed up with" in result["next_step"]


@pytest.mark.parametrize(
    "evil",
    [
        "x'; DROP TABLE accounts; --@acme.com",
        "' OR '1'='1",
        "farhan.qureshi@yahoo.com' OR 1=1 --",
        'a"b;c@acme.com',
        "$q@acme.com",
        "%@%",
        "_@_",
    ],
)
def test_quotes_semicolons_and_sql_in_the_address_are_harmless(out: Path, evil: str) -> None:
    before = (out / "state.duckdb").read_bytes()
    code, _, result = look(out, evil)
    assert code == 1 and result["accounts"] == [] and result["query"] == evil.strip()
    assert (out / "state.duckdb").read_bytes() == before  # opened read-only: not a byte changed
    con = duckdb.connect(str(out / "state.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM accounts").fetchall() == [(400,)]
    con.close()


def test_colour_only_on_a_terminal(out: Path) -> None:
    _, plain, _ = cli("lookup", email_of(66), "--out", str(out))
    _, coloured, _ = cli("lookup", email_of(66), "--out", str(out), color=True)
    assert "\x1b[" not in plain and "\x1b[" in coloured


def test_the_state_path_comes_from_the_config(out: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere" / "audit-state.duckdb"
    moved.parent.mkdir()
    moved.write_bytes((out / "state.duckdb").read_bytes())
    config = tmp_path / "audit.toml"
    config.write_text('out = "reports"\n[state]\npath = "elsewhere/audit-state.duckdb"\n')
    code, text, _ = cli("lookup", email_of(225), "--config", str(config))
    assert code == 0 and "#225" in text
    assert "No report folder found" in text  # tmp/reports has no report folder: said, not hidden


def test_a_missing_state_is_a_clear_error(tmp_path: Path) -> None:
    code, _, stderr = cli("lookup", "ana@acme.com", "--out", str(tmp_path))
    assert code == 66
    assert "state.duckdb: no state database yet: run `account-audit run` first" in stderr


def test_a_state_being_written_is_retried_then_reported(
    out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state.duckdb"
    state.write_bytes((out / "state.duckdb").read_bytes())
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"con = duckdb.connect({str(state)!r}); print('held', flush=True); time.sleep(float(sys.argv[1]))",
            "30",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        monkeypatch.setattr("audit.lookup.LOCK_ATTEMPTS", 3)
        monkeypatch.setattr("audit.lookup.LOCK_WAIT_SECONDS", 0.05)
        code, _, stderr = cli("lookup", "ana@acme.com", "--out", str(tmp_path))
    finally:
        holder.kill()
        holder.wait()
    assert code == 75
    assert "the state database is being written by a run right now" in stderr and "try again" in stderr
    assert cli("lookup", email_of(225), "--out", str(tmp_path))[0] == 0  # released: works again
