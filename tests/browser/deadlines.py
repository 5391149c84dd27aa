"""How long a browser test waits for what it waits for: long enough for a 2-core machine that other jobs are
loading (a page's first figure takes about 10 s alone and several times that when the CPU is shared), since a test
waits for a condition and returns as soon as it holds; only a failure waits the whole deadline."""
from __future__ import annotations

SERVER_START_S = 180
"""A fresh Streamlit server answering its health check (it imports torch on start)."""
PAGE_MS = 240_000
"""A page's server work as the browser sees it: a model load, an explanation, its figures, a rerun after a click."""
REACTION_MS = 30_000
"""What the browser alone does once the page is there: a slider's restyle, a figure redrawn."""
JOB_MS = 300_000
"""A background job's visible progress (a training run's steps, its probe maps)."""
