"""Helpers for the tests of background jobs (predict all, download): waiting on a job folder."""
from __future__ import annotations

import time

from camcore.runs import RunFolder, RunStatus


def wait_for(job: RunFolder, timeout_s: float = 120.0) -> RunStatus:
    """The job's final status, once its process has ended (live_status reports a vanished one as failed)."""
    deadline = time.time() + timeout_s
    while (status := job.live_status()).active:
        assert time.time() < deadline, f"{job.path} still {status.state}: {job.log_tail()}"
        time.sleep(0.2)
    return status
