"""Streamlit helpers and Plotly figure builders shared by the pages."""
