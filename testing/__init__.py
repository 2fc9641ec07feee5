"""Helpers that the tests and the benchmarks share (never shipped in the wheel): dummy clips and workspaces, the
bad-input corpus, the kill and failure drills, the served app in a browser, the hostile server requests."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository
