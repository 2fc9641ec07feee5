"""Benchmark reports in docs/benchmarks.md: each benchmark owns one `## title` section and rewrites only it."""
from __future__ import annotations

from pathlib import Path


def write_section(path: Path, title: str, body: str) -> None:
    """Replace the `## title` section of a Markdown file with `body` (or append it; create the file)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    heading = f"## {title}\n"
    start = text.find(heading)
    end = text.find("\n## ", start + len(heading)) if start >= 0 else -1
    before = text[:start] if start >= 0 else text
    after = text[end:] if end >= 0 else ""
    parts = [part.strip("\n") for part in (before, f"{heading}\n{body}", after)]
    path.write_text("\n\n".join(part for part in parts if part) + "\n", encoding="utf-8")
