"""What each row explains (the cases every library does) and the speed goals its lines are judged by."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    """One explanation task, done by each library in its own documented way."""

    label: str
    method: str
    top_k: int
    layer: str | None  # None: the model's default layer (the last block)
    goal_vs_forward: float | None


CASES = (
    Case("CAM top-5", "cam", 5, None, 0.95),
    Case("Grad-CAM layer4 top-1", "gradcam", 1, "layer4", 0.9),
    Case("Grad-CAM layer4 top-5", "gradcam", 5, "layer4", 0.8),
    Case("Grad-CAM layer3 top-5", "gradcam", 5, "layer3", None),
)
GOAL_VS = {"torchcam": 1.0, "pytorch-grad-cam": 4.0}
"""Least speedup of ours over each library on the same row; its keys are the libraries compared, in table order."""
