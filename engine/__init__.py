"""Whisper Curator engine: ingest, teacher pass, scores, workspace, export, distillation."""
