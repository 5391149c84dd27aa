"""Maps after a method made them: heatmap (upsample, normalise, threshold, the CAM paper's box, colour, overlay),
display (every slider state's layers for the in-browser figure) and exports (the files users download)."""
