"""What the server shares between sessions: the first-time imports (warmup), batched model passes (batching), the
only places a visitor's typed paths are opened in (paths), and the Live page's frames on the shared model (live)."""
