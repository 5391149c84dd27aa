"""The `explain` command end to end on generated photos, bad files among them; main([...]) in-process."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from camcore.cams import METHODS
from camcore.cli.main import main
from camcore.data.images import load_image
from camcore.data.samples import sample_photos
from camcore.explain import explain
from camcore.maps import heatmap
from camcore.models.loading import imagenet_categories
from camcore.options import MapOptions
from camcore.scores.labels import IMAGENET_DOGS
from tests.conftest import cheap_layer, make_photo

REPO = Path(__file__).resolve().parents[3]


def _resnet_args(weights: Path, out: Path, *extra: str) -> list[str]:
    return ["--model", "resnet18", "--weights", str(weights), "--size", "64", "--device", "cpu",
            "--out", str(out), *extra]


def _results(out: Path) -> list[dict]:
    return json.loads((out / "results.json").read_text())


def _stderr_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    """Two good photos of different sizes and formats, a text file posing as a JPEG, and an empty file."""
    (tmp_path / "sub").mkdir()
    paths = {"good_png": tmp_path / "cat.png", "bad": tmp_path / "bad.jpg",
             "good_jpg": tmp_path / "sub" / "dog.jpg", "empty": tmp_path / "empty.png"}
    make_photo(120, 90, seed=0).save(paths["good_png"])
    paths["bad"].write_text("not a photo")
    make_photo(70, 100, seed=1).save(paths["good_jpg"], quality=90)
    paths["empty"].write_bytes(b"")
    return paths


def test_explain_writes_good_images_and_reports_each_bad_one(inputs, resnet18_weights, resnet18, tmp_path,
                                                             capsys) -> None:
    out = tmp_path / "out"
    images = [str(inputs[key]) for key in ("good_png", "bad", "good_jpg", "empty")]
    assert main(["explain", *images, *_resnet_args(resnet18_weights, out, "--top-k", "3")]) == 1
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.strip()]
    assert len(errors) == 2 and images[1] in errors[0] and images[3] in errors[1]
    assert "2 images explained" in captured.out and "cpu" in captured.out
    results = _results(out)
    assert [entry["image"] for entry in results] == [images[0], images[2]]
    for entry in results:
        _check_entry(entry, out, resnet18, top_k=3)


def _check_entry(entry: dict, out: Path, model, *, top_k: int) -> None:
    """Predictions as explain() gives them; each map file at the photo's size; each box the map's own."""
    photo = load_image(entry["image"])
    expected = explain([photo], model, MapOptions(top_k=top_k, size_px=64))[0].predictions
    predictions = entry["predictions"]
    assert [p["class_index"] for p in predictions] == [p.class_index for p in expected]
    assert [p["probability"] for p in predictions] == pytest.approx([p.probability for p in expected], rel=1e-4)
    assert [p["probability"] for p in predictions] == sorted((p["probability"] for p in predictions), reverse=True)
    for prediction in predictions:
        assert prediction["class_name"] == imagenet_categories()[prediction["class_index"]]
        raw = np.load(out / prediction["map"])
        assert raw.shape == (photo.height, photo.width) and raw.dtype == np.float32
        assert (out / prediction["overlay"]).is_file()
        box = heatmap.threshold_box(heatmap.normalise(raw), heatmap.DEFAULT_THRESHOLD)
        assert prediction["bbox"] == (None if box is None else list(box))
        x0, y0, x1, y1 = prediction["bbox"]
        assert 0 <= x0 < x1 <= photo.width and 0 <= y0 < y1 <= photo.height


def test_inputs_sharing_a_name_get_separate_files(resnet18_weights, tmp_path) -> None:
    paths = [tmp_path / "a" / "photo.png", tmp_path / "b" / "photo.png"]
    for seed, path in enumerate(paths):
        path.parent.mkdir()
        make_photo(60 + 20 * seed, 50, seed=seed).save(path)
    out = tmp_path / "out"
    assert main(["explain", *map(str, paths), *_resnet_args(resnet18_weights, out, "--top-k", "1")]) == 0
    maps = [entry["predictions"][0]["map"] for entry in _results(out)]
    assert len(set(maps)) == 2
    assert [np.load(out / name).shape for name in maps] == [(50, 60), (50, 80)]


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_explains_a_photo(method, resnet18_weights, tmp_path) -> None:
    photo = tmp_path / "photo.png"
    make_photo(64, 48, seed=2).save(photo)
    out = tmp_path / "out"
    layer = cheap_layer(method)
    args = _resnet_args(resnet18_weights, out, "--method", method, "--top-k", "2", "--threshold", "0.5",
                        *(["--layer", layer] if layer else []))
    assert main(["explain", str(photo), *args]) == 0
    (entry,) = _results(out)
    assert len(entry["predictions"]) == 2
    for prediction in entry["predictions"]:
        raw = np.load(out / prediction["map"])
        assert raw.shape == (48, 64)
        if METHODS[method].rectify:
            assert raw.min() >= 0
        assert len(prediction.get("compared", ())) == (3 if method == "finercam" else 0)  # the classes subtracted
        box = heatmap.threshold_box(heatmap.normalise(raw), 0.5)
        assert prediction["bbox"] == (None if box is None else list(box))


def test_percentile_standard_and_clamped_weights_shape_the_files(resnet18, resnet18_weights, tmp_path) -> None:
    """--threshold-standard percentile: each box keeps map values >= 0.35 (PaS's default) x the 90th percentile of
    the written map, normalised (np.percentile here). --clamp-negative-weights: the written map is explain()'s with
    NWC (its maths: tests/camcore/cams/test_cam.py), not the plain one."""
    photo = tmp_path / "photo.png"
    make_photo(96, 64, seed=3).save(photo)
    out = tmp_path / "out"
    assert main(["explain", str(photo), *_resnet_args(resnet18_weights, out, "--top-k", "2",
                                                      "--threshold-standard", "percentile",
                                                      "--clamp-negative-weights")]) == 0
    (entry,) = _results(out)
    clamped = explain([load_image(photo)], resnet18, MapOptions(top_k=2, size_px=64, clamp_negative_weights=True))[0]
    plain = explain([load_image(photo)], resnet18, MapOptions(top_k=2, size_px=64))[0]
    for rank, prediction in enumerate(entry["predictions"]):
        raw = np.load(out / prediction["map"])
        np.testing.assert_allclose(raw, heatmap.upsample(clamped.maps[rank], raw.shape), rtol=1e-4, atol=1e-5)
        assert np.abs(raw - heatmap.upsample(plain.maps[rank], raw.shape)).max() > 1e-3
        normalised = heatmap.normalise(raw)
        box = heatmap.threshold_box(normalised, 0.35 * float(np.percentile(normalised, 90)))
        assert prediction["bbox"] == (None if box is None else list(box))


def test_binary_checkpoint_gives_cat_and_dog(binary_checkpoint, tmp_path) -> None:
    photo = tmp_path / "pet.jpg"
    make_photo(80, 60, seed=4).save(photo)
    out = tmp_path / "out"
    assert main(["explain", str(photo), "--model", str(binary_checkpoint), "--device", "cpu", "--size", "64",
                 "--out", str(out)]) == 0
    (entry,) = _results(out)
    predictions = entry["predictions"]
    assert sorted(p["class_name"] for p in predictions) == ["cat", "dog"]
    assert predictions[0]["logit"] == pytest.approx(-predictions[1]["logit"], abs=1e-5)
    assert predictions[0]["probability"] + predictions[1]["probability"] == pytest.approx(1.0, abs=1e-5)
    assert predictions[0]["probability"] >= 0.5


def _wrong_options(tmp_path: Path, weights: Path, checkpoint: Path) -> dict[str, list[str]]:
    text = tmp_path / "weights.pth"
    text.write_text("not weights")
    return {"text as weights": ["--model", "resnet18", "--weights", str(text)],
            "other head's weights": ["--model", "resnet18", "--weights", str(checkpoint)],
            "unknown layer": ["--model", "resnet18", "--weights", str(weights), "--method", "gradcam",
                              "--layer", "layer9"],
            "unknown model": ["--model", "resnet9000", "--weights", str(weights)],
            "NWC without CAM": ["--model", "resnet18", "--weights", str(weights), "--method", "gradcam",
                                "--clamp-negative-weights"]}


@pytest.mark.parametrize("case", ["text as weights", "other head's weights", "unknown layer", "unknown model",
                                  "NWC without CAM"])
def test_unusable_model_or_option_exits_2_with_one_line(case, inputs, resnet18_weights, binary_checkpoint,
                                                        tmp_path, capsys) -> None:
    out = tmp_path / "out"
    options = _wrong_options(tmp_path, resnet18_weights, binary_checkpoint)[case]
    assert main(["explain", str(inputs["good_png"]), *options, "--device", "cpu", "--size", "64",
                 "--out", str(out)]) == 2
    errors = _stderr_lines(capsys)
    assert len(errors) == 1 and errors[0].startswith("camcore: ") and "Traceback" not in errors[0]
    assert not (out / "results.json").exists()


def test_only_bad_inputs_give_an_empty_list_and_exit_1(inputs, resnet18_weights, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["explain", str(inputs["bad"]), *_resnet_args(resnet18_weights, out)]) == 1
    assert _results(out) == []
    assert len(_stderr_lines(capsys)) == 1


@pytest.mark.parametrize("option", [["--threshold", "1.5"], ["--top-k", "0"], ["--method", "gradcampp"],
                                    ["--threshold-standard", "percentile:120"]])
def test_invalid_values_are_refused_by_argparse(option, tmp_path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["explain", "x.png", "--model", "resnet18", "--out", str(tmp_path), *option])
    assert exit_info.value.code == 2


def test_module_runs_as_a_program() -> None:
    completed = subprocess.run([sys.executable, "-m", "camcore", "--help"], cwd=REPO, capture_output=True,
                               text=True, timeout=120)
    assert completed.returncode == 0 and "explain" in completed.stdout


def test_default_model_offline_is_the_packaged_lite0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No --model and no cached torchvision weights: the CLI takes the app's default, real ImageNet classes."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    [dog] = [path for path in sample_photos() if path.name.startswith("samoyed")]
    assert main(["explain", str(dog), "--top-k", "1", "--device", "cpu", "--out", str(tmp_path / "out")]) == 0
    [result] = json.loads((tmp_path / "out" / "results.json").read_text())
    assert result["predictions"][0]["class_index"] in IMAGENET_DOGS
