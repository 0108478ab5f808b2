"""The ``info`` and ``scan`` commands: output, JSON, and one-line errors without tracebacks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from mri_io.cli_support import EXIT_BAD_INPUT, make_parser, run
from mri_io.commands import info, scan
from mri_io.layouts import brats2023_filename
from mri_io.nifti import BRATS_AFFINE, new_volume, save_volume


def parser() -> argparse.ArgumentParser:
    built = make_parser("mri-io", "test", "0")
    commands = built.add_subparsers()
    info.register(commands)
    scan.register(commands)
    return built


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for number, keys in enumerate([("t1n", "t1c", "t2w", "t2f"), ("t1n", "t2w", "t2f")]):
        case_id = f"BraTS-GLI-{number:05d}-000"
        for key in keys:
            image = new_volume(rng.uniform(0, 500, size=(6, 5, 4)), BRATS_AFFINE)
            save_volume(image, tmp_path / case_id / brats2023_filename(case_id, key))
        seg = np.zeros((6, 5, 4), dtype=np.uint8)
        seg[2, 2, 1:3] = (3, 4) if number else (1, 3)
        save_volume(new_volume(seg, BRATS_AFFINE), tmp_path / case_id / f"{case_id}-seg.nii.gz")
    (tmp_path / "README.md").write_text("stray")
    return tmp_path


def test_info_prints_geometry_and_range(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = dataset / "BraTS-GLI-00000-000" / "BraTS-GLI-00000-000-seg.nii.gz"
    assert run(parser(), ["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "shape       6 x 5 x 4" in out
    assert "spacing     1 x 1 x 1 mm" in out
    assert "axes        LPS" in out
    assert "stored as   uint8" in out
    assert "range       [0, 3]" in out


def test_info_json_matches_the_file(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(dataset.rglob("*-t2w.nii.gz"))
    assert run(parser(), ["info", "--json", *map(str, files)]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert [item["path"] for item in facts] == [str(path) for path in files]
    assert facts[0]["shape"] == [6, 5, 4]
    assert facts[0]["axis_codes"] == "LPS"
    assert facts[0]["stored_dtype"] == "float64"
    assert facts[0]["affine"] == BRATS_AFFINE.tolist()
    assert 0 <= facts[0]["min"] < facts[0]["max"] <= 500


def test_scan_lists_cases_and_missing(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(parser(), ["scan", str(dataset)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["case", "layout", "present", "missing", "seg", "labels"]
    assert lines[1].split() == ["BraTS-GLI-00000-000", "brats2023", "t1n,t1c,t2w,t2f", "-",
                                "yes", "brats2023"]  # fmt: skip
    assert lines[2].split() == ["BraTS-GLI-00001-000", "brats2023", "t1n,t2w,t2f", "t1c",
                                "yes", "brats2024-post"]  # fmt: skip
    assert lines[3] == "2 cases, 1 with missing sequences"


def test_scan_json(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(parser(), ["scan", "--json", "--no-labels", str(dataset)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["missing"] for row in rows] == [[], ["t1c"]]
    assert all(row["label_convention"] is None for row in rows)


@pytest.mark.parametrize(
    ("content", "command", "message"),
    [
        (b"\x1f\x8b\x08\x00broken", "info", "bad.nii.gz: damaged or truncated gzip stream"),
        (b"hello" * 100, "info", "bad.nii.gz: not a NIfTI file"),
        (None, "info", "No such file"),
        (None, "scan", "not a folder"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, command: str,
    message: str,
) -> None:  # fmt: skip
    target = tmp_path / "bad.nii.gz"
    if content is not None:
        target.write_bytes(content)
    assert run(parser(), [command, str(target)]) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("mri-io: error: ")
    assert message.lower() in captured.err.lower()
    assert "Traceback" not in captured.err


def test_scan_of_a_folder_without_cases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("nothing here")
    assert run(parser(), ["scan", str(tmp_path)]) == EXIT_BAD_INPUT
    assert "no case files found" in capsys.readouterr().err
