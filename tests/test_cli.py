import subprocess
import sys

import pytest

from engine.cli import build_parser, main


@pytest.mark.parametrize("command", ["score", "merge", "serve"])
def test_every_option_is_explained(command):
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]
    for action in sub._actions:
        assert action.help and len(action.help) > 10, f"{command} {action.option_strings or action.dest} has no help"


def test_help_runs_as_a_console_command():
    out = subprocess.run([sys.executable, "-m", "engine", "score", "--help"], capture_output=True, text=True, check=True)
    assert "--workspace" in out.stdout and "--teacher" in out.stdout


def test_missing_input_is_one_readable_sentence(tmp_path, capsys):
    assert main(["score", str(tmp_path / "nope"), "--workspace", str(tmp_path / "ws")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("whisper-curator score: input not found") and "\n" not in err


def test_input_without_audio_is_one_readable_sentence(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    assert main(["score", str(tmp_path / "in"), "--workspace", str(tmp_path / "ws")]) == 1
    assert "no audio clips found" in capsys.readouterr().err
