"""Domain errors and the exit codes the CLI maps them to (sysexits.h values, documented in the README)."""

from __future__ import annotations

import re

LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")

EXIT_OK = 0
EXIT_DATA = 65  # bad data: header, accounting, reject limit, truncated input
EXIT_NOINPUT = 66  # missing, unreadable or empty input
EXIT_CANTCREAT = 73  # a report cannot be written
EXIT_TEMPFAIL = 75  # another run holds the lock
EXIT_CONFIG = 78  # invalid configuration


class AuditError(Exception):
    """Base for every error the CLI turns into a one-line message and an exit code."""

    exit_code = 1

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        super().__init__(self.render())

    def render(self) -> str:
        where = ""
        if self.file is not None:
            # A file name may hold a line break or other control characters: the message stays one line.
            file = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in self.file)
            where = f"{file}:{self.line}: " if self.line is not None else f"{file}: "
        # An embedded library message (DuckDB's) may span lines: the CLI prints one.
        return f"{where}{LINE_BREAKS.sub(' ', self.message).strip()}"


class DataError(AuditError):
    exit_code = EXIT_DATA


class InputError(AuditError):
    exit_code = EXIT_NOINPUT


class OutputError(AuditError):
    exit_code = EXIT_CANTCREAT


class LockError(AuditError):
    exit_code = EXIT_TEMPFAIL


class ConfigError(AuditError):
    exit_code = EXIT_CONFIG
