"""Score steps: per-record numbers written to ``meta["scores"]`` for selection and dedup to rank by."""
