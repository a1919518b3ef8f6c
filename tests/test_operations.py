"""Nightly operation: the run lock, kills at any stage, history of findings, incremental Mailgun,
file modes, path confinement and logs free of email addresses."""

from __future__ import annotations

import gzip
import json
import os
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
from click.testing import CliRunner

from audit.cli import main
from audit.lock import run_lock

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
AS_OF = "2026-11-20"
DOMAINS = ("mg.gitlab.com", "customers.gitlab.com", "mg.about.gitlab.com")
EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(\.[\w-]+)+")


def sample_args(out: Path, as_of: str = AS_OF, nights: list[str] | None = None) -> list[str]:
    """The sample's inputs; `nights` limits the Mailgun dumps to those nights' files."""
    args = ["run", "--accounts", str(SAMPLE / "accounts.csv"), "--out", str(out), "--as-of", as_of]
    for domain in DOMAINS:
        for night in nights or ["*"]:
            args += ["--events", f"{domain}={SAMPLE}/mailgun/{domain}/events-{night}.jsonl.gz"]
    return args


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def report_rows(folder: Path, name: str) -> list[dict[str, object]]:
    frame = pl.read_parquet(folder / f"{name}.parquet")
    return frame.drop([c for c in ("first_seen", "status") if c in frame.columns]).to_dicts()


