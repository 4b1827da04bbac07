"""Fuzzing the proxy: `make fuzz` (run.py) and the malformed-body corpus (corpus.py)."""
