"""Operator output on stderr: a live status line under a terminal, timestamped lines under cron.

Log records name accounts by id and files by path; emails never reach them. As a last guard, the
handlers mask anything shaped like an email address.
"""

from __future__ import annotations

import logging
import re
import shutil
import sys
from typing import TextIO

EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(\.[\w-]+)+")
SQL_LOGGER = "audit.sql"  # pass SQL text: only with --debug


class Redacting(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return EMAIL.sub("<email>", super().format(record))


class StatusLine(logging.Handler):
    """On a terminal, INFO records overwrite one status line; warnings and above get lines of their own."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self.live = False

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        width = max(20, shutil.get_terminal_size((100, 20)).columns - 1)
        if record.levelno <= logging.INFO and "\n" not in text:
            self.stream.write("\r\x1b[2K" + text[:width])
            self.live = True
        else:
            self.finish()
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.live:
            self.stream.write("\r\x1b[2K")
            self.live = False
            self.stream.flush()


def setup_logging(*, quiet: bool = False, verbose: bool = False, debug: bool = False) -> None:
    """quiet: warnings only; default: stage progress; verbose: every pass; debug: plus the SQL."""
    level = logging.WARNING if quiet else logging.DEBUG if (verbose or debug) else logging.INFO
    stream = sys.stderr
    handler: logging.Handler
    if stream.isatty() and not (verbose or debug):
        handler = StatusLine(stream)
        handler.setFormatter(Redacting("account-audit: %(message)s"))
    else:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(
            Redacting("%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%S%z")
        )
    root = logging.getLogger("audit")
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    logging.getLogger(SQL_LOGGER).setLevel(logging.DEBUG if debug else logging.INFO)


def finish_status() -> None:
    """Clear a live status line before the summary is printed."""
    for handler in logging.getLogger("audit").handlers:
        if isinstance(handler, StatusLine):
            handler.finish()
