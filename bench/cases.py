"""What each row explains (the cases every library does) and the speed goals its lines are judged by."""
from __future__ import annotations

from dataclasses import dataclass

from camcore.cams import METHODS


@dataclass(frozen=True)
class Case:
    """One explanation task, done by each library in its own documented way."""

    label: str
    method: str
    top_k: int
    layer: str | None  # None: the model's default layer (the last block)
    goal_vs_forward: float | None
    goal_vs: dict[str, float] | None = None  # least speedup over each library, when not GOAL_VS's


FASTER = {"torchcam": 1.0, "pytorch-grad-cam": 1.0}
"""The goal where no ratio was set by hand: at least as fast as each library on the same work."""
CASES = (
    Case("CAM top-5", "cam", 5, None, 0.95),
    Case("Grad-CAM layer4 top-1", "gradcam", 1, "layer4", 0.9),
    Case("Grad-CAM layer4 top-5", "gradcam", 5, "layer4", 0.8),
    Case("Grad-CAM layer3 top-5", "gradcam", 5, "layer3", None),
    Case("Score-CAM layer4 top-1", "scorecam", 1, "layer4", None, FASTER),
    Case("Score-CAM layer4 top-5", "scorecam", 5, "layer4", None, FASTER),
)
"""The hand-set rows. Score-CAM runs a forward per channel (512 at resnet's layer4) for every library: the goal
is to be faster."""
GOAL_VS = {"torchcam": 1.0, "pytorch-grad-cam": 4.0}
"""Least speedup of ours over each library on the hand-set rows; its keys are the libraries compared, in table
order."""


def bench_cases() -> tuple[Case, ...]:
    """CASES, then a row for each registered method they leave out, at the default layer: top-5, or top-1 for a
    class-agnostic method (one map serves every class). Read from METHODS, so a new method is benched unasked."""
    covered = {case.method for case in CASES}
    derived = [Case(f"{method.label} top-{k}", method.key, k, None, None, FASTER)
               for method in METHODS.values() if method.key not in covered
               for k in [1 if method.class_agnostic else 5]]
    return (*CASES, *derived)
