"""What a visitor can get wrong, or break from outside, shown as one line in their words, never Streamlit's
redacted box: a crafted link on every linked parameter, a model name that does not exist, a checkpoint of the
wrong shape, an empty data folder, a run folder deleted while its page is open."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import torchvision
from streamlit.testing.v1 import AppTest

from camcore.data.samples import sample_photos
from camcore.jobs import runs
from camcore.jobs.runs import RunFolder, RunStatus
from camcore.models.checkpoints import Checkpoint, save_checkpoint
from camcore.settings import DATA_ENV, MODEL_ENV, RUNS_ENV, WEIGHTS_ENV
from camcore.train.config import TrainConfig
from tests.conftest import SMALL
from ui.common import links
from ui.common.text import read_back

PAGES = Path(__file__).resolve().parents[2] / "app_pages"
TIMEOUT_S = 120
HOSTILE = ("../../../../etc/passwd", "-99999999999999999999", "nan", "", "x" * 4000)
"""Values no widget holds: a path out of the app, a huge negative number, not a number, nothing, a flood."""


@pytest.fixture(autouse=True)
def new_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "no-data"))
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "runs"))
    monkeypatch.delenv(MODEL_ENV, raising=False)
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)


def page(name: str, params: dict[str, str | list[str]] | None = None) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=TIMEOUT_S)
    for prefix in ("explain", "lesson", "dataset"):
        at.session_state[f"{prefix}.device"] = "cpu"
    at.query_params.update(params or {})
    return at.run()


def one_line_errors(at: AppTest) -> list[str]:
    """The page's error messages; fails on an exception box or a message of more than one line."""
    assert not at.exception, [read_back(e.value) for e in at.exception]
    messages = [read_back(error.value) for error in at.error]
    assert all("\n" not in message for message in messages), messages
    return messages


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize(("name", "link", "photo"), [("1_Explain.py", links.EXPLAIN_LINK, False),
                                                     ("1_Explain.py", links.EXPLAIN_LINK, True),
                                                     ("4_Lesson.py", links.LESSON_LINK, False)])
def test_a_crafted_link_falls_back_on_every_parameter(name: str, link: dict, photo: bool, hostile: str) -> None:
    """Every linked parameter at once holds the hostile value; with `photo`, a real sample is linked too, so that
    the per-photo parameters (class.N, threshold.N) are read by a page that explains."""
    params: dict[str, str | list[str]] = {parameter: hostile for parameter in link}
    if photo:
        params["shipped"] = [sample_photos()[0].name, hostile]
    at = page(name, params)
    assert one_line_errors(at) == []
    if photo:
        assert at.get("plotly_chart"), "the linked sample is explained"


def test_a_model_name_that_does_not_exist_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODEL_ENV, "resnet9000")
    at = page("1_Explain.py", {"shipped": sample_photos()[0].name})
    [message] = one_line_errors(at)
    assert "resnet9000" in message
    assert not at.get("plotly_chart")


def test_weights_of_the_wrong_shape_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """resnet34's weights offered as resnet18's, and a checkpoint whose head has the wrong number of classes."""
    torch.save(torchvision.models.resnet34().state_dict(), tmp_path / "resnet34.pth")
    monkeypatch.setenv(MODEL_ENV, "resnet18")
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "resnet34.pth"))
    [message] = one_line_errors(page("1_Explain.py", {"shipped": sample_photos()[0].name}))
    assert "resnet34.pth" in message

    wrong_head = torchvision.models.resnet18(num_classes=5).state_dict()
    save_checkpoint(Checkpoint(arch="resnet18", head="binary", class_names=("cat", "dog"), preprocessing=SMALL,
                               state_dict=wrong_head, training={}), tmp_path / "wrong.pt")
    monkeypatch.setenv(MODEL_ENV, str(tmp_path / "wrong.pt"))
    monkeypatch.delenv(WEIGHTS_ENV)
    [message] = one_line_errors(page("1_Explain.py", {"shipped": sample_photos()[0].name}))
    assert "wrong.pt" in message


@pytest.mark.parametrize("layout", ["empty folder", "empty oxford-iiit-pet"])
def test_an_empty_data_folder_is_one_line_on_the_dataset_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              layout: str) -> None:
    root = tmp_path / "empty"
    (root / "oxford-iiit-pet" if layout == "empty oxford-iiit-pet" else root).mkdir(parents=True)
    monkeypatch.setenv(DATA_ENV, str(root))
    at = page("2_Dataset.py")
    one_line_errors(at)
    assert [read_back(w.value) for w in at.warning if "oxford-iiit-pet" in read_back(w.value)]


def test_a_run_folder_deleted_while_its_page_is_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deleted between the page listing the runs and drawing the one it follows (another session, or a shell)."""
    run = RunFolder.create(tmp_path / "runs" / "gone", TrainConfig(data_root=str(tmp_path)).to_dict())
    run.write_status(RunStatus(state="finished", epochs=1))
    at = page("3_Training.py")
    assert one_line_errors(at) == [] and at.selectbox(key="training.run").value == "gone"
    listed = runs.list_runs(tmp_path / "runs")
    shutil.rmtree(run.path)
    monkeypatch.setattr("camcore.jobs.runs.list_runs", lambda root: listed)  # the listing was made before the deletion
    at.run()
    one_line_errors(at)
    monkeypatch.undo()
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "runs"))
    at.run()
    assert one_line_errors(at) == [] and not [box for box in at.selectbox if box.key == "training.run"]
