"""`python -m camcore train`: fine-tune a classifier on Oxford-IIIT Pet into a run folder (or resume one).

Runs alone, or as one rank of `torchrun --nproc_per_node N` (WORLD_SIZE > 1): DistributedDataParallel, gloo on
CPUs and NCCL on GPUs; rank 0 creates and writes the run folder and shows the progress bar. A run resumed from a
runs folder hands the device on as it ends: rank 0 launches the oldest run queued there (camcore.train.launch).
"""
from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from camcore.cli.args import add_data_option, data_root_of, positive_int
from camcore.distributed import world_from_env
from camcore.errors import CamcoreError, DataNotFound, RunBusy
from camcore.jobs.runs import RunFolder, pid_alive
from camcore.models.device import DEVICE_CHOICES
from camcore.models.pretrained import DEFAULT_MODEL_RULE, default_model
from camcore.train.config import LESSON, TASKS, ConfigError, TrainConfig
from camcore.train.launch import start_queued
from camcore.train.loop import train_run
from camcore.train.probes import checked_uploads, keep_uploads


def add_train(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("train", help="fine-tune a classifier on Oxford-IIIT Pet into a run folder",
                                 description="Fine-tune an ImageNet CNN with a new head (cat vs dog, or 37 breeds) "
                                 "and write the run folder the Training page reads: metrics, status, checkpoints "
                                 "last.pt/best.pt, probe CAMs and confusion matrices per epoch. Defaults are the "
                                 "lesson's. --resume RUN_DIR continues a stopped, killed or not yet started run.")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", type=Path, metavar="RUN_DIR", help="new run folder (refused if it holds a run)")
    target.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in this folder")
    add_data_option(parser)
    parser.add_argument("--task", choices=TASKS, default=LESSON.task)
    parser.add_argument("--arch", default=None, help="lite0, a torchvision name (resnet18), timm:NAME, or a "
                        f"checkpoint to fine-tune further (default: {DEFAULT_MODEL_RULE})")
    parser.add_argument("--weights", metavar="FILE", help="local ImageNet state dict for --arch (offline use)")
    parser.add_argument("--epochs", type=positive_int, default=LESSON.epochs)
    parser.add_argument("--image-size", type=positive_int, default=LESSON.image_size_px, dest="image_size_px",
                        metavar="PX", help="photos are squashed to PX x PX (default %(default)s)")
    parser.add_argument("--batch-size", type=positive_int, default=LESSON.batch_size, metavar="B")
    parser.add_argument("--lr", type=float, default=LESSON.lr, help="Adam's learning rate (default %(default)s)")
    parser.add_argument("--freeze-backbone", action="store_true", help="train the new head only")
    parser.add_argument("--pooling", default=LESSON.pooling, metavar="avg|tap[:TAU]",
                        help="global pooling before the head: average (default) or TAP, Bae et al.'s thresholded "
                             "average pooling (TAU default 0.1); the checkpoint records it")
    parser.add_argument("--limit", type=positive_int, metavar="N", help="at most N photos of each split")
    parser.add_argument("--seed", type=int, default=LESSON.seed)
    parser.add_argument("--device", choices=DEVICE_CHOICES, default=LESSON.device)
    parser.add_argument("--probes", type=int, default=LESSON.probes, metavar="P",
                        help="test photos whose CAMs are saved every epoch (default %(default)s)")
    parser.add_argument("--probe-images", nargs="+", type=Path, default=[], metavar="PATH",
                        help="your own photos (files, or folders of them) explained every epoch beside the test "
                        "probes; copied into the run folder (with --out only)")
    parser.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    """Exit 0 when finished or stopped, 2 for bad options, data or model (one stderr line), 1 for a crash."""
    world = world_from_env()
    start = time.perf_counter()
    try:
        run, config = _run_folder(args, world.main)
        with _ProgressBar(enabled=world.main) as bar:
            status = train_run(run, config=config, world=world, progress=bar.update)
    except (CamcoreError, ValueError) as exc:  # ValueError: an unknown model or device
        print(f"camcore: {exc}", file=sys.stderr)
        return 2
    except Exception:  # noqa: BLE001  (the run folder already says "failed"; the log gets the traceback)
        traceback.print_exc()
        return 1
    finally:
        if world.main and args.resume is not None:
            start_queued(args.resume.parent)
    if world.main:
        accuracy = "-" if status.test_accuracy is None else f"{status.test_accuracy:.3f}"
        print(f"{status.state}: step {status.step}/{status.steps_total}, test accuracy {accuracy}, "
              f"{time.perf_counter() - start:.0f} s; run folder {run.path}")
    return 0


def _run_folder(args: argparse.Namespace, main: bool) -> tuple[RunFolder, TrainConfig | None]:
    """--resume: the existing folder (refused while another live process trains it); --out: a new folder, created
    by rank 0, and the config every rank trains with (other ranks may look before rank 0 has written it)."""
    if args.resume is not None:
        if args.probe_images:
            raise ConfigError("--probe-images needs --out: a run keeps the probe photos it was started with.")
        run = RunFolder(args.resume)
        run.config()  # DataNotFound: not a run folder
        status = run.live_status()
        if status.state in ("running", "stopping") and status.pid is not None and pid_alive(status.pid):
            raise RunBusy(f"Run {run.name} is {status.state} in process {status.pid}. Stop it first.")
        return run, None
    root = data_root_of(args)
    config = TrainConfig(data_root=str(Path(root).resolve()), task=args.task, arch=args.arch or default_model(),
                         weights=args.weights, epochs=args.epochs, image_size_px=args.image_size_px,
                         batch_size=args.batch_size, lr=args.lr, freeze_backbone=args.freeze_backbone,
                         limit=args.limit, seed=args.seed, device=args.device, probes=args.probes,
                         pooling=args.pooling)
    if not main:
        return RunFolder(args.out), config
    uploads = checked_uploads(_probe_photos(args.probe_images))
    run = RunFolder.create(args.out, config.to_dict())
    keep_uploads(run, uploads)
    return run, config


def _probe_photos(paths: list[Path]) -> list[tuple[str, bytes]]:
    """(name, bytes) of each file named, and of each image file (by suffix, as Pillow knows them) in each folder
    named, sorted by name."""
    suffixes = {suffix.lower() for suffix in Image.registered_extensions()}
    files = []
    for path in paths:
        if path.is_dir():
            files += sorted(child for child in path.iterdir() if child.suffix.lower() in suffixes)
        elif path.is_file():
            files.append(path)
        else:
            raise DataNotFound(f"{path}: no such file or folder. Check --probe-images.")
    return [(file.name, file.read_bytes()) for file in files]


class _ProgressBar:
    """tqdm over the run's steps, started at the step a resumed run continues from; also in log.txt (not a
    terminal), where runs.log_tail shows its latest redraw."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: tqdm | None = None

    def update(self, step: int, steps_total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = tqdm(total=steps_total, initial=step - 1, unit="step", file=sys.stderr, mininterval=1.0)
        self.bar.update(step - self.bar.n)

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
