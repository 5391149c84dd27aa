"""Filling a PredictStore: the photos it lacks, predicted batch by batch and stored as they come, in-process (one
page of photos) or as a background job (`python -m camcore predict`, started here, one per store at a time)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from camcore.data.pets import PetRecord
from camcore.files import write_atomic
from camcore.jobs import process
from camcore.jobs.predict_store import PredictStore
from camcore.jobs.runs import RunFolder, delete_run, list_runs
from camcore.maps import heatmap
from camcore.models.loading import LoadedModel, randomised
from camcore.options import DEFAULTS, MapOptions
from camcore.scores.evaluate import Progress, predict_records

BATCH_SIZE = 16


def predict_missing(store: PredictStore, root: Path, records: Sequence[PetRecord], model: LoadedModel,
                    options: MapOptions = DEFAULTS, *, random_model: LoadedModel | None = None,
                    faithfulness_steps: int | None = None, progress: Progress | None = None,
                    stop: Callable[[], bool] | None = None) -> int:
    """Predicts the records the store lacks, BATCH_SIZE at a time, storing each batch before the next starts, so
    a killed job or a rerun loses one batch at most, and a stop() that turns True ends it after the current batch.
    Returns how many were predicted; progress(done, total) counts those only. random_model defaults to
    models.randomised(model), made once here, not once per batch. options and faithfulness_steps: those the store
    was made for (PredictStore.for_model); the scores at a threshold use the threshold standard's own default.
    """
    missing = [record for record in records if not store.has(record.name)]
    if missing and random_model is None:
        random_model = randomised(model)
    for first in range(0, len(missing), BATCH_SIZE):
        if stop is not None and stop():
            return first
        batch = missing[first:first + BATCH_SIZE]
        for result in predict_records(root, batch, model, options, batch_size=BATCH_SIZE, random_model=random_model,
                                      faithfulness_steps=faithfulness_steps):
            store.write(result)
        if progress is not None:
            progress(first + len(batch), len(missing))
    return len(missing)


def start_predictions(store: PredictStore, root: Path, names: Sequence[str], *, spec: str,
                      weights_path: str | None, device: str, options: MapOptions = DEFAULTS,
                      faithfulness_steps: int | None = None) -> RunFolder:
    """Starts the job predicting `names` into `store`, or returns the store's live job if there is one (a second
    click, another session): the check and the start hold the store's lock, so two can never both start.

    Earlier finished or failed jobs of the store are deleted first: only the latest one's outcome matters.
    """
    with process.exclusive(store.path / ".lock"):
        live = process.live_run(store.jobs_root)
        if live is not None:
            return live
        for old in list_runs(store.jobs_root):
            delete_run(old)
        config = job_config(root, spec, weights_path, device, options, faithfulness_steps)
        job = process.new_job(store.jobs_root, "predict", options.method, {**config, "count": len(names)})
        write_atomic(job.path / "names.txt", "".join(f"{name}\n" for name in names).encode())
        argv = ["predict", "--job", str(job.path), "--data", str(Path(root).resolve()), "--model", spec,
                "--method", options.method, "--device", device, "--names-file", str(job.path / "names.txt")]
        argv += ["--weights", weights_path] if weights_path else []
        argv += _option_argv(options)
        argv += ["--faithfulness", str(faithfulness_steps)] if faithfulness_steps is not None else []
        process.start(argv, job)
    return job


def job_config(root: Path, spec: str, weights_path: str | None, device: str, options: MapOptions,
               faithfulness_steps: int | None) -> dict[str, object]:
    """What a predict job's config.json records, whoever starts it (the page here, or `python -m camcore predict`
    by hand): the data, the model and the options (the threshold standard by name; a Dataset prediction maps at
    each method's default layer)."""
    return {"kind": "predict", "data_root": str(Path(root).resolve()), "model": spec, "weights": weights_path,
            "device": device, "faithfulness_steps": faithfulness_steps, "method": options.method,
            "size_px": options.size_px, "clamp_negative_weights": options.clamp_negative_weights,
            "threshold_standard": str(options.threshold_standard)}


def _option_argv(options: MapOptions) -> list[str]:
    """The options besides the method as `python -m camcore predict` takes them (camcore.cli.args.map_options_of
    reads them back)."""
    argv = ["--size", str(options.size_px)] if options.size_px is not None else []
    argv += ["--clamp-negative-weights"] if options.clamp_negative_weights else []
    argv += ["--threshold-standard", str(options.threshold_standard)] if (
        options.threshold_standard != heatmap.MAXIMUM) else []
    return argv


def latest_job(store: PredictStore) -> RunFolder | None:
    """The store's newest job folder (live or not), for the page to follow or report."""
    return next(iter(list_runs(store.jobs_root)), None)
