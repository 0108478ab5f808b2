"""All five packages installed into one environment: one version, every CLI answers."""

from __future__ import annotations

import shutil
import subprocess
from importlib.metadata import version

import pytest

PACKAGES = ["mri-io", "mri-metrics", "mri-gen", "mri-seg", "mri-bench"]


def test_every_package_has_the_same_version() -> None:
    versions = {name: version(name) for name in PACKAGES}
    assert len(set(versions.values())) == 1, versions


@pytest.mark.parametrize("name", PACKAGES)
def test_console_script_reports_the_shared_version(name: str) -> None:
    script = shutil.which(name)
    assert script is not None, f"{name} console script is not on PATH"
    result = subprocess.run([script, "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.split() == [name, version("mri-io")]