def test_a_second_run_while_one_is_active_exits_75(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with run_lock(out, __import__("datetime").date(2026, 11, 20)):
        code, _, stderr = cli(*sample_args(out), "--quiet")
    assert code == 75
    assert f"another run holds the lock (pid {os.getpid()}, as-of 2026-11-20" in stderr
    assert not (out / AS_OF).exists()


def test_a_lock_left_by_a_killed_process_does_not_block(tmp_path: Path) -> None:
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import datetime, sys, time; from pathlib import Path; from audit.lock import run_lock\n"
         f"with run_lock(Path({str(out)!r}), datetime.date(2026, 11, 20)):\n"
         "    print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    assert cli(*sample_args(out), "--quiet")[0] == 75
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert cli(*sample_args(out), "--quiet")[0] == 0


@pytest.mark.parametrize(
    ("events", "fails", "message"),
    [
        (20_000, "commit", "cannot write the state database"),
        (
            10_000,
            "checkpoint",
            "the state database kept this run in its write-ahead log but cannot be checkpointed",
        ),
    ],
)
def test_a_state_write_that_fails_exits_73_and_publishes_nothing(
    tmp_path: Path, events: int, fails: str, message: str
) -> None:
    """A full disk (here a file size limit) while the night's events go into the state. With more events
    the log outgrows the limit and COMMIT fails (DuckDB reports that as a TransactionException, and it
    ends the transaction); with fewer, COMMIT succeeds and the checkpoint at DETACH fails, so the state
    keeps the night in its log: a later run of the date then gives the same reports."""
    out, clean = tmp_path / "out", tmp_path / "clean"
    for folder in (out, clean):
        assert cli(*sample_args(folder, "2026-11-19", ["2026-11-1[0-9]"]), "--quiet")[0] == 0
    before, state = snapshot(out / "2026-11-19"), (out / "state.duckdb").read_bytes()
    sample = gzip.decompress((SAMPLE / "mailgun/mg.gitlab.com/events-2026-11-20.jsonl.gz").read_bytes())
    items = [json.loads(line) for line in sample.splitlines()]
    dump = tmp_path / "big.jsonl"  # the reports stay far under the limit
    dump.write_text(
        "".join(json.dumps(items[n % len(items)] | {"id": f"big-{n}"}) + "\n" for n in range(events))
    )
    limit = 1 << 20

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    args = [*sample_args(out), "--events", f"mg.gitlab.com={dump}", "--quiet"]
    night = subprocess.run(
        [sys.executable, "-m", "audit", *args], capture_output=True, text=True, cwd=ROOT, preexec_fn=limited
    )
    assert night.returncode == 73, night.stderr
    assert night.stderr.startswith(f"account-audit: error: {out / 'state.duckdb'}: {message}: ")
    assert night.stderr.count("\n") == 1 and "Traceback" not in night.stderr
    assert not (out / AS_OF).exists() and os.readlink(out / "latest") == "2026-11-19"
    assert snapshot(out / "2026-11-19") == before
    assert (out / "state.duckdb").read_bytes() == state
    log = out / "state.duckdb.wal"  # holds the night only when its commit went through
    assert (log.exists() and log.stat().st_size > 0) == (fails == "checkpoint")
    assert cli(*args)[0] == 0  # with room again, the night runs
    assert cli(*sample_args(clean), "--events", f"mg.gitlab.com={dump}", "--quiet")[0] == 0
    assert snapshot(out / AS_OF) | {"manifest.json": b""} == snapshot(clean / AS_OF) | {"manifest.json": b""}


def test_a_full_disk_under_the_debug_database_exits_73_and_publishes_nothing(tmp_path: Path) -> None:
    """With --debug every table lives in OUT/debug/<date>.duckdb; when it cannot grow (here a file size
    limit) the run says which file and why, not "internal error"."""
    out = tmp_path / "out"
    assert cli(*sample_args(out, "2026-11-19", ["2026-11-1[0-9]"]), "--quiet")[0] == 0
    before = snapshot(out / "2026-11-19")

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    night = subprocess.run(
        [sys.executable, "-m", "audit", *sample_args(out), "--debug", "--quiet"],
        capture_output=True, text=True, cwd=ROOT, preexec_fn=limited,
    )  # fmt: skip
    assert night.returncode == 73, night.stderr
    last = night.stderr.splitlines()[-1]  # --debug prints the traceback first
    database = out / "debug" / f"{AS_OF}.duckdb"
    assert last.startswith(f"account-audit: error: {database}: DuckDB cannot write the --debug database: ")
    assert last.endswith("File too large): free space there")
    assert not (out / AS_OF).exists() and os.readlink(out / "latest") == "2026-11-19"
    assert snapshot(out / "2026-11-19") == before


def test_a_spill_with_no_room_exits_73_naming_where_it_spills(tmp_path: Path) -> None:
    """DuckDB's own cap on its spill files (by default the free space of their disk) stands in for a
    full disk: the error it raises in the middle of a pass names the folder and the setting to change."""
    from audit.config import Config
    from audit.database import connect, resource_failures
    from audit.errors import OutputError

    cfg = Config(out=tmp_path / "out", memory_limit="64MB")
    folder = tmp_path / "staging"
    with pytest.raises(OutputError) as caught, resource_failures(cfg):
        con = connect(cfg, folder)
        con.execute("SET max_temp_directory_size = '1MB'")
        con.execute("CREATE TABLE t AS SELECT range AS n, repeat('x', 100) || range AS s FROM range(3000000)")
    assert caught.value.exit_code == 73 and caught.value.file == str(cfg.out)  # the spill folder is gone
    assert caught.value.message.startswith("DuckDB cannot write the data it spills: no room on its disk (")
    assert "failed to offload" in caught.value.message and "\n" not in caught.value.message
    assert caught.value.message.endswith("set [duckdb] temp_directory to a disk with room")


@pytest.mark.parametrize(
    ("error", "resource"),
    [  # DuckDB's words, as seen on a full tmpfs and under a file size limit
        (
            duckdb.IOException('Could not write file "/o/.spill/duckdb_temp_storage.tmp": File too large'),
            True,
        ),
        (duckdb.OutOfMemoryException("failed to offload data block of size 128.0 KiB"), True),
        (
            duckdb.TransactionException(
                'Failed to commit: Could not write file "d.wal": No space left on device'
            ),
            True,
        ),
        (duckdb.InvalidInputException('Malformed JSON in file "d.jsonl", at byte 1 in record 2'), False),
        (duckdb.IOException('No files found that match the pattern "d.jsonl"'), False),
    ],
)
def test_resource_failures_are_told_from_problems_of_a_file(error: duckdb.Error, resource: bool) -> None:
    """The fast reader sends a file line by line when DuckDB's reader fails on it, but not when the
    database has no room to work: that would hide the cause and fail again, slower."""
    from audit.database import is_resource_failure

    assert is_resource_failure(error) is resource


def test_running_out_of_memory_exits_78_naming_the_memory_limit(tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = tmp_path / "audit.toml"
    config.write_text('[duckdb]\nmemory_limit = "16MB"\n')
    code, _, stderr = cli(*sample_args(out), "--config", str(config), "--quiet")
    assert code == 78, stderr
    assert stderr.startswith(
        "account-audit: error: DuckDB ran out of memory within duckdb.memory_limit = '16MB' ("
    )
    assert stderr.endswith("): raise [duckdb] memory_limit\n") and stderr.count("\n") == 1
    assert not (out / AS_OF).exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "stage", ["load_accounts", "load_events", "check:duplicate_signups", "write_reports", "save_history"]
)
def test_a_run_killed_at_any_stage_leaves_earlier_reports_intact(tmp_path: Path, stage: str) -> None:
    out = tmp_path / "out"
    assert cli(*sample_args(out, "2026-11-19", ["2026-11-1[0-9]"]), "--quiet")[0] == 0
    assert cli(*sample_args(out), "--quiet")[0] == 0
    before = {d: snapshot(out / d) for d in ("2026-11-19", AS_OF)}
    latest = os.readlink(out / "latest")

    victim = subprocess.Popen(
        [sys.executable, "-m", "audit", *sample_args(out), "--verbose"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    assert victim.stderr is not None
    for line in victim.stderr:
        if f"stage {stage} done" in line:
            victim.send_signal(signal.SIGKILL)
            break
    victim.wait()
    assert victim.returncode == -signal.SIGKILL, f"the run ended before stage {stage}"

    assert {d: snapshot(out / d) for d in ("2026-11-19", AS_OF)} == before
    assert os.readlink(out / "latest") == latest
    assert cli(*sample_args(out), "--quiet")[0] == 0
    assert snapshot(out / AS_OF) | {"manifest.json": b""} == before[AS_OF] | {"manifest.json": b""}
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".") and p.name != ".lock") == []


@pytest.mark.parametrize("blocker", ["date", "dangling link", "latest"])
def test_a_file_where_the_reports_go_stops_the_run_before_it_saves_anything(
    tmp_path: Path, blocker: str
) -> None:
    """OUT/<as-of> that is not a folder, or OUT/latest that is not a link: publishing would fail after
    the state was saved (or move the user's file aside), so the run refuses before any work."""
    out = tmp_path / "out"
    assert cli(*sample_args(out, "2026-11-19", ["2026-11-1[0-9]"]), "--quiet")[0] == 0
    state = (out / "state.duckdb").read_bytes()
    if blocker == "date":
        (in_the_way := out / AS_OF).write_text("notes")
        reason = "is not a folder, so this date's reports cannot go here: move it away"
    elif blocker == "dangling link":
        (in_the_way := out / AS_OF).symlink_to(tmp_path / "gone")
        reason = "is not a folder, so this date's reports cannot go here: move it away"
    else:
        (out / "latest").unlink()
        (in_the_way := out / "latest").mkdir()
        reason = "is not a symbolic link, so it cannot point at the newest reports: move it away"
    code, _, stderr = cli(*sample_args(out), "--quiet")
    assert code == 73 and stderr == f"account-audit: error: {in_the_way}: {reason}\n"
    assert (out / "state.duckdb").read_bytes() == state
    if blocker == "date":
        assert in_the_way.read_text() == "notes"
    elif blocker == "dangling link":
        assert os.readlink(in_the_way) == str(tmp_path / "gone")
    else:
        assert list(in_the_way.iterdir()) == []
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [".lock", "2026-11-19", "latest", "state.duckdb"] + ([] if blocker == "latest" else [AS_OF])
    )


