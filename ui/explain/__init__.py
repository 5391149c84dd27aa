"""The Explain page's parts: its inputs and Settings, the view of each photo, its figures, and the faithfulness
and sanity-check sections."""
