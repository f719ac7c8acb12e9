"""One run at a time per installation, across processes."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


class RunLockTimeout(RuntimeError):
    """Another run held the installation's lock for longer than the wait allowed."""


@contextmanager
def run_lock(path: Path, timeout: float = 3600.0) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` while the block runs.

    A second run over the same warehouse waits here, so two runs started at
    once never load or publish at the same time. The operating system frees
    the lock when the process dies, so a killed run never leaves it stuck.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 - closed in the finally below
    deadline = time.monotonic() + timeout
    announced = False
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RunLockTimeout(
                        f"timed out after {timeout:.0f} s waiting for lock {path}: another"
                        " Shortpay run is in progress; wait for it to finish, then retry"
                    ) from None
                if not announced:
                    log.info("waiting for the run in progress to finish (lock %s)", path)
                    announced = True
                time.sleep(0.5)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()
