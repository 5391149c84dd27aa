"""Markdown tables of the rows: the speed table (the libraries side by side, with goals), the user-path table and
the phone-photo table."""
from __future__ import annotations

from bench.cases import GOAL_VS, Case, bench_cases
from bench.rows import PathRow, PhoneRow, Row

SPEED_HEADER = ("| model | px | batch | rounds | method | ours img/s | ours ×fwd | torchcam img/s | torchcam ×fwd "
                "| ours ÷ torchcam | pgc img/s | pgc ×fwd | ours ÷ pgc | goals |")


def _cell(row: Row | None) -> list[str]:
    """img/s and ×fwd, or why there is none."""
    if row is None or row.median_s is None:
        return ["n/a" if row is None else row.note, ""]
    return [f"{row.images_per_s:,.1f}", f"{row.vs_forward:.2f}"]


def _speedup(mine: Row, other: Row | None) -> float | None:
    """How many times faster ours is than `other` on the same row."""
    if other is None or other.median_s is None or mine.median_s is None:
        return None
    return other.median_s / mine.median_s


def _goals(case: Case, mine: Row, speedups: dict[str, float | None]) -> str:
    """'ok', or each goal this line misses."""
    if mine.median_s is None:
        return ""
    goal = case.goal_vs_forward
    misses = [f"×fwd < {goal:g}"] if goal is not None and mine.vs_forward < goal else []
    goal_vs = case.goal_vs or GOAL_VS
    misses += [f"÷ {library} < {goal_vs[library]:g}" for library, speedup in speedups.items()
               if speedup is not None and speedup < goal_vs[library]]
    return "MISS " + ", ".join(misses) if misses else "ok"


def _speed_cells(method: str, group: dict[tuple[str, str], Row]) -> list[str]:
    """rounds, method, ours, then each library with our speedup over it, and the goals."""
    if method == "forward":
        forward = group[(method, "torch")]
        return [str(forward.rounds), method, *_cell(forward), *[""] * 7]
    mine = group[(method, "ours")]
    cells, speedups = [str(mine.rounds), method, *_cell(mine)], {}
    for library in GOAL_VS:
        other = group.get((method, library))
        speedups[library] = _speedup(mine, other)
        cells += [*_cell(other), "" if speedups[library] is None else f"{speedups[library]:.2f}"]
    case = next(case for case in bench_cases() if case.label == method)
    return [*cells, _goals(case, mine, speedups)]


def speed_table(rows: list[Row]) -> str:
    """One line per method of each (model, size, batch); the libraries on the same line."""
    lines = [SPEED_HEADER, "|---" * SPEED_HEADER.count(" | ") + "|---|"]
    for key in dict.fromkeys((row.model, row.size_px, row.batch) for row in rows):
        group = {(row.method, row.library): row for row in rows if (row.model, row.size_px, row.batch) == key}
        for method in dict.fromkeys(method for method, _ in group):
            lines.append("| " + " | ".join([*map(str, key), *_speed_cells(method, group)]) + " |")
    return "\n".join(lines)


def path_table(rows: list[PathRow]) -> str:
    """One line per photo set and path: ms per photo and its speed as a share of decode + forward's."""
    lines = ["| model | photos | rounds | path | ms / photo | ×(decode + forward) |", "|---|---|---|---|---|---|"]
    lines += [f"| {row.model} | {row.photos} | {row.rounds} | {row.path} | {row.ms_per_photo:,.1f} | "
              f"{row.vs_forward:.2f} |" for row in rows]
    return "\n".join(lines)


def phone_table(rows: list[PhoneRow]) -> str:
    """One line per photo: ms and its time over the small photo's, with the goal where one applies."""
    lines = ["| model | photo | decoded at | rounds | ms / photo | × small photo's time | goal |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        verdict = "" if row.goal is None else "ok" if row.vs_small <= row.goal else f"MISS (> {row.goal:g})"
        lines.append(f"| {row.model} | {row.photo} | {row.decoded} | {row.rounds} | {row.ms_per_photo:,.1f} | "
                     f"{row.vs_small:.2f} | {verdict} |")
    return "\n".join(lines)
