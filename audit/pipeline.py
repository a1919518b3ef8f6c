"""run_audit(config) -> RunResult: the whole nightly job as one library call the CLI wraps."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from audit import __version__
from audit.accounts import load_accounts
from audit.checks import Check, load_checks, run_check, sql_dir
from audit.config import Config
from audit.database import connect, python_pass, resource_failures, spill_folder
from audit.digest import write_digest
from audit.errors import ConfigError
from audit.history import apply_history, load_history, save_history
from audit.incremental import (
    STATE_EVENTS,
    dumps_table,
    merge_state_events,
    new_dumps,
    reclassify_state_events,
)
from audit.inputs import InputStats, Rejects
from audit.lock import run_lock
from audit.mailgun import create_empty_events, load_events
from audit.matching import duplicate_signups
from audit.report import (
    check_publishable,
    discard,
    private_umask,
    publish,
    recover,
    staging_folder,
    write_json,
    write_table,
)

log = logging.getLogger(__name__)

SEVERITY_RANK = "CASE severity WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END"


@dataclass(frozen=True)
class PythonCheck:
    """A Python pass shaped like a SQL check: it reads stg_* tables and creates chk_<name>."""

    name: str
    run: Callable[[duckdb.DuckDBPyConnection, Config], int]
    requires: frozenset[str] = frozenset({"accounts"})


PYTHON_CHECKS = (PythonCheck("duplicate_signups", lambda con, cfg: duplicate_signups(con, cfg.matching)),)


@dataclass
class RunResult:
    folder: Path
    as_of: dt.date
    events_given: bool
    reports: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    inputs: list[InputStats] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)
    rejects: int = 0
    dumps_skipped: list[dict[str, Any]] = field(default_factory=list)
    events_from_state: int = 0
    events_pruned: int = 0

    @property
    def findings(self) -> int:
        return self.reports.get("findings", 0)


@dataclass
class _Timer:
    stages: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = round(time.perf_counter() - started, 3)
            log.info("stage %s done in %.2fs", name, self.stages[name])


def parameters(cfg: Config, events_given: bool | None = None) -> dict[str, Any]:
    """Every named parameter a SQL pass may use; each pass is bound only the ones it names."""
    as_of_end = dt.datetime.combine(cfg.as_of + dt.timedelta(days=1), dt.time())
    return {
        "as_of": cfg.as_of,
        "as_of_end": as_of_end,
        "window_start": as_of_end - dt.timedelta(days=cfg.lookback_days),
        "lookback_days": cfg.lookback_days,
        "events_given": bool(cfg.events) if events_given is None else events_given,
    }


def run_audit(cfg: Config) -> RunResult:
    """Run every check and publish OUT/<as-of>/; nothing is published or saved unless all of it works."""
    if cfg.accounts is None:
        raise ConfigError("no accounts export given: pass --accounts or set inputs.accounts in the config")
    as_of = cfg.as_of.isoformat()
    timer = _Timer()
    started_at = dt.datetime.now(dt.UTC)
    with private_umask(), run_lock(cfg.out, cfg.as_of):
        for note in recover(cfg.out):
            log.warning("left by an interrupted run: %s", note)
        check_publishable(cfg.out, as_of)
        folder = staging_folder(cfg.out, as_of)
        try:
            with resource_failures(cfg):
                result, manifest = _run_in_database(cfg, folder, timer, started_at)
            manifest.update(events_pruned=result.events_pruned, stages=result.stages)
            manifest["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            write_json(folder / "manifest.json", manifest)  # last: its presence means complete
            result.folder = publish(folder, cfg.out, as_of)
        except BaseException:
            discard(folder)
            raise
        finally:
            shutil.rmtree(spill_folder(cfg, folder), ignore_errors=True)
    return result


def _run_in_database(
    cfg: Config, folder: Path, timer: _Timer, started_at: dt.datetime
) -> tuple[RunResult, dict[str, Any]]:
    """Everything that needs the run's DuckDB database: the state in, the reports, the state out."""
    con = connect(cfg, folder)
    try:
        with timer.stage("load_history"):
            load_history(con, cfg.state_path, cfg.as_of)
            reclassify_state_events(con, cfg)
        result = _run(con, cfg, folder, timer)
        manifest = _manifest(cfg, result, started_at)
        with timer.stage("digest"):
            write_digest(con, folder, manifest)
        with timer.stage("save_history"):
            result.events_pruned = save_history(con, cfg.state_path, cfg.as_of, manifest, cfg.retention_days)
    finally:
        con.close()
        shutil.rmtree(spill_folder(cfg, folder), ignore_errors=True)
    return result, manifest


