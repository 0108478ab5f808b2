"""Provenance of recorded measurements: the command, the machine, the date and the load."""

from __future__ import annotations

import os
import platform
import re
from datetime import date
from pathlib import Path

import pytest

from mri_io import provenance

#: This file's checkout: the folder above packages/ that holds noxfile.py.
ROOT = Path(__file__).resolve().parents[3]


def test_a_script_inside_the_repository_is_named_from_its_root() -> None:
    script = ROOT / "packages" / "mri-seg" / "benchmarks" / "train_tiny.py"
    command = provenance.command_line(script, ["--work", "/tmp/tiny", "--steps", "400"])
    assert (
        command == "python packages/mri-seg/benchmarks/train_tiny.py --work /tmp/tiny --steps 400"
    )


def test_a_relative_script_path_is_read_from_the_working_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT / "packages")
    command = provenance.command_line("mri-io/benchmarks/bench_synthetic.py", [])
    assert command == "python packages/mri-io/benchmarks/bench_synthetic.py"


def test_a_script_outside_any_repository_keeps_its_path(tmp_path: Path) -> None:
    script = tmp_path / "measure.py"
    assert provenance.command_line(script, ["--quick"]) == f"python {script} --quick"


def test_the_nearest_marked_folder_is_the_root(tmp_path: Path) -> None:
    (tmp_path / "noxfile.py").write_text("")
    script = tmp_path / "docs" / "figures" / "page.py"
    assert provenance.command_line(script, ["--render"]) == "python docs/figures/page.py --render"


def test_the_load_average_is_three_non_negative_values_at_two_decimals() -> None:
    load = provenance.load_average()
    assert len(load) == 3
    assert all(isinstance(value, float) and value >= 0 for value in load)
    assert all(value == round(value, 2) for value in load)


def test_the_load_average_is_rounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "getloadavg", lambda: (0.1474609375, 1.005859375, 12.3))
    assert provenance.load_average() == [0.15, 1.01, 12.3]


def test_the_machine_names_the_platform_and_the_cpu_count() -> None:
    assert provenance.machine() == f"{platform.platform()}, {os.cpu_count()} CPUs"


def test_the_cpu_model_comes_from_cpuinfo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Example CPU @ 2.00GHz\nflags\t\t: fpu\n")
    monkeypatch.setattr(provenance, "CPUINFO", cpuinfo)
    expected = f"{platform.platform()}, {os.cpu_count()} CPUs, Example CPU @ 2.00GHz"
    assert provenance.machine(cpu_model=True) == expected


@pytest.mark.parametrize("cpuinfo_text", ["processor\t: 0\nflags\t\t: fpu\n", None])
def test_without_a_model_name_the_cpu_model_is_what_platform_knows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cpuinfo_text: str | None
) -> None:
    cpuinfo = tmp_path / "cpuinfo"  # missing when cpuinfo_text is None
    if cpuinfo_text is not None:
        cpuinfo.write_text(cpuinfo_text)
    monkeypatch.setattr(provenance, "CPUINFO", cpuinfo)
    monkeypatch.setattr(platform, "processor", lambda: "")
    monkeypatch.setattr(platform, "machine", lambda: "riscv64")
    assert provenance.machine(cpu_model=True).endswith(" CPUs, riscv64")
    monkeypatch.setattr(platform, "processor", lambda: "arm")
    assert provenance.machine(cpu_model=True).endswith(" CPUs, arm")


def test_today_is_the_local_iso_date() -> None:
    before = date.today().isoformat()
    day = provenance.today()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", day)
    assert day in {before, date.today().isoformat()}  # midnight may pass between the calls
