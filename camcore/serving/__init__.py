"""What the server shares between sessions: the first-time imports (warmup) and batched model passes (batching)."""
