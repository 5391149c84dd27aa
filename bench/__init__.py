"""Speed benchmarks that print tables; run `python -m bench.bench_cams` (see bench/README.md)."""