def test_a_publish_that_cannot_swap_puts_the_dates_earlier_reports_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from audit import report
    from audit.errors import OutputError

    out, staged = tmp_path / "out", tmp_path / "out" / ".tmp-new"
    (out / AS_OF).mkdir(parents=True)
    (out / AS_OF / "findings.csv").write_text("yesterday's")
    staged.mkdir()
    real = os.rename

    def refuse_the_new(source: object, target: object) -> None:
        if Path(str(source)) == staged:
            raise PermissionError(1, "Operation not permitted")
        real(source, target)  # type: ignore[arg-type]

    monkeypatch.setattr(report.os, "rename", refuse_the_new)
    with pytest.raises(OutputError, match="cannot publish reports: Operation not permitted"):
        report.publish(staged, out, AS_OF)
    assert (out / AS_OF / "findings.csv").read_text() == "yesterday's"
    assert sorted(p.name for p in out.iterdir()) == [".tmp-new", AS_OF]


def test_rerunning_a_date_replaces_it_with_identical_reports(tmp_path: Path) -> None:
    """The state is read as it was before the run's date, so a re-run reads that date's dumps again:
    the same reports as the first run, rejects and data-quality rows included, and the same state after."""
    out = tmp_path / "out"
    assert cli(*sample_args(out, "2026-11-19", ["2026-11-1[0-9]"]), "--quiet")[0] == 0
    night = gzip.decompress((SAMPLE / "mailgun/mg.gitlab.com/events-2026-11-20.jsonl.gz").read_bytes())
    lines = night.splitlines()
    changed = json.dumps(json.loads(lines[0]) | {"event": "failed"}).encode()  # a conflicting copy
    extra = tmp_path / "extra.jsonl"
    extra.write_bytes(b"\n".join([*lines[:40], b"not json", changed]) + b"\n")
    args = [*sample_args(out), "--events", f"mg.gitlab.com={extra}", "--quiet"]

    def state() -> list[tuple[object, ...]]:
        with duckdb.connect(str(out / "state.duckdb"), read_only=True) as con:
            return [
                *con.execute("SELECT * FROM events ORDER BY ALL").fetchall(),
                *con.execute("SELECT * EXCLUDE (rows_loaded) FROM dumps ORDER BY ALL").fetchall(),
            ]

    def manifest(folder: Path) -> dict[str, object]:
        """Without times, and with an input's loaded and duplicate rows as one count: deliveries the
        first run dropped from the state as superseded are no longer known (so loaded, not duplicate)."""
        data = json.loads((folder / "manifest.json").read_text())
        for item in data["inputs"]:
            item["rows_loaded"] += item.pop("rows_duplicate", 0)
        volatile = ("started_at", "finished_at", "stages", "events_from_state")
        return {k: v for k, v in data.items() if k not in volatile}

    assert cli(*args)[0] == 0
    first, first_manifest, first_state = snapshot(out / AS_OF), manifest(out / AS_OF), state()
    assert [r["code"] for r in report_rows(out / AS_OF, "rejects")] == ["not_json"]
    assert [r["code"] for r in report_rows(out / AS_OF, "data_quality")] == ["conflicting_duplicate"]
    assert cli(*args)[0] == 0
    second = snapshot(out / AS_OF)
    assert manifest(out / AS_OF) == first_manifest and state() == first_state
    first.pop("manifest.json"), second.pop("manifest.json")
    assert first == second


