"""The data model and its I/O: audio decoding, the workspace folder (manifest, scores, embeddings), atomic
writes, ingest of any input, the recipe (which clips to keep) and export of the kept set."""
