"""What every page shares: the caches (resources, the only st.cache_* functions), the model inputs, session state
keys, shareable links, error reporting and Plotly parts."""
