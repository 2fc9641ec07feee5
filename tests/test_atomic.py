"""Temporaries of atomic writes: a dead writer's are removed, a live one's or another machine's are kept."""
from __future__ import annotations

import os
import subprocess
import sys

from engine.io.atomic import _host, remove_stale_temporaries


def test_only_this_machines_dead_writers_temporaries_are_removed(tmp_path):
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    dead = tmp_path / f".f.{_host()}_{finished.pid}.abc.tmp"
    older_format = tmp_path / f".f.{finished.pid}.abc.tmp"
    other_machine = tmp_path / f".f.node-7_{finished.pid}.abc.tmp"  # its writer may be alive over there
    alive = tmp_path / f".f.{_host()}_{os.getpid()}.abc.tmp"
    other_file = tmp_path / f".g.{_host()}_{finished.pid}.abc.tmp"
    for path in (dead, older_format, other_machine, alive, other_file):
        path.mkdir()
    assert remove_stale_temporaries(tmp_path, "f") == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (other_machine, alive, other_file))
