"""What the server shares between sessions: the first-time imports (warmup), batched model passes (batching) and
the only places a visitor's typed paths are opened in (paths)."""
