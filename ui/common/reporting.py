"""How a page reports a failure and keeps serving: the user's errors as their own message, anything else logged."""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import streamlit as st

from camcore.errors import CamcoreError
from ui.common.text import plain

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def reported(what: str, *user_errors: type[Exception]) -> Iterator[None]:
    """Shows a CamcoreError (or one of `user_errors`) as st.error with its one-line message; anything else is
    logged with its traceback and summarised, so the rest of the page still shows. Both are shown as plain text:
    messages and `what` quote file, model and run names."""
    try:
        yield
    except (CamcoreError, *user_errors) as exc:
        st.error(plain(exc))
    except Exception:
        logger.exception("%s failed", what)
        st.error(f"{plain(what)} failed unexpectedly; the server log has the details.")
