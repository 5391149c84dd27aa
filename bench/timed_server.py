"""`streamlit run` with a clock inside the server: for each session, the time from a rerun request's arrival
(BackMsg rerun_script) to the script's successful end, appended to a file as "session seconds" lines.

    .venv/bin/python -m bench.timed_server LOG_FILE run app.py [streamlit options]

This is the server's own time per interaction, waiting for the script thread and the GIL included; it leaves
out the network and the browser (a busy browser reports the websocket's frames late). A rerun cut short by a
newer request is timed from the earliest request to the run that answers both. Bench only: the app never runs it.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from streamlit.runtime.app_session import AppSession
from streamlit.runtime.scriptrunner import ScriptRunnerEvent
from streamlit.web import cli

FINISHED = (ScriptRunnerEvent.SCRIPT_STOPPED_WITH_SUCCESS, ScriptRunnerEvent.SCRIPT_STOPPED_WITH_COMPILE_ERROR)


def clock_sessions(log: Path) -> None:
    """Wraps AppSession's two entry points; both run on the server's event loop thread, so no lock is needed."""
    waiting: dict[str, float] = {}
    handle_backmsg = AppSession.handle_backmsg
    on_event = AppSession._handle_scriptrunner_event_on_event_loop

    def timed_handle_backmsg(self: AppSession, msg: object) -> None:
        if msg.WhichOneof("type") == "rerun_script":  # type: ignore[attr-defined]
            waiting.setdefault(self.id, time.monotonic())
        handle_backmsg(self, msg)  # type: ignore[arg-type]

    def timed_on_event(self: AppSession, sender: object, event: ScriptRunnerEvent, *args: object,
                       **kwargs: object) -> None:
        if event in FINISHED and self.id in waiting:
            with log.open("a") as out:
                out.write(f"{self.id} {time.monotonic() - waiting.pop(self.id):.4f}\n")
        on_event(self, sender, event, *args, **kwargs)  # type: ignore[arg-type]

    AppSession.handle_backmsg = timed_handle_backmsg  # type: ignore[method-assign]
    AppSession._handle_scriptrunner_event_on_event_loop = timed_on_event  # type: ignore[method-assign]


def read_log(log: Path) -> dict[str, list[float]]:
    """Seconds per rerun, per session, in order."""
    sessions: dict[str, list[float]] = {}
    for line in log.read_text().splitlines() if log.is_file() else []:
        session, seconds = line.split()
        sessions.setdefault(session, []).append(float(seconds))
    return sessions


if __name__ == "__main__":
    clock_sessions(Path(sys.argv[1]))
    cli.main(args=sys.argv[2:], prog_name="streamlit")
