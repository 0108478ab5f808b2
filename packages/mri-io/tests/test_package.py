"""The installed package: version metadata, console entry point, import cost."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points, version

import pytest

import mri_io
from mri_io.cli import main


def test_version_matches_distribution_metadata() -> None:
    assert mri_io.__version__ == version("mri-io")


def test_console_script_is_declared() -> None:
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts["mri-io"] == "mri_io.cli:main"


def test_help_exits_zero_and_describes_the_tool(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "usage: mri-io" in capsys.readouterr().out


def test_module_entry_point_prints_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mri_io", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == f"mri-io {mri_io.__version__}"


def test_import_does_not_import_torch() -> None:
    code = 'import sys, mri_io, mri_io.cli, mri_io.model_folder; sys.exit("torch" in sys.modules)'
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
