"""This browser's own random token, kept in a cookie: what makes a training run its starter's across a reload, a
second tab, a server restart and another replica behind the proxy, and no one else's.

Session state alone dies with the tab's connection. The cookie is set from the page itself (Streamlit has no
server-side Set-Cookie) and read back by the server when the browser next connects (st.context.cookies). It is
our own 256-bit random value, never part of a link; runs keep only its SHA-256 (camcore.jobs.runs), compared in
constant time. A visitor who clears it loses ownership of their runs and nothing else.
"""
from __future__ import annotations

import re
import secrets

import streamlit as st

COOKIE = "cam_explorer_visitor"
MAX_AGE_S = 365 * 24 * 3600
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
"""secrets.token_urlsafe(32); a cookie of any other shape is ignored (a fresh token replaces it)."""
_KEY = "visitor.token"


def visitor_token() -> str:
    """This browser's token: the cookie's, or a new one, which is then stored in the browser."""
    sent = st.context.cookies.get(COOKIE)
    if _KEY not in st.session_state:
        known = isinstance(sent, str) and TOKEN_SHAPE.fullmatch(sent)
        st.session_state[_KEY] = sent if known else secrets.token_urlsafe(32)
    token = st.session_state[_KEY]
    if sent != token:
        _store(token)
    return token


def _store(token: str) -> None:
    """Sets the cookie from the page, on every run of a session whose connection did not carry it. Safe as script:
    the token is our own URL-safe random text, checked against TOKEN_SHAPE, never a visitor's string."""
    if not TOKEN_SHAPE.fullmatch(token):
        raise ValueError("A visitor token must come from secrets.token_urlsafe(32).")
    st.html(f"""<script>document.cookie = "{COOKIE}={token}; Path=/; Max-Age={MAX_AGE_S}; SameSite=Strict"
        + (location.protocol === "https:" ? "; Secure" : "");</script>""", unsafe_allow_javascript=True)
