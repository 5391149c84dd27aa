"""`python -m camcore download`: fetch Oxford-IIIT Pet with torchvision into a data folder, one download at a time."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from camcore.cli.args import add_data_option, add_job_option, data_root_of
from camcore.data import pets
from camcore.errors import CamcoreError
from camcore.jobs import process
from camcore.jobs.download import JOBS_FOLDER, download_locked
from camcore.jobs.runs import RunFolder, RunStatus

STOPPED = "Download stopped: nothing of it was kept. Start it again to download from the beginning."


def add_download(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("download", help="download Oxford-IIIT Pet (about 800 MB) into a data folder",
                                 description="Fetch and unpack Oxford-IIIT Pet with torchvision into ROOT/"
                                 "oxford-iiit-pet, reporting the bytes so far in a job folder's status.json. A "
                                 "second download into the same ROOT is refused while one runs.")
    add_data_option(parser, role="to hold")
    add_job_option(parser, default_place=f"ROOT/{JOBS_FOLDER}")
    parser.set_defaults(run=run_download)


def run_download(args: argparse.Namespace) -> int:
    """Exit 0 when the data set is there or the download was stopped (a `stop` file in the job folder, as the
    trainer's), 2 when it could not be had (one stderr line, also in status.json)."""
    root = data_root_of(args)
    start = time.perf_counter()
    try:
        job = RunFolder(args.job) if args.job is not None else process.new_job(
            root / JOBS_FOLDER, "download", "oxford-iiit-pet",
            {"kind": "download", "data_root": str(Path(root).resolve())})
        with process.Heartbeat(job) as beat:
            beat.update(RunStatus("running", steps_total=pets.DOWNLOAD_BYTES))

            def report(done: int) -> None:
                beat.update(RunStatus("running", step=done, steps_total=pets.DOWNLOAD_BYTES))

            if not download_locked(root, progress=report, stop=job.stop_requested):
                beat.update(RunStatus("stopped", steps_total=pets.DOWNLOAD_BYTES, message=STOPPED))
                print(STOPPED)
                return 0
            beat.update(RunStatus("finished", step=pets.DOWNLOAD_BYTES, steps_total=pets.DOWNLOAD_BYTES))
    except CamcoreError as exc:
        print(f"camcore: {exc}", file=sys.stderr)
        return 2
    print(f"Oxford-IIIT Pet is in {Path(root) / 'oxford-iiit-pet'} ({time.perf_counter() - start:.0f} s)")
    return 0
