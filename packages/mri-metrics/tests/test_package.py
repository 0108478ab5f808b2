"""The installed package: version metadata, console entry point, import cost."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points, version

import pytest

import mri_metrics
from mri_metrics.cli import main


def test_version_matches_distribution_metadata() -> None:
    assert mri_metrics.__version__ == version("mri-metrics")


def test_console_script_is_declared() -> None:
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts["mri-metrics"] == "mri_metrics.cli:main"


def test_help_exits_zero_and_describes_the_tool(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "usage: mri-metrics" in capsys.readouterr().out


def test_module_entry_point_prints_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mri_metrics", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == f"mri-metrics {mri_metrics.__version__}"


def test_import_does_not_import_torch() -> None:
    code = 'import sys, mri_metrics, mri_metrics.cli; sys.exit("torch" in sys.modules)'
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