def state_rows(out: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(out / "state.duckdb"), read_only=True) as con:
        return [
            *con.execute("SELECT * FROM events ORDER BY ALL").fetchall(),
            *con.execute("SELECT * FROM dumps ORDER BY ALL").fetchall(),
        ]


@pytest.mark.parametrize("given", ["no events", "some of its dumps"])
def test_a_rerun_of_a_date_without_all_its_dumps_keeps_what_its_first_run_read(
    tmp_path: Path, given: str
) -> None:
    """Mailgun keeps its logs a few days only: the state may be the one place a night's events are left,
    so a re-run that is not given every dump the date's first run read leaves them (and skips the
    dumps it is given as read)."""
    out = tmp_path / "out"
    assert cli(*sample_args(out, "2026-11-19", ["2026-11-1[0-9]"]), "--quiet")[0] == 0
    assert cli(*sample_args(out), "--quiet")[0] == 0
    before = state_rows(out)
    args = sample_args(out)[:7]  # run, the accounts, --out and --as-of
    if given != "no events":  # the night's dumps of two of the three domains
        args += [f"--events={d}={SAMPLE}/mailgun/{d}/events-{AS_OF}.jsonl.gz" for d in DOMAINS[:2]]
    code, _, stderr = cli(*args, "--quiet")
    assert code == 0, stderr
    assert state_rows(out) == before
    manifest = json.loads((out / AS_OF / "manifest.json").read_text())
    assert manifest["inputs"][1:] == []
    assert [d["read_on"] for d in manifest["dumps_skipped"]] == ([] if given == "no events" else [AS_OF] * 2)


