"""Scoring a workspace: the teacher pass and the extra score groups in resumable shards, merged into
scores.parquet (`pipeline`, `extras`, `shards`), and `prepare`, which opens any input as its workspace."""
