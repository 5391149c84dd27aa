"""What every page shares: the caches of models, explanations and the data set's index (models, explanations,
datasets), the model inputs, session state keys, shareable links, error reporting, plain text and Plotly parts."""
