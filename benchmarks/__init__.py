"""Benchmarks: speed and memory figures, the per-agent reference, the byte-identity check."""
