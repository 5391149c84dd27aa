"""The Dataset page's parts: filters and widgets (inputs), the grid and detail view (view), figures, and the
predict and download jobs it follows (jobs)."""
