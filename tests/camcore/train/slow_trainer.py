"""`python -m tests.camcore.train.slow_trainer DELAY_S ARGS...`: camcore's command line with every training step
followed by DELAY_S seconds of sleep, so a tiny run lasts long enough to be stopped or killed mid-epoch. A test's
own stand-in: the product has no such knob."""
from __future__ import annotations

import sys
import time

from camcore.cli.main import main
from camcore.train import loop


def slowed(delay_s: float):
    step = loop.train_step

    def train_step(*args, **kwargs):
        result = step(*args, **kwargs)
        time.sleep(delay_s)
        return result
    return train_step


if __name__ == "__main__":
    loop.train_step = slowed(float(sys.argv[1]))
    raise SystemExit(main(sys.argv[2:]))
