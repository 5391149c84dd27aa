"""What the server shares between sessions: the first-time imports (warmup) and, later, batched model passes."""
