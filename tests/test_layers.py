"""The import contracts in pyproject.toml ([tool.importlinter]) hold: engine's layers, no Gradio in the engine,
pure scores, no model code in the app."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " 0 broken" in result.stdout


LONGEST_FUNCTION = 80  # lines, decorators excluded: past this a function is split (shared/STYLE.md)


def test_no_function_in_the_packages_is_longer_than_the_limit():
    long = []
    for package in ("engine", "curator", "whisper_curator"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > LONGEST_FUNCTION:
                        long.append(f"{path.relative_to(ROOT)}::{node.name} ({lines} lines)")
    assert not long, long
