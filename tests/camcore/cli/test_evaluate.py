"""The `evaluate` command on the tiny data set: the JSON and table it writes, its one-line errors, and the
same command under torchrun with two CPU processes (gloo) giving the single-process result."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from camcore.cli.main import main
from camcore.data import pets
from tests.camcore.scores.test_record import JSON_KEYS
from tests.conftest import TINY_HEAD_BOXES, TINY_PETS

REPO = Path(__file__).resolve().parents[3]
SCORE_KEYS = ("pointing", "iou", "rel_energy", "localised", "head_pointing")


def _args(root: Path, weights: Path, out: Path, *extra: str) -> list[str]:
    return ["evaluate", "--data", str(root), "--model", "resnet18", "--weights", str(weights), "--size", "64",
            "--device", "cpu", "--out", str(out), *extra]


def _stderr_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_writes_summary_and_per_image_results_and_prints_the_table(tiny_pets, resnet18_weights, tmp_path,
                                                                    capsys) -> None:
    out = tmp_path / "deep" / "eval.json"
    assert main(_args(tiny_pets, resnet18_weights, out, "--split", "all", "--batch-size", "5")) == 0
    written = json.loads(out.read_text())
    assert {key: written[key] for key in ("model", "method", "split", "threshold_frac", "size_px")} == \
        {"model": "resnet18", "method": "cam", "split": "all", "threshold_frac": 0.2, "size_px": 64}
    assert [r["name"] for r in written["results"]] == sorted(name for name, *_ in TINY_PETS)
    assert all(list(r) == JSON_KEYS for r in written["results"])  # no map, no WSOL curves
    summary = written["summary"]
    assert summary["count"] == len(TINY_PETS)
    assert set(summary["per_breed"]) == {"Abyssinian", "american_bulldog", "beagle", "Bengal"}
    for means in (summary, *summary["per_breed"].values()):
        for score in SCORE_KEYS:
            assert set(means[score]) == {"model", "gaussian", "random"}
    hits = [r["pointing"] for r in written["results"]]
    assert summary["pointing"]["model"] == pytest.approx(sum(hits) / len(hits))
    localised = [r["localised"] for r in written["results"]]
    assert all(isinstance(hit, bool) for hit in localised)
    assert summary["localised"]["model"] == pytest.approx(sum(localised) / len(localised))
    heads = {r["name"]: r["gauss_head_pointing"] for r in written["results"]}
    assert {name for name, hit in heads.items() if hit is not None} == set(TINY_HEAD_BOXES)  # null without xml
    assert summary["head_pointing"]["gaussian"] == pytest.approx(1 / 4)  # only Bengal_12's head holds the centre
    printed = capsys.readouterr().out
    assert "Pointing game" in printed and "Mask IoU @0.2" in printed and f"wrote {out}" in printed
    assert "Box IoU>=0.5 @0.2" in printed and "Head pointing" in printed
    assert summary["randomised_spearman"] == pytest.approx(1.0, abs=1e-3)  # seed-0 weights: randomising changes nothing
    assert "randomising all but the stem 1.00" in printed
    row = next(line for line in printed.splitlines() if line.startswith("all"))
    assert row.split()[-3:] == [f"{summary['head_pointing'][name]:.2f}" for name in ("model", "gaussian", "random")]
    assert any(line.startswith("all") and f" {len(TINY_PETS)} " in line for line in printed.splitlines())
    assert any(line.startswith("american_bulldog") for line in printed.splitlines())
    assert not list(out.parent.glob(".*.tmp"))


def test_split_and_limit_choose_the_records(tiny_pets, resnet18_weights, tmp_path) -> None:
    out = tmp_path / "test.json"
    assert main(_args(tiny_pets, resnet18_weights, out, "--split", "test")) == 0
    names = [r["name"] for r in json.loads(out.read_text())["results"]]
    assert names == sorted(name for name, *_, split in TINY_PETS if split == "test")
    assert main(_args(tiny_pets, resnet18_weights, out, "--split", "all", "--limit", "4")) == 0
    every = [record.name for record in pets.pet_index(tiny_pets)]
    assert [r["name"] for r in json.loads(out.read_text())["results"]] == [every[i] for i in (0, 3, 6, 9)]


def test_wsol_thresholds_are_calibrated_on_trainval_never_on_test(tiny_pets, resnet18_weights, tmp_path,
                                                                   capsys) -> None:
    """--split test reads its calibrated WSOL scores at the thresholds best on trainval (a separate run on
    trainval alone says which), beside the scores as Choe et al. define them (test's own best), each named."""
    test, trainval = tmp_path / "test.json", tmp_path / "trainval.json"
    assert main(_args(tiny_pets, resnet18_weights, test, "--split", "test")) == 0
    table = capsys.readouterr().out
    assert main(_args(tiny_pets, resnet18_weights, trainval, "--split", "trainval")) == 0
    scored, chooser = json.loads(test.read_text()), json.loads(trainval.read_text())
    assert scored["calibrated_on"] == "trainval" and chooser["calibrated_on"] is None
    assert scored["summary"]["calibrated_threshold"] == chooser["summary"]["best_threshold"]
    assert chooser["summary"]["calibrated_threshold"] is None
    assert chooser["summary"]["maxboxacc_v2_calibrated"] is None
    for key in ("maxboxacc_v2", "maxboxacc", "pxap", "maxboxacc_v2_calibrated", "head_maxboxacc_calibrated"):
        for kind in ("model", "gaussian", "random"):
            assert 0 <= scored["summary"][key][kind] <= 1
    assert "best on test itself (Choe et al.'s definition) and best on trainval (calib)" in table
    assert "MaxBoxAccV2" in table
    assert main(_args(tiny_pets, resnet18_weights, test, "--split", "test", "--calibrate-on", "test")) == 2
    assert _stderr_lines(capsys)[-1] == ("camcore: --calibrate-on test overlaps --split test: calibrate on another "
                                         "split, or on none.")


def test_pas_and_nwc_options_are_recorded_with_pas_default_threshold(tiny_pets, resnet18_weights, tmp_path,
                                                                       capsys) -> None:
    out = tmp_path / "fixes.json"
    assert main(_args(tiny_pets, resnet18_weights, out, "--split", "all", "--threshold-standard", "percentile",
                      "--clamp-negative-weights")) == 0
    written = json.loads(out.read_text())
    assert (written["threshold_frac"], written["threshold_standard"], written["clamp_negative_weights"]) == \
        (0.35, "percentile:90", True)
    printed = capsys.readouterr().out
    assert "Mask IoU @0.35" in printed
    assert "90th percentile (PaS swept; Bae et al. fix 0.35 of it" in written["wsol_thresholds"]
    assert f"over {written['wsol_thresholds']};" in printed  # the WSOL table says it is a sweep
    assert main(_args(tiny_pets, resnet18_weights, out, "--method", "gradcam", "--clamp-negative-weights")) == 2
    assert "NWC" in _stderr_lines(capsys)[-1]


def test_faithfulness_option_scores_and_prints_the_three_maps(tiny_pets, resnet18_weights, tmp_path, capsys) -> None:
    out = tmp_path / "faithful.json"
    assert main(_args(tiny_pets, resnet18_weights, out, "--limit", "2", "--faithfulness", "2")) == 0
    written = json.loads(out.read_text())
    assert written["faithfulness_steps"] == 2
    summary = written["summary"]
    for score in ("deletion_auc", "insertion_auc", "confidence_drop", "confidence_increase"):
        assert set(summary[score]) == {"model", "gaussian", "random_map"}
        values = [r[prefix + score] for r in written["results"] for prefix in ("", "gauss_", "random_map_")]
        assert all(0 <= value <= 1 for value in values)
    row = next(line for line in capsys.readouterr().out.splitlines()[::-1] if line.startswith("all"))
    assert row.split()[2:5] == [f"{summary['deletion_auc'][name]:.2f}" for name in ("model", "gaussian", "random_map")]
    assert row.split()[-6:-3] == [f"{100 * summary['confidence_drop'][name]:.1f}"
                                  for name in ("model", "gaussian", "random_map")]


def test_missing_data_is_one_line_and_exit_2(resnet18_weights, tmp_path, capsys) -> None:
    out = tmp_path / "eval.json"
    assert main(_args(tmp_path / "nowhere", resnet18_weights, out)) == 2
    lines = _stderr_lines(capsys)
    assert len(lines) == 1 and "oxford-iiit-pet" in lines[0] and "download" in lines[0].lower()
    assert not out.exists()


def test_unknown_model_is_one_line_and_exit_2(tiny_pets, tmp_path, capsys) -> None:
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--data", str(tiny_pets), "--model", "resnet_nope", "--out", str(out)]) == 2
    lines = _stderr_lines(capsys)
    assert len(lines) == 1 and "resnet_nope" in lines[0]
    assert not out.exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_torchrun_with_two_gloo_processes_equals_one_process(tiny_pets, resnet18_weights, tmp_path) -> None:
    """Batch size 1 and one thread on both sides, so each photo's arithmetic is the same: results identical."""
    single, merged = tmp_path / "single.json", tmp_path / "merged.json"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as torchrun sets OMP_NUM_THREADS=1 in each worker
    try:
        assert main(_args(tiny_pets, resnet18_weights, single, "--split", "all", "--batch-size", "1")) == 0
    finally:
        torch.set_num_threads(threads)
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(_free_port()), "-m", "camcore",
               *_args(tiny_pets, resnet18_weights, merged, "--split", "all", "--batch-size", "1")]
    run = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "x 2 processes" in run.stdout and run.stdout.count("wrote") == 1  # only rank 0 prints and writes
    one, two = json.loads(single.read_text()), json.loads(merged.read_text())
    assert two["results"] == one["results"]
    assert two["summary"]["count"] == len(TINY_PETS)
    for score in SCORE_KEYS:
        assert two["summary"][score] == pytest.approx(one["summary"][score])
