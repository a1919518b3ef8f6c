"""Configuration: TOML keys, defaults, validation errors (exit 78) and environment variables."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit.cli import main
from audit.config import Config, EventsInput, load_config
from audit.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "audit.toml"
    path.write_text(text)
    return path


def test_defaults_match_the_readme() -> None:
    cfg = Config()
    assert cfg.gitlab_domains == ("mg.gitlab.com",)
    assert cfg.portal_domains == ("customers.gitlab.com",)
    assert cfg.lookback_days == 7
    assert cfg.reset_subjects == ("Reset password instructions",)
    assert cfg.confirmation_subjects == ("Confirmation instructions",)
    assert cfg.as_of == dt.datetime.now(dt.UTC).date()


def test_every_documented_key_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
out = "rep"
as_of = "2026-11-02"
[inputs]
accounts = "a.csv"
[inputs.events]
"MG.gitlab.com" = ["x/*.jsonl", "y.jsonl.gz"]
[domains]
gitlab = ["mg.gitlab.com", "mg2.gitlab.com"]
portal = "customers.gitlab.com"
[checks]
lookback_days = 3
reset_subjects = ["Reset password instructions", "Passwort zurücksetzen"]
confirmation_subjects = ["Confirmation instructions"]
[csv]
delimiter = ";"
encoding = "latin-1"
[columns]
"Customer ID" = "id"
""",
    )
    cfg = load_config(path)
    assert cfg.out == tmp_path / "rep"
    assert cfg.as_of == dt.date(2026, 11, 2)
    assert cfg.accounts == tmp_path / "a.csv"
    assert cfg.events == (
        EventsInput("mg.gitlab.com", str(tmp_path / "x/*.jsonl")),
        EventsInput("mg.gitlab.com", str(tmp_path / "y.jsonl.gz")),
    )
    assert cfg.gitlab_domains == ("mg.gitlab.com", "mg2.gitlab.com")
    assert cfg.portal_domains == ("customers.gitlab.com",)
    assert cfg.lookback_days == 3
    assert cfg.reset_subjects[1] == "Passwort zurücksetzen"
    assert (cfg.csv_delimiter, cfg.encoding) == (";", "latin-1")
    assert cfg.header_for("id") == "Customer ID"


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[checks]\nlookback_days = 3\n[inputs]\naccounts = "a.csv"\n')
    cfg = load_config(path, accounts=Path("/data/b.csv"), lookback_days=None)
    assert cfg.accounts == Path("/data/b.csv")
    assert cfg.lookback_days == 3


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[checks]\nlookback = 3\n", "unknown config key(s) in [checks]: lookback"),
        ("[checks]\nlookback_days = 0\n", "lookback_days must be from 1 to 36500, got 0"),
        ("[state]\nretention_days = 100000\n", "retention_days must be from checks.lookback_days to 36500"),
        ("as_of = 0001-01-01\n", "the audit date (--as-of) must be from 1970-01-01"),
        ("[checks]\nlookback_days = '7'\n", "'checks.lookback_days' must be int"),
        ("[checks]\nlookback_days = true\n", "'checks.lookback_days' must be int"),
        ("[columns]\nMail = 'mail'\n", "columns.Mail maps to 'mail'"),
        ("[columns]\nA = 'email'\nB = 'email'\n", "more than one header onto: email"),
        ("[domains]\ngitlab = ['x.com']\nportal = ['x.com']\n", "both gitlab and portal: x.com"),
        ("[csv]\nencoding = 'utf-99'\n", "not a known encoding"),
        ("[csv]\ndelimiter = ';;'\n", "single character"),
        ('[csv]\ndelimiter = "\\n"\n', "csv.delimiter cannot be a line break: lines end at LF (CRLF)"),
        ('[csv]\ndelimiter = "\\r"\n', "csv.delimiter cannot be a line break"),
        ("as_of = 'soon'\n", "as_of must be a date"),
        ("[matching]\nno_such_threshold = 1\n", "unknown config key(s) in [matching]"),
        ("not toml [", "invalid TOML"),
    ],
)
def test_invalid_configuration_is_a_config_error(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert fragment in str(info.value)


def test_missing_config_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: config file not found"):
        load_config(tmp_path / "nope.toml")


def test_options_come_from_environment_variables(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(
        "id,email,created_at,confirmed_at\n1,a@acme.com,2026-01-01 00:00:00 UTC,\n"
    )
    path = write(tmp_path, '[inputs]\naccounts = "a.csv"\n')
    result = CliRunner().invoke(
        main,
        ["run", "--as-of", "2026-11-20", "--quiet"],
        env={"ACCOUNT_AUDIT_CONFIG": str(path), "ACCOUNT_AUDIT_OUT": str(tmp_path / "env-out")},
    )
    assert result.exit_code == 0, result.stderr
    manifest = json.loads((tmp_path / "env-out" / "2026-11-20" / "manifest.json").read_text())
    assert manifest["reports"]["unconfirmed_accounts"] == 1


def test_debug_keeps_scratch_tables_and_logs_each_pass(tmp_path: Path) -> None:
    import duckdb

    (tmp_path / "a.csv").write_text(
        "id,email,created_at,confirmed_at\n1,a@acme.com,2026-01-01 00:00:00 UTC,\n"
    )
    result = CliRunner().invoke(
        main,
        [
            "run",
            "--accounts",
            str(tmp_path / "a.csv"),
            "--out",
            str(tmp_path / "o"),
            "--as-of",
            "2026-11-20",
            "--debug",
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert "pass unconfirmed_accounts: 1 rows" in result.stderr
    assert "a@acme.com" not in result.stderr  # emails never reach the logs
    con = duckdb.connect(str(tmp_path / "o" / "debug" / "2026-11-20.duckdb"), read_only=True)
    tables = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert {"stg_accounts", "stg_events", "stg_messages", "chk_unconfirmed_accounts"} <= tables


def test_duckdb_memory_limit_and_spill_folder_are_configured_and_checked(tmp_path: Path) -> None:
    assert Config().memory_limit == "1GB" and Config().temp_directory is None
    cfg = load_config(write(tmp_path, '[duckdb]\nmemory_limit = "768MiB"\ntemp_directory = "spill"\n'))
    assert (cfg.memory_limit, cfg.temp_directory) == ("768MiB", tmp_path / "spill")
    with pytest.raises(ConfigError, match=r"duckdb\.memory_limit must be a size"):
        load_config(write(tmp_path, '[duckdb]\nmemory_limit = "1GB\'; DROP TABLE x; --"\n'))
    with pytest.raises(ConfigError, match="resolves outside"):
        load_config(write(tmp_path, '[duckdb]\ntemp_directory = "/elsewhere"\n'))


def test_duckdb_runs_within_its_memory_limit_and_leaves_no_spill_folder(tmp_path: Path) -> None:
    from audit import pipeline

    (tmp_path / "a.csv").write_text(
        "id,email,created_at,confirmed_at\n1,a@acme.com,2026-01-01 00:00:00 UTC,\n"
    )
    seen: list[tuple[str, Path]] = []
    connect = pipeline.connect

    def spy(cfg: Config, folder: Path):  # type: ignore[no-untyped-def]
        con = connect(cfg, folder)
        limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        seen.append((limit, Path(con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0])))
        return con

    for extra in (
        [],
        ["--config", str(write(tmp_path, '[duckdb]\nmemory_limit = "300MB"\ntemp_directory = "t"\n'))],
    ):
        pipeline.connect = spy  # type: ignore[assignment]
        try:
            result = CliRunner().invoke(
                main,
                [
                    "run",
                    "--accounts",
                    str(tmp_path / "a.csv"),
                    "--out",
                    str(tmp_path / "o"),
                    "--as-of",
                    "2026-11-20",
                    "--quiet",
                    *extra,
                ],
            )
        finally:
            pipeline.connect = connect  # type: ignore[assignment]
        assert result.exit_code == 0, result.stderr
    (default_limit, default_spill), (limit, spill) = seen
    assert default_limit in ("953.6 MiB", "1000.0 MB") and default_spill.name == ".spill"
    assert default_spill.parent.name.startswith(".tmp-2026-11-20-") and not default_spill.exists()
    assert limit in ("286.1 MiB", "300.0 MB") and spill.parent == tmp_path / "t" and not spill.exists()
    assert sorted(p.name for p in (tmp_path / "o").iterdir() if p.name.startswith(".")) == [".lock"]
