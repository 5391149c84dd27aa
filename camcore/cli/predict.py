"""`python -m camcore predict`: predict and score Oxford-IIIT Pet photos into the Dataset page's results store.

What the page's "predict all" starts in the background; run by hand, it fills the same store (the page then shows
the results at once). Photos already in the store are skipped, so a stopped run continues where it was.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tqdm import tqdm

from camcore.cli.args import (
    add_data_option,
    add_faithfulness_option,
    add_fix_options,
    add_job_option,
    add_model_options,
    data_root_of,
    map_options_of,
)
from camcore.data import pets
from camcore.errors import CamcoreError, DataNotFound
from camcore.jobs import process
from camcore.jobs.predict import job_config, predict_missing
from camcore.jobs.predict_store import PredictStore
from camcore.jobs.runs import RunFolder, RunStatus
from camcore.models.loading import load_model


def add_predict(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("predict", help="predict Oxford-IIIT Pet photos into the Dataset page's store",
                                 description="Explain each photo's top-1 class, score its map against the pet's "
                                 "mask beside two baselines, and store each result as it comes, where the Dataset "
                                 "page reads it. Progress goes to a job folder's status.json.")
    add_data_option(parser)
    add_model_options(parser)
    parser.add_argument("--names-file", type=Path, metavar="FILE", help="photo names, one a line (default: all)")
    add_faithfulness_option(parser, where=", into a store of their own")
    add_fix_options(parser)
    add_job_option(parser, default_place="the store's jobs/")
    parser.set_defaults(run=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    """Exit 0 when every photo is stored, 2 for bad options, data or model (one stderr line, also in status)."""
    root = data_root_of(args)
    start = time.perf_counter()
    try:
        options = map_options_of(args, top_k=1)
        store = PredictStore.for_model(root, args.model, args.weights, options,
                                       faithfulness_steps=args.faithfulness)
        job = RunFolder(args.job) if args.job is not None else process.new_job(
            store.jobs_root, "predict", args.method,
            job_config(root, args.model, args.weights, args.device, options, args.faithfulness))
        with process.Heartbeat(job) as beat, tqdm(unit="image", file=sys.stderr, mininterval=1.0) as bar:
            beat.update(RunStatus("running", message="Loading the model"))
            records = _records(root, args.names_file)
            model = load_model(args.model, weights_path=args.weights, device=args.device)

            def report(done: int, total: int) -> None:
                elapsed_s = time.perf_counter() - start
                bar.total = total
                bar.update(done - bar.n)
                beat.update(RunStatus("running", step=done, steps_total=total, images_per_s=done / elapsed_s,
                                      eta_s=(total - done) * elapsed_s / done))

            count = predict_missing(store, root, records, model, options, faithfulness_steps=args.faithfulness,
                                    progress=report, stop=job.stop_requested)
            total = job.status().steps_total  # the last report's; 0 when stopped before the first batch
            if count < total or job.stop_requested() and not total:
                beat.update(RunStatus("stopped", step=count, steps_total=total, message=f"Stopped after {count} of "
                                      f"{total} photos. They are stored; the next start predicts only the rest."))
            else:
                beat.update(RunStatus("finished", step=count, steps_total=count))
    except (CamcoreError, ValueError) as exc:  # ValueError: an unknown model, method or device
        print(f"camcore: {exc}", file=sys.stderr)
        return 2
    print(f"{count} photo{'s' if count != 1 else ''} predicted in {time.perf_counter() - start:.1f} s into "
          f"{store.path}")
    return 0


def _records(root: Path, names_file: Path | None) -> list[pets.PetRecord]:
    """The data set's records, or those named in `names_file` in its order; an unknown name is an error."""
    records = pets.pet_index(root)
    if names_file is None:
        return list(records)
    by_name = {record.name: record for record in records}
    names = [line.strip() for line in names_file.read_text().splitlines() if line.strip()]
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise DataNotFound(f"{unknown[0]} (and {len(unknown) - 1} more) not in {root}'s Oxford-IIIT Pet lists. "
                           "Check --names-file and --data.")
    return [by_name[name] for name in names]

