"""All five packages installed into one environment: one version, every CLI answers."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

PACKAGES = ["mri-io", "mri-metrics", "mri-gen", "mri-seg", "mri-bench"]


def test_every_package_has_the_same_version() -> None:
    versions = {name: version(name) for name in PACKAGES}
    assert len(set(versions.values())) == 1, versions


@pytest.mark.parametrize("name", PACKAGES)
def test_console_script_reports_the_shared_version(name: str) -> None:
    # The environment under test is the one running pytest: look beside its interpreter.
    script = shutil.which(name, path=str(Path(sys.executable).parent))
    assert script is not None, f"{name} console script is not installed beside {sys.executable}"
    result = subprocess.run([script, "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.split() == [name, version("mri-io")]
