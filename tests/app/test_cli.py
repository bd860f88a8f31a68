"""CLI contract: exit codes and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_unknown_workspace_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["nosuch", "info"])
    assert exit_info.value.code == 2


def test_help_lists_workspaces(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "spectrum" in capsys.readouterr().out


def test_main_py_runs_as_a_script():
    result = subprocess.run([sys.executable, "main.py", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and "WORKSPACE" in result.stdout
