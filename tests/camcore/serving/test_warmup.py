"""The warm-up import thread, on a package written for the test: the named modules and every module of the walked
packages are imported on the one "warm-up" thread, each once, `__main__` never, a failing module is
logged and skipped, wait() returns only once all have been tried, and a second start() starts nothing."""
from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

import pytest

from camcore.serving import warmup

RECORD = "import threading, warm_log\nwarm_log.seen.append((__name__, threading.current_thread().name))\n"
FILES = {
    "warm_log.py": "import threading\nseen = []\ngate = threading.Event()\ngate.set()\n",
    "warm_first.py": RECORD,
    "warm_other.py": RECORD,
    "warm_slow.py": RECORD + "assert warm_log.gate.wait(30)\n",
    "warm_exit.py": "raise SystemExit('not an Exception: it ends the thread')\n",
    "warmpkg/__init__.py": RECORD,
    "warmpkg/a.py": RECORD,
    "warmpkg/__main__.py": RECORD + "raise SystemExit('a program, run on import')\n",
    "warmpkg/broken.py": "raise ImportError('an optional package is missing')\n",
    "warmpkg/sub/__init__.py": RECORD,
    "warmpkg/sub/b.py": RECORD,
}


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The test's modules importable, and warm-up as in a process that never started it; afterwards the test's
    modules are forgotten again."""
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(warmup, "_thread", None)
    monkeypatch.setattr(warmup, "_done", threading.Event())
    import warm_log

    yield warm_log
    if warmup._thread is not None:
        warm_log.gate.set()
        warmup._thread.join(30)
    for name in [name for name in sys.modules if name.split(".")[0] in {"warm_log", "warmpkg"}
                 or name.startswith("warm_")]:
        del sys.modules[name]


def test_every_module_is_imported_on_the_warm_up_thread_but_main(fresh, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=warmup.__name__)
    warmup.start(["warm_first"], walk=["warmpkg"])
    assert warmup.wait(30) and warmup.ready()
    names = [name for name, _ in fresh.seen]
    assert set(names) == {"warm_first", "warmpkg", "warmpkg.a", "warmpkg.sub", "warmpkg.sub.b"}
    assert len(names) == len(set(names)) and {thread for _, thread in fresh.seen} == {"warm-up"}
    assert "warmpkg.__main__" not in sys.modules
    failed = [record for record in caplog.records if record.getMessage() == "Warm-up could not import warmpkg.broken"]
    assert len(failed) == 1 and "an optional package is missing" in str(failed[0].exc_info[1])


def test_wait_returns_only_once_every_import_was_tried_and_a_second_start_does_nothing(fresh) -> None:
    fresh.gate.clear()  # warm_slow's import blocks until the test opens the gate
    warmup.start(["warm_first", "warm_slow"])
    warmup.start(["warm_other"])  # another page's script: the thread is already there
    assert not warmup.wait(0.2) and not warmup.ready()
    fresh.gate.set()
    assert warmup.wait(30) and warmup.ready()
    assert [name for name, _ in fresh.seen] == ["warm_first", "warm_slow"]
    assert "warm_other" not in sys.modules


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the thread's end, as meant
def test_pages_are_not_held_back_forever_by_an_import_that_ends_the_thread(fresh) -> None:
    """SystemExit is no Exception, so it is not logged and skipped: it ends the warm-up thread. wait() must return
    all the same, or every page would wait for a thread that is gone."""
    warmup.start(["warm_exit"])
    assert warmup.wait(10) and warmup.ready()
