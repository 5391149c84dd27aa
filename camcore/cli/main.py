"""The command line, `python -m camcore explain | evaluate | train | predict | download`: one parser, each
subcommand in its own module of this package, calling what the pages call."""
from __future__ import annotations

import argparse

from camcore.cli.download import add_download
from camcore.cli.evaluate import add_evaluate
from camcore.cli.explain import add_explain
from camcore.cli.predict import add_predict
from camcore.cli.train import add_train
from camcore.models.pretrained import default_model


def main(argv: list[str] | None = None) -> int:
    """Runs one subcommand; returns the exit status (0 ok, 1 some input was bad, 2 unusable model or options)."""
    args = build_parser().parse_args(argv)
    if getattr(args, "model", "") is None:  # the app's rule, decided from the disk: resnet18 if cached, else lite0
        args.model = default_model()
    return args.run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="camcore", description="Explain CNN image classifiers with class "
                                     "activation maps.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_explain(commands)
    add_evaluate(commands)
    add_train(commands)
    add_predict(commands)
    add_download(commands)
    return parser
