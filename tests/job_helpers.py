"""Helpers for the tests of background jobs (predict all, download): waiting on a job folder."""
from __future__ import annotations

from camcore.jobs.runs import RunFolder, RunStatus
from tests.camcore.train.helpers import wait_for as wait_until


def wait_for(job: RunFolder, timeout_s: float = 120.0) -> RunStatus:
    """The job's final status, once its process has ended (live_status reports a vanished one as failed)."""
    wait_until(lambda: not job.live_status().active, timeout_s=timeout_s)
    return job.live_status()
