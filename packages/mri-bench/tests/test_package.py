"""The installed package: version metadata, console entry point, import cost."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points, version

import pytest

import mri_bench
from mri_bench.cli import main


def test_version_matches_distribution_metadata() -> None:
    assert mri_bench.__version__ == version("mri-bench")


def test_console_script_is_declared() -> None:
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts["mri-bench"] == "mri_bench.cli:main"


def test_help_exits_zero_and_describes_the_tool(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "usage: mri-bench" in capsys.readouterr().out


def test_module_entry_point_prints_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mri_bench", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == f"mri-bench {mri_bench.__version__}"


def test_import_does_not_pull_torch_or_the_extras() -> None:
    code = (
        "import sys, mri_bench; "
        "print(sorted(m for m in ('torch', 'mri_gen', 'mri_seg', 'monai') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
