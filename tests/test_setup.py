"""The README's set-up commands install every system tool the code calls: a fresh machine has only the
repository and the package registries."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import ROOT

CODE = ["engine", "curator", "whisper_curator", "benchmarks", "tests", "testing", "assets", "app.py"]
SUBPROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output"}
# Debian's required packages (util-linux, mount, coreutils, dash, bash) are on every Debian machine.
BASE_SYSTEM = {"sh", "bash", "unshare", "mount", "umount", "kill", "timeout", "env"}


def _python_files() -> list[Path]:
    return [p for name in CODE for p in ([ROOT / name] if name.endswith(".py") else (ROOT / name).rglob("*.py"))]


def _called_tools(tree: ast.AST) -> set[str]:
    """Programs named as string literals in shutil.which("x"), subprocess.*(["x", ...]) or "/usr/bin/x"."""
    tools = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            first, module = node.args[0], getattr(node.func.value, "id", None)
            if (module, node.func.attr) == ("shutil", "which") and isinstance(first, ast.Constant):
                tools.add(first.value)
            elif module == "subprocess" and node.func.attr in SUBPROCESS_CALLS and isinstance(first, ast.List) and first.elts:
                if isinstance(first.elts[0], ast.Constant) and isinstance(first.elts[0].value, str):
                    tools.add(first.elts[0].value)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            tools.update(re.findall(r"^/usr/bin/([\w.-]+)$", node.value))
    return tools


def called_tools() -> set[str]:
    return set().union(*(_called_tools(ast.parse(p.read_text(encoding="utf-8"))) for p in _python_files()))


def installed_packages() -> set[str]:
    """The Debian packages scripts/test.sh installs."""
    line = re.search(r'^SYSTEM_PACKAGES="([^"]*)"', (ROOT / "scripts" / "test.sh").read_text(), re.M)
    assert line, "scripts/test.sh names no SYSTEM_PACKAGES"
    return set(line.group(1).split())


def test_the_scan_finds_the_tools_the_code_is_known_to_call():
    assert {"espeak-ng", "chromium", "unshare"} <= called_tools()


def test_every_system_tool_the_code_calls_is_installed_by_the_test_script():
    missing = called_tools() - BASE_SYSTEM - installed_packages()
    assert not missing, f"scripts/test.sh does not install {sorted(missing)}: add them to SYSTEM_PACKAGES"