def test_a_rerun_of_an_older_date_skips_the_dumps_newer_runs_read(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli(*sample_args(out, "2026-11-19", ["2026-11-1[0-9]"]), "--quiet")[0] == 0
    first = snapshot(out / "2026-11-19")
    read = [(i["path"], i["rows_read"]) for i in json.loads(first["manifest.json"])["inputs"]]
    assert cli(*sample_args(out), "--quiet")[0] == 0
    before = state_rows(out)
    assert cli(*sample_args(out, "2026-11-19"), "--quiet")[0] == 0  # every night's dumps, 11-20's too
    manifest = json.loads((out / "2026-11-19" / "manifest.json").read_text())
    assert {d["read_on"] for d in manifest["dumps_skipped"]} == {"2026-11-20"}
    assert [(i["path"], i["rows_read"]) for i in manifest["inputs"]] == read  # 11-19's dumps read again
    # The state keeps what it had, and may gain events: 11-20's run saw only what 11-19's kept, this
    # run sees all of 11-19's events beside 11-20's (a delivery to an address that failed on 11-20).
    after = state_rows(out)
    assert set(before) <= set(after) and len(after) == len(set(after))
    with duckdb.connect(str(out / "state.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) - count(DISTINCT (domain, event_id)) FROM events").fetchall() == [
            (0,)
        ]
    again = snapshot(out / "2026-11-19")
    first.pop("manifest.json"), again.pop("manifest.json")
    assert again == first


def test_findings_carry_first_seen_and_status_and_resolved_lists_what_went(tmp_path: Path) -> None:
    header = "id,email,created_at,confirmed_at\n"
    accounts = tmp_path / "accounts.csv"
    out = tmp_path / "out"

    def night(as_of: str, rows: str) -> Path:
        accounts.write_text(header + rows)
        code, _, stderr = cli("run", "--accounts", str(accounts), "--out", str(out), "--as-of", as_of, "-q")
        assert code == 0, stderr
        return out / as_of

    night("2026-11-18", "1,ana@acme.com,2026-11-01 00:00:00 UTC,\n2,bo@acme.com,2026-11-01 00:00:00 UTC,\n")
    night("2026-11-19", "1,ana@acme.com,2026-11-01 00:00:00 UTC,\n2,bo@acme.com,2026-11-01 00:00:00 UTC,"
                        "2026-11-19 08:00:00 UTC\n3,cy@acme.com,2026-11-19 00:00:00 UTC,\n")  # fmt: skip
    day = night(
        "2026-11-20", "1,ana@acme.com,2026-11-01 00:00:00 UTC,\n3,cy@acme.com,2026-11-19 00:00:00 UTC,\n"
    )
    rows = pl.read_parquet(day / "unconfirmed_accounts.parquet").select("account_id", "first_seen", "status")
    assert [(r[0], str(r[1]), r[2]) for r in rows.iter_rows()] == [
        (1, "2026-11-18", "ongoing"), (3, "2026-11-19", "ongoing")]  # fmt: skip
    resolved = pl.read_parquet(out / "2026-11-19" / "resolved.parquet")
    assert resolved.select("check_name", "account_id", "first_seen", "last_seen").rows() == [
        (
            "unconfirmed_accounts",
            2,
            *map(__import__("datetime").date.fromisoformat, ["2026-11-18", "2026-11-18"]),
        )
    ]
    new = pl.read_parquet(out / "2026-11-19" / "findings.parquet").filter(pl.col("status") == "new")
    assert new["account_id"].to_list() == [3]


def test_a_week_of_nightly_dumps_gives_the_same_findings_as_one_full_run(tmp_path: Path) -> None:
    nightly, full = tmp_path / "nightly", tmp_path / "full"
    for day in range(11, 21):  # every dump, one night at a time
        as_of = f"2026-11-{day}"
        code, _, stderr = cli(*sample_args(nightly, as_of, [as_of]), "--quiet")
        assert code == 0, stderr
    assert cli(*sample_args(full), "--quiet")[0] == 0
    for name in ("unconfirmed_accounts", "gitlab_password_resets", "undeliverable_emails",
                 "email_mismatches", "duplicate_signups"):  # fmt: skip
        assert report_rows(nightly / AS_OF, name) == report_rows(full / AS_OF, name), name
    manifest = json.loads((nightly / AS_OF / "manifest.json").read_text())
    assert manifest["events_from_state"] > 0
    assert {i["path"].rsplit("/", 1)[1] for i in manifest["inputs"] if i["kind"] == "events"} == {
        "events-2026-11-20.jsonl.gz"
    }


def test_dumps_already_read_are_skipped_and_old_events_pruned(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli(*sample_args(out, "2026-11-19", ["2026-11-1[0-9]"]), "--quiet")[0] == 0
    assert cli(*sample_args(out), "--quiet")[0] == 0
    manifest = json.loads((out / AS_OF / "manifest.json").read_text())
    assert len(manifest["dumps_skipped"]) == 27 and len(manifest["inputs"]) == 1 + 3
    config = tmp_path / "short.toml"
    config.write_text(f'out = "out"\n[state]\nretention_days = 7\n[inputs]\naccounts = "{SAMPLE}/accounts.csv"\n'
                      f'[paths]\nroots = [".", "{SAMPLE}"]\n')  # fmt: skip
    code, _, stderr = cli(
        "run",
        "--config",
        str(config),
        "--as-of",
        "2026-11-21",
        "--events",
        f"mg.gitlab.com={SAMPLE}/mailgun/mg.gitlab.com/events-2026-11-20.jsonl.gz",
        "-q",
    )
    assert code == 0, stderr
    manifest = json.loads((out / "2026-11-21" / "manifest.json").read_text())
    assert manifest["events_pruned"] > 0
    con = duckdb.connect(str(out / "state.duckdb"), read_only=True)
    oldest = con.execute("SELECT min(event_at) FROM events").fetchall()[0][0]
    assert str(oldest) >= "2026-11-14"


def test_a_dump_read_for_one_domain_is_read_again_for_another(tmp_path: Path) -> None:
    """The state knows a dump by its bytes and its domain: the same bytes for another domain are news."""
    out, dump = tmp_path / "out", f"{SAMPLE}/mailgun/mg.gitlab.com/events-2026-11-19.jsonl.gz"
    base = ["run", "--accounts", f"{SAMPLE}/accounts.csv", "--out", str(out), "-q"]
    assert cli(*base, "--as-of", "2026-11-19", "--events", f"customers.gitlab.com={dump}")[0] == 0
    code, _, stderr = cli(*base, "--as-of", "2026-11-20", "--events", f"mg.about.gitlab.com={dump}")
    assert code == 0, stderr
    manifest = json.loads((out / "2026-11-20" / "manifest.json").read_text())
    assert manifest["dumps_skipped"] == []
    [read] = [i for i in manifest["inputs"] if i["kind"] == "events"]
    assert read["domain"] == "mg.about.gitlab.com" and read["rows_loaded"] > 0
    code, _, stderr = cli(*base, "--as-of", "2026-11-21", "--events", f"mg.about.gitlab.com={dump}")
    assert code == 0, stderr
    skipped = json.loads((out / "2026-11-21" / "manifest.json").read_text())["dumps_skipped"]
    assert [(s["domain"], s["read_on"]) for s in skipped] == [("mg.about.gitlab.com", "2026-11-20")]


def test_a_dump_given_for_two_domains_in_one_run_is_read_the_same_way_every_night(tmp_path: Path) -> None:
    """Within a run a file named twice is read once, for its first domain; later nights must agree."""
    out, dump = tmp_path / "out", f"{SAMPLE}/mailgun/mg.gitlab.com/events-2026-11-19.jsonl.gz"
    base = ["run", "--accounts", f"{SAMPLE}/accounts.csv", "--out", str(out), "-q"]
    events = ["--events", f"mg.gitlab.com={dump}", "--events", f"customers.gitlab.com={dump}"]
    domains = []
    for night in ("2026-11-19", "2026-11-20"):
        code, _, stderr = cli(*base, "--as-of", night, *events)
        assert code == 0, stderr
        con = duckdb.connect(str(out / "state.duckdb"), read_only=True)
        domains.append(con.execute("SELECT DISTINCT domain FROM events ORDER BY 1").fetchall())
        con.close()
    assert domains == [[("mg.gitlab.com",)], [("mg.gitlab.com",)]]
    manifest = json.loads((out / "2026-11-20" / "manifest.json").read_text())
    assert [i for i in manifest["inputs"] if i["kind"] == "events"] == []
    assert [s["domain"] for s in manifest["dumps_skipped"]] == ["mg.gitlab.com"]


def test_state_and_reports_are_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    out = tmp_path / "out"
    old = os.umask(0o002)
    try:
        assert cli(*sample_args(out), "--quiet")[0] == 0
    finally:
        os.umask(old)
    for path in [out / "state.duckdb", *(out / AS_OF).iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_logs_and_output_never_contain_an_email_address(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for flags in (["--verbose"], ["--debug"], []):
        result = subprocess.run([sys.executable, "-m", "audit", *sample_args(out), *flags],
                                capture_output=True, text=True, cwd=ROOT, check=True)  # fmt: skip
        assert "stage" in result.stderr
        assert not EMAIL.search(result.stdout + result.stderr), flags
    # an error naming a bad row names the line, not the address
    bad = tmp_path / "bad.csv"
    bad.write_text("id,email,created_at,confirmed_at\n1,ana@acme.com,yesterday,\n")
    result = subprocess.run([sys.executable, "-m", "audit", "run", "--accounts", str(bad), "--out", str(out)],
                            capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert not EMAIL.search(result.stdout + result.stderr)


@pytest.mark.parametrize("escape", ["../elsewhere", "/tmp/elsewhere"])
def test_config_paths_must_stay_inside_the_allowed_folders(tmp_path: Path, escape: str) -> None:
    shutil.copy(SAMPLE / "accounts.csv", tmp_path / "accounts.csv")
    config = tmp_path / "audit.toml"
    config.write_text(f'out = "{escape}"\n[inputs]\naccounts = "accounts.csv"\n')
    code, _, stderr = cli("run", "--config", str(config), "-q")
    assert code == 78
    assert "out = " in stderr and "resolves outside the allowed folders" in stderr


def test_the_states_events_follow_a_changed_configuration(tmp_path: Path) -> None:
    """Events kept from earlier nights are classified with tonight's [domains] and subjects."""
    nightly, full = tmp_path / "nightly", tmp_path / "full"
    assert cli(*sample_args(nightly, "2026-11-19", ["2026-11-1[0-9]"]), "--quiet")[0] == 0
    assert report_rows(nightly / "2026-11-19", "gitlab_password_resets")  # the sample has resets
    config = tmp_path / "renamed.toml"
    config.write_text(
        '[checks]\nreset_subjects = ["Your password reset link"]\n'
        '[domains]\ngitlab = ["mg.gitlab.com"]\nportal = ["customers.gitlab.com", "mg.about.gitlab.com"]\n'
        f'[paths]\nroots = ["{tmp_path}", "{SAMPLE}"]\n'
    )
    for out in (nightly, full):
        code, _, stderr = cli(*sample_args(out), "--config", str(config), "--quiet")
        assert code == 0, stderr
    manifest = json.loads((nightly / AS_OF / "manifest.json").read_text())
    assert manifest["events_from_state"] > 0 and len(manifest["dumps_skipped"]) == 27
    for name in ("unconfirmed_accounts", "gitlab_password_resets", "undeliverable_emails"):
        assert report_rows(nightly / AS_OF, name) == report_rows(full / AS_OF, name), name
    assert report_rows(full / AS_OF, "gitlab_password_resets") == []


def test_a_dumps_copy_of_an_event_the_state_holds_is_a_duplicate_and_the_states_copy_stays(
    tmp_path: Path,
) -> None:
    """Night two re-exports an event read on night one, once changed and once as it was: both count as
    duplicates, the changed one is listed in data_quality against the state's copy, which is kept."""
    out = tmp_path / "out"
    first = {"id": "ev1", "event": "delivered", "timestamp": 1794000000.5, "recipient": "ana@acme.com",
             "message": {"headers": {"subject": "Reset password instructions", "message-id": "m1@x"}}}  # fmt: skip
    changed = first | {"event": "failed", "severity": "permanent"}
    other = first | {"id": "ev2"}
    nights = {"2026-11-19": [first], "2026-11-20": [changed, first, other]}
    for as_of, items in nights.items():
        dump = tmp_path / f"events-{as_of}.jsonl"
        dump.write_text("".join(json.dumps(i) + "\n" for i in items))
        code, _, stderr = cli("run", "--accounts", f"{SAMPLE}/accounts.csv", "--out", str(out), "-q",
                              "--as-of", as_of, "--events", f"mg.gitlab.com={dump}")  # fmt: skip
        assert code == 0, stderr
    manifest = json.loads((out / "2026-11-20" / "manifest.json").read_text())
    [read] = [i for i in manifest["inputs"] if i["kind"] == "events"]
    counts = (read["rows_read"], read["rows_loaded"], read["rows_rejected"], read["rows_duplicate"])
    assert counts == (3, 1, 0, 2) and read["notes"] == {"conflicting_duplicates": 1}
    assert pl.read_parquet(out / "2026-11-20" / "rejects.parquet").height == 0
    listed = pl.read_parquet(out / "2026-11-20" / "data_quality.parquet")
    assert listed.select("file", "line", "code", "message").rows() == [
        (str(tmp_path / "events-2026-11-20.jsonl"), 1, "conflicting_duplicate",
         "same (domain, id) as an event kept from an earlier run (first read on 2026-11-19) but different "
         "content; that copy was kept"),
    ]  # fmt: skip
    con = duckdb.connect(str(out / "state.duckdb"), read_only=True)
    kept = con.execute("SELECT event_id, event, first_as_of FROM events ORDER BY 1").fetchall()
    con.close()
    assert [(e, ev, str(d)) for e, ev, d in kept] == [
        ("ev1", "delivered", "2026-11-19"), ("ev2", "delivered", "2026-11-20")]  # fmt: skip
