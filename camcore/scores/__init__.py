"""Scores of maps: localisation against pet masks and head boxes, the WSOL papers' MaxBoxAccV2 / PxAP (wsol),
faithfulness (deletion / insertion) and its single points (occlusion: one region hidden), the cascading
randomisation sanity check, and a split's evaluation: evaluate (predict_records, torchrun-ready), record (one
photo's scores), labels (judging a prediction), summary (the means), browse (the Dataset page's orders)."""
