"""Whisper Curator's command line: the one layer that may import both the engine and the app (`curator`)."""
