"""The CLI's shared options through a real argparse parser: value types, the threshold's default for each
standard (the CAM paper's 0.2 of the maximum, PaS's 0.35 of the 90th percentile), the data folder's default, the
method choices and the faithfulness steps."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from camcore.cams import METHODS
from camcore.cli import args


def parser_with(*adders) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="test")
    for add in adders:
        add(parser)
    return parser


def refused(parser: argparse.ArgumentParser, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """argparse's exit 2 and its one error line."""
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_positive_int_and_fraction_take_their_ranges_and_refuse_the_rest() -> None:
    assert args.positive_int("1") == 1 and args.positive_int("64") == 64
    for text in ("0", "-3"):
        with pytest.raises(argparse.ArgumentTypeError, match=f"must be at least 1, not {text}"):
            args.positive_int(text)
    assert (args.fraction("0"), args.fraction("1"), args.fraction("0.35")) == (0.0, 1.0, 0.35)
    for text in ("-0.01", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError, match="must be between 0 and 1"):
            args.fraction(text)


@pytest.mark.parametrize(("argv", "threshold", "percentile"), [
    ([], 0.2, None),  # the CAM paper: 20% of the maximum
    (["--threshold-standard", "max"], 0.2, None),
    (["--threshold-standard", "percentile"], 0.35, 90.0),  # PaS: 0.35 of the 90th percentile
    (["--threshold-standard", "percentile:75", "--threshold", "0.5"], 0.5, 75.0),
    (["--threshold", "0"], 0.0, None),  # 0 is a threshold, not "unset"
])
def test_the_threshold_defaults_to_its_standard_s_own(argv: list[str], threshold: float,
                                                      percentile: float | None) -> None:
    parsed = parser_with(lambda p: args.add_threshold_options(p, what="boxes")).parse_args(argv)
    assert args.threshold_of(parsed) == pytest.approx(threshold)
    assert parsed.threshold_standard.percentile == percentile
    assert parsed.clamp_negative_weights is False


def test_bad_thresholds_and_standards_are_argparse_errors(capsys: pytest.CaptureFixture[str]) -> None:
    parser = parser_with(lambda p: args.add_threshold_options(p, what="boxes"))
    assert "must be between 0 and 1, not 1.5" in refused(parser, ["--threshold", "1.5"], capsys)
    line = refused(parser, ["--threshold-standard", "percentile:0"], capsys)
    assert "Unknown threshold standard 'percentile:0'" in line
    assert parser.parse_args(["--clamp-negative-weights"]).clamp_negative_weights is True


def test_the_data_folder_is_the_option_else_the_environment_s_else_data(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    parser = parser_with(args.add_data_option)
    monkeypatch.delenv("CAM_EXPLORER_DATA", raising=False)
    assert args.data_root_of(parser.parse_args([])) == Path("data")
    monkeypatch.setenv("CAM_EXPLORER_DATA", str(tmp_path / "pets"))
    parsed = parser.parse_args([])  # read when the command runs, not when the parser is built
    assert args.data_root_of(parsed) == tmp_path / "pets"
    assert args.data_root_of(parser.parse_args(["--data", "elsewhere"])) == Path("elsewhere")


def test_model_options_offer_every_registered_method_and_refuse_others(capsys: pytest.CaptureFixture[str]) -> None:
    parser = parser_with(args.add_model_options)
    parsed = parser.parse_args([])
    assert (parsed.model, parsed.weights, parsed.method, parsed.size_px, parsed.device) == (None, None, "cam", None,
                                                                                          "auto")
    for method in METHODS:
        assert parser.parse_args(["--method", method]).method == method
    assert parser.parse_args(["--size", "96"]).size_px == 96
    assert "invalid choice: 'gradcampp'" in refused(parser, ["--method", "gradcampp"], capsys)
    assert "must be at least 1, not 0" in refused(parser, ["--size", "0"], capsys)


def test_faithfulness_is_off_by_default_and_ten_steps_when_bare() -> None:
    parser = parser_with(args.add_faithfulness_option)
    assert parser.parse_args([]).faithfulness is None
    assert parser.parse_args(["--faithfulness"]).faithfulness == 10  # 10% of the pixels per step
    assert parser.parse_args(["--faithfulness", "4"]).faithfulness == 4
    assert "69 extra forward passes" in " ".join(parser.format_help().split())  # 3 maps x (2 x 11 + 1), 10 steps
