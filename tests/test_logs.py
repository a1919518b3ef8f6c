"""Operator output: a live status line on a terminal, plain timestamped lines elsewhere, no emails."""

from __future__ import annotations

import io
import logging
import re

import pytest

from audit import logs


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def stream(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """A stand-in stderr; installed by each test, since pytest swaps sys.stderr after fixtures run."""
    return io.StringIO()


def test_under_cron_lines_are_timestamped_and_emails_masked(stream: io.StringIO) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stderr", stream)
        logs.setup_logging()
    logging.getLogger("audit.test").info("stage load_accounts done for ana.lima@example.com")
    logging.getLogger("audit.test").debug("not shown without --verbose")
    (line,) = stream.getvalue().splitlines()
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000 INFO audit\.test: stage load_accounts done for <email>$",
                    line)  # fmt: skip


def test_quiet_shows_only_warnings(stream: io.StringIO) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stderr", stream)
        logs.setup_logging(quiet=True)
    logging.getLogger("audit.test").info("progress")
    logging.getLogger("audit.test").warning("careful")
    assert "progress" not in stream.getvalue() and "careful" in stream.getvalue()


def test_sql_is_logged_only_with_debug(stream: io.StringIO) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stderr", stream)
        logs.setup_logging(verbose=True)
    logging.getLogger("audit.sql").debug("SELECT 1")
    logging.getLogger("audit.checks").debug("pass x: 1 rows")
    assert "SELECT 1" not in stream.getvalue() and "pass x: 1 rows" in stream.getvalue()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stderr", stream)
        logs.setup_logging(debug=True)
    logging.getLogger("audit.sql").debug("SELECT 2")
    assert "SELECT 2" in stream.getvalue()


def test_on_a_terminal_progress_rewrites_one_status_line(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr("sys.stderr", terminal)
    logs.setup_logging()
    log = logging.getLogger("audit.test")
    log.info("stage load_accounts done")
    log.info("stage load_events done")
    log.warning("something to read")
    logs.finish_status()
    text = terminal.getvalue()
    assert text.count("\r\x1b[2K") >= 3
    assert "\n" not in text.split("something to read")[0]  # progress never scrolls
    assert text.endswith("account-audit: something to read\n")
