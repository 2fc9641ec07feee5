import subprocess
import sys

import pytest

from whisper_curator.cli import build_parser, main


@pytest.mark.parametrize("command", ["score", "merge", "serve"])
def test_every_option_is_explained(command):
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]
    for action in sub._actions:
        assert action.help and len(action.help) > 10, f"{command} {action.option_strings or action.dest} has no help"


def test_help_runs_as_a_console_command():
    out = subprocess.run([sys.executable, "-m", "whisper_curator", "score", "--help"], capture_output=True, text=True, check=True)
    assert "--workspace" in out.stdout and "--teacher" in out.stdout


def _subcommands() -> list[str]:
    return list(build_parser()._subparsers._group_actions[0].choices)


@pytest.mark.parametrize("command", [[], *([name] for name in _subcommands())], ids=lambda c: " ".join(c) or "program")
def test_help_prints_for_the_program_and_every_subcommand(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: whisper-curator") and "%%" not in out


def test_missing_input_is_one_readable_sentence(tmp_path, capsys):
    assert main(["score", str(tmp_path / "nope"), "--workspace", str(tmp_path / "ws")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("whisper-curator score: input not found") and "\n" not in err


def test_input_without_audio_is_one_readable_sentence(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    assert main(["score", str(tmp_path / "in"), "--workspace", str(tmp_path / "ws")]) == 1
    assert "no audio clips found" in capsys.readouterr().err


def test_distill_takes_the_experts_options(tmp_path, capsys):
    from whisper_curator.cli import distill_config

    args = build_parser().parse_args(["distill", "ws", "--student", "experts", "--languages", "de,fr", "--gate-budget", "0.3"])
    config = distill_config(args)
    assert (config.student, config.language_list, config.gate_budget) == ("experts", ("de", "fr"), 0.3)
    assert distill_config(build_parser().parse_args(["distill", "ws"])).languages is None
    assert main(["distill", str(tmp_path / "ws"), "--student", "window", "--languages", "de"]) == 1
    assert "experts student only" in capsys.readouterr().err
    assert main(["distill", str(tmp_path / "ws"), "--student", "experts"]) == 1
    assert "needs distinct target languages" in capsys.readouterr().err
