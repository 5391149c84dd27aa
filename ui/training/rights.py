"""Who may stop, resume or delete a run: the browser that started it, or anyone when the operator says so.

In a class every student sees every run; without this one student could stop or delete another's. A run keeps the
digest of its starter's browser token (ui.common.visitor: a cookie of our own random value), so the owner keeps
the run across a reload, a second tab, a server restart and another replica, and no other browser ever gets it.
"""
from __future__ import annotations

from camcore.jobs.runs import RunFolder
from camcore.settings import RUN_ADMIN_ENV, run_admin
from ui.common.visitor import visitor_token

NOT_YOURS = ("Started from another browser: only that browser can stop, resume or delete it (the server's operator "
             f"can allow everyone with {RUN_ADMIN_ENV}=1).")


def may_manage(run: RunFolder) -> bool:
    return run_admin() or run.owned_by(visitor_token())
