"""Scores of maps: localisation against pet masks and head boxes, the WSOL papers' MaxBoxAccV2 / PxAP (wsol),
faithfulness (deletion / insertion) and its single points (occlusion: one region hidden), the cascading
randomisation sanity check, and evaluate (a split's predictions and scores, torchrun-ready)."""
