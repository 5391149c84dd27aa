"""The command line's one parser: its five subcommands, each dispatched to its own run function with that
function's exit status, and the default model decided by the app's rule only where a subcommand takes --model
and none was given."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from camcore.cli import download, evaluate, explain, main, predict, train


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, argparse.Namespace]]:
    """Each subcommand's run function replaced by a recorder returning a status of its own (so that main's
    return value shows which ran), and the default-model rule by a marker."""
    calls: list[tuple[str, argparse.Namespace]] = []
    for module, name, status in ((explain, "run_explain", 11), (evaluate, "run_evaluate", 12),
                                 (train, "run_train", 13), (predict, "run_predict", 14),
                                 (download, "run_download", 15)):
        monkeypatch.setattr(module, name, lambda args, name=name, status=status: calls.append((name, args)) or status)
    monkeypatch.setattr(main, "default_model", lambda: "rule's choice")
    return calls


def test_the_parser_offers_the_five_subcommands() -> None:
    parser = main.build_parser()
    (commands,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    assert set(commands.choices) == {"explain", "evaluate", "train", "predict", "download"}


def test_no_subcommand_is_an_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main.main([])
    assert exit_info.value.code == 2 and "required: COMMAND" in capsys.readouterr().err


def test_each_subcommand_runs_its_own_function_and_returns_its_status(ran, tmp_path: Path) -> None:
    assert main.main(["explain", "cat.jpg", "--out", str(tmp_path)]) == 11
    assert main.main(["evaluate", "--out", str(tmp_path / "r.json")]) == 12
    assert main.main(["train", "--out", str(tmp_path / "run")]) == 13
    assert main.main(["predict", "--model", "resnet18"]) == 14
    assert main.main(["download", "--data", str(tmp_path)]) == 15
    assert [name for name, _ in ran] == ["run_explain", "run_evaluate", "run_train", "run_predict", "run_download"]
    assert ran[0][1].images == ["cat.jpg"] and ran[4][1].data == tmp_path


def test_the_default_model_is_the_rule_s_only_where_none_was_given(ran, tmp_path: Path) -> None:
    main.main(["explain", "cat.jpg", "--out", str(tmp_path)])
    main.main(["evaluate", "--model", "resnet50", "--out", str(tmp_path / "r.json")])
    main.main(["train", "--out", str(tmp_path / "run")])  # train's own --arch applies the rule when it runs
    main.main(["predict"])
    main.main(["download"])
    explained, evaluated, trained, predicted, downloaded = (args for _, args in ran)
    assert explained.model == "rule's choice" and evaluated.model == "resnet50" and predicted.model == "rule's choice"
    assert not hasattr(trained, "model") and trained.arch is None
    assert not hasattr(downloaded, "model")
