"""The Training page's parts: the run's settings (inputs), who may stop or delete a run (rights), the live run's
view, and its curves and maps (figures)."""
