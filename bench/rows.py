"""The measured results: one per line of the tables, and what --json saves."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Measured:
    """Where and on what a line was measured; every result starts with these, so the JSON reads alike."""

    device: str
    model: str


@dataclass(frozen=True)
class Row(Measured):
    """One measured cell; median_s, images_per_s and vs_forward are None when skipped (note says why)."""

    size_px: int
    batch: int
    method: str
    library: str
    median_s: float | None
    images_per_s: float | None
    vs_forward: float | None
    rounds: int
    note: str = ""


@dataclass(frozen=True)
class PathRow(Measured):
    """One path a user waits for, over a set of photos explained one at a time."""

    photos: str
    path: str
    ms_per_photo: float
    vs_forward: float
    rounds: int


@dataclass(frozen=True)
class PhoneRow(Measured):
    """One photo taken through the Explain page's whole path; vs_small is its time over the small photo's, both
    measured side by side in the same rounds; goal: the most vs_small may be, where one applies."""

    photo: str
    decoded: str
    ms_per_photo: float
    vs_small: float
    rounds: int
    goal: float | None = None
