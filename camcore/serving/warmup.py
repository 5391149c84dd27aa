"""The app's modules imported once, by one thread, before any page script needs them.

Python locks each module while it runs, not the import as a whole: two script threads importing torchvision (or
camcore.data.pets) for the first time in the same second can each be handed the other's half-run module and fail with
"cannot import name ... from partially initialized module". A fresh server meets this when a class opens the link
at once. So the first script run starts one thread that imports everything (packages walked to their last
module); pages wait for it before their own imports, which then only read sys.modules. Standard library only, so
that starting it costs the home page nothing.
"""
from __future__ import annotations

import importlib
import importlib.util
import logging
import pkgutil
import threading
from collections.abc import Iterator, Sequence

logger = logging.getLogger(__name__)

_started = threading.Lock()
_thread: threading.Thread | None = None
_done = threading.Event()


def start(modules: Sequence[str], *, walk: Sequence[str] = ()) -> None:
    """Starts the import thread once per process: `modules` as named, then every module of the `walk` packages."""
    global _thread
    with _started:
        if _thread is None:
            _thread = threading.Thread(target=_import_all, args=(tuple(modules), tuple(walk)), name="warm-up",
                                       daemon=True)
            _thread.start()


def ready() -> bool:
    return _done.is_set()


def wait(timeout_s: float | None = None) -> bool:
    """Blocks until every import has been tried (True), or for `timeout_s`. A module that failed to import is only
    logged here: the page importing it raises the same error in its own words."""
    return _done.wait(timeout_s)


def _walked(packages: Sequence[str]) -> Iterator[str]:
    """The packages and all their submodules; walking imports each subpackage, so it runs on the warm-up thread.
    `__main__` is skipped: it is a program, not a module."""
    for package in packages:
        yield package
        spec = importlib.util.find_spec(package)
        locations = spec.submodule_search_locations if spec else None
        for info in pkgutil.walk_packages(locations or [], prefix=f"{package}.", onerror=_skip):
            if not info.name.endswith(".__main__"):
                yield info.name


def _import_all(modules: Sequence[str], walk: Sequence[str]) -> None:
    try:
        for name in (*modules, *_walked(walk)):
            try:
                importlib.import_module(name)
            except Exception:  # an optional package missing, or a real fault the page will report
                logger.warning("Warm-up could not import %s", name, exc_info=True)
    finally:
        _done.set()


def _skip(name: str) -> None:
    logger.warning("Warm-up could not import package %s", name, exc_info=True)
