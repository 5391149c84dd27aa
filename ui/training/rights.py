"""Who may stop, resume or delete a run: the browser that started it, or anyone when the operator says so.

In a class every student sees every run; without this one student could stop or delete another's. A run keeps the
digest of its starter's browser token (ui.common.visitor: a cookie of our own random value), so the owner keeps
the run across a reload, a second tab, a server restart and another replica, and no other browser ever gets it.
"""
from __future__ import annotations

import os

from camcore.jobs.runs import RunFolder
from ui.common.visitor import visitor_token

RUN_ADMIN_ENV = "CAM_EXPLORER_RUN_ADMIN"
NOT_YOURS = ("Started from another browser: only that browser can stop, resume or delete it (the server's operator "
             f"can allow everyone with {RUN_ADMIN_ENV}=1).")


def may_manage(run: RunFolder) -> bool:
    return os.environ.get(RUN_ADMIN_ENV) == "1" or run.owned_by(visitor_token())