def _run(con: duckdb.DuckDBPyConnection, cfg: Config, folder: Path, timer: _Timer) -> RunResult:
    result = RunResult(folder=folder, as_of=cfg.as_of, events_given=bool(cfg.events), stages=timer.stages)
    rejects = Rejects()
    assert cfg.accounts is not None
    with timer.stage("load_accounts"):
        result.inputs.append(load_accounts(con, cfg, cfg.accounts, rejects))
    with timer.stage("load_events"):
        if cfg.events:
            to_read, result.dumps_skipped = new_dumps(con, cfg.events, cfg.as_of)
            event_stats = load_events(con, cfg, to_read, rejects, STATE_EVENTS) if to_read else []
            if not to_read:
                create_empty_events(con)
            result.events_from_state = merge_state_events(con)
            result.inputs.extend(event_stats)
        else:
            create_empty_events(con)
            log.warning("no Mailgun events given: only the checks that need accounts alone will run")
        dumps_table(con, result.inputs, cfg.as_of)
    rejects.register(con)
    params = parameters(cfg)
    with timer.stage("stage_sql"):
        for stage in load_checks(sql_dir() / "stage"):
            run_check(con, stage, params, table=stage.name)
    available = {"accounts"} | ({"events"} if cfg.events else set())
    ran: list[str] = []
    for check in _all_checks():
        if isinstance(check, Check):
            if not check.requires <= available:
                result.skipped[check.name] = "no Mailgun events given"
                continue
            with timer.stage(f"check:{check.name}"):
                run_check(con, check, params)
        else:
            with timer.stage(f"check:{check.name}"), python_pass(con, cfg):
                check.run(con, cfg)
        ran.append(check.name)
    with timer.stage("history"):
        apply_history(con, ran, cfg.as_of)
        ordered = (
            f"SELECT * EXCLUDE (finding_key) FROM run_findings "  # noqa: S608 - constant SQL
            f"ORDER BY {SEVERITY_RANK}, check_name, account_id, email, evidence"
        )
        con.execute(f"CREATE OR REPLACE TABLE findings AS {ordered}")
    with timer.stage("write_reports"):
        for name, table in [(n, f"chk_{n}") for n in ran] + [
            ("findings", "findings"),
            ("resolved", "resolved"),
            ("rejects", "stg_rejects"),
            ("data_quality", "stg_data_quality"),
        ]:
            arrow = con.sql(f"SELECT * FROM {table}").to_arrow_table()  # noqa: S608 - table names from sql/
            write_table(folder, name, arrow)
            result.reports[name] = arrow.num_rows
    result.rejects = result.reports["rejects"]
    return result


def _all_checks() -> list[Check | PythonCheck]:
    checks: list[Check | PythonCheck] = [*load_checks(), *PYTHON_CHECKS]
    return sorted(checks, key=lambda c: c.name)


def _manifest(cfg: Config, result: RunResult, started_at: dt.datetime) -> dict[str, Any]:
    params = parameters(cfg)
    return {
        "tool": "account-audit",
        "version": __version__,
        "as_of": cfg.as_of.isoformat(),
        "window": {
            "start": params["window_start"].isoformat() + "Z",
            "end": params["as_of_end"].isoformat() + "Z",
        },
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "events_given": result.events_given,
        "config": {
            "gitlab_domains": list(cfg.gitlab_domains),
            "portal_domains": list(cfg.portal_domains),
            "lookback_days": cfg.lookback_days,
            "reset_subjects": list(cfg.reset_subjects),
            "confirmation_subjects": list(cfg.confirmation_subjects),
            "matching": dataclasses.asdict(cfg.matching),
        },
        "inputs": [s.to_json() for s in result.inputs],
        "dumps_skipped": result.dumps_skipped,
        "events_from_state": result.events_from_state,
        "reports": dict(sorted(result.reports.items())),
        "checks_skipped": result.skipped,
        "rejects": result.rejects,
        "stages": result.stages,
    }
