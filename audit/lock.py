"""One run at a time per report folder: an flock on OUT/.lock.

The kernel releases an flock when its process dies, so a lock left by a killed run never blocks the
next one; the file's text only says who holds it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from audit.errors import LockError, OutputError


@contextlib.contextmanager
def run_lock(out: Path, as_of: dt.date) -> Iterator[None]:
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(out / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise OutputError(f"cannot create the run lock: {exc.strerror}", file=str(out / ".lock")) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise LockError(f"another run holds the lock ({holder})", file=str(out / ".lock")) from None
        started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, as-of {as_of.isoformat()}, started {started}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
