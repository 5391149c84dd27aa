"""Long work in its own process with its state on disk: the job process and its locks (process), the run folder
format (runs), the Dataset page's predictions (predict, predict_store) and the data set download (download)."""
