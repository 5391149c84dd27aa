"""Streamlit and Plotly only: one subpackage per page (explain/, dataset/, training/, lesson/) and common/, what
they share (the caches, the model inputs, state keys, links, error reporting, Plotly parts)."""
