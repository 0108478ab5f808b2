"""Writing cohorts: BraTS layout, determinism to the byte, manifest, and the ``synth`` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mri_io.cli import main
from mri_io.errors import MriIoError
from mri_io.layouts import scan_cases
from mri_io.nifti import load_volume
from mri_io.synthetic import GENERATOR_VERSION, Grid, generate_case
from mri_io.synthetic.cohort import write_cohort

TINY = Grid(
    (40, 40, 26),
    np.array([[-6.0, 0, 0, -2.5], [0, -6.0, 0, 236.5], [0, 0, 6.0, 2.5], [0, 0, 0, 1]]),
)


def _bytes(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_cohort_layout_types_and_manifest(tmp_path: Path) -> None:
    folders = write_cohort(
        tmp_path / "c",
        3,
        seed=4,
        grid=TINY,
        centres=["local-t1-t2", "research-3t"],
        tumour="gbm",
        progress=False,
    )
    assert [f.name for f in folders] == [f"BraTS-GLI-0000{i}-000" for i in range(3)]
    manifest = json.loads((tmp_path / "c" / "cohort.json").read_text())
    assert manifest["seed"] == 4
    assert manifest["generator_version"] == GENERATOR_VERSION
    assert manifest["centres"] == ["local-t1-t2", "research-3t"]
    for folder, record in zip(folders, manifest["cases"], strict=True):
        assert record["case_id"] == folder.name
        assert record["tumour"] == "gbm"
        files = {p.name for p in folder.iterdir()}
        expected = {f"{folder.name}-{s}.nii.gz" for s in (*record["sequences"], "seg")}
        assert files == expected
        seg = load_volume(folder / f"{folder.name}-seg.nii.gz", dtype=None)
        assert seg.data.dtype == np.uint8
        for sequence in record["sequences"]:
            image = load_volume(folder / f"{folder.name}-{sequence}.nii.gz", dtype=None)
            assert image.data.dtype == np.int16
            np.testing.assert_allclose(image.affine, TINY.affine)
            np.testing.assert_allclose(seg.affine, image.affine)
    # The layout reader of mri-io finds every case and its sequences.
    cases = scan_cases(tmp_path / "c")
    assert len(cases) == 3


def test_same_seed_same_bytes_and_any_case_alone(tmp_path: Path) -> None:
    write_cohort(tmp_path / "a", 2, seed=8, grid=TINY, progress=False)
    write_cohort(tmp_path / "b", 2, seed=8, grid=TINY, workers=2, progress=False)
    first, second = _bytes(tmp_path / "a"), _bytes(tmp_path / "b")
    assert first.keys() == second.keys()
    assert first == second
    write_cohort(tmp_path / "c", 2, seed=9, grid=TINY, progress=False)
    assert _bytes(tmp_path / "c") != first
    # Case 1 regenerated alone equals case 1 of the cohort.
    alone = generate_case(1, seed=8, grid=TINY)
    folder = tmp_path / "a" / alone.case_id
    for sequence, image in alone.images.items():
        stored = load_volume(folder / f"{alone.case_id}-{sequence}.nii.gz", dtype=None).data
        np.testing.assert_array_equal(stored, np.rint(image).astype(np.int16))
    seg = load_volume(folder / f"{alone.case_id}-seg.nii.gz", dtype=None).data
    np.testing.assert_array_equal(seg, alone.labels)


def test_float32_images_keep_the_generated_values(tmp_path: Path) -> None:
    [folder] = write_cohort(
        tmp_path, 1, seed=1, grid=TINY, dtype="float32", progress=False, centres=["research-3t"]
    )
    case = generate_case(0, seed=1, grid=TINY, centre=["research-3t"])
    stored = load_volume(folder / f"{case.case_id}-t1n.nii.gz", dtype=None)
    assert stored.data.dtype == np.float32
    np.testing.assert_array_equal(stored.data, case.images["t1n"])


def test_non_empty_output_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(MriIoError, match="not empty"):
        write_cohort(tmp_path, 1, seed=0, grid=TINY, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    write_cohort(tmp_path, 1, seed=0, grid=TINY, progress=False, overwrite=True)
    assert (tmp_path / "cohort.json").is_file()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"centres": ["nowhere"]}, "unknown centre 'nowhere'"),
        ({"tumour": "glioma"}, "unknown tumour 'glioma'"),
        ({"workers": 0}, "workers must be at least 1"),
    ],
)
def test_bad_arguments_name_the_problem(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        write_cohort(tmp_path / "x", 1, seed=0, grid=TINY, progress=False, **kwargs)  # type: ignore[arg-type]


def test_cohort_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cohort"
    argv = [
        "cohort",
        "--cases",
        "1",
        "--out",
        str(out),
        "--seed",
        "3",
        "--tumour",
        "met",
        "--centres",
        "clinical-1.5t",
        "--quiet",
    ]
    assert main(argv) == 0
    manifest = json.loads((out / "cohort.json").read_text())
    assert manifest["grid"] == "half"
    # ``synth``, the command's earlier name, writes the same cohort.
    assert main(["synth", *argv[1:3], "--out", str(tmp_path / "again"), *argv[5:]]) == 0
    assert json.loads((tmp_path / "again" / "cohort.json").read_text()) == manifest
    assert manifest["cases"][0]["tumour"] == "met"
    image = load_volume(out / "BraTS-GLI-00000-000" / "BraTS-GLI-00000-000-t2f.nii.gz")
    assert image.shape == (120, 120, 78)
    capsys.readouterr()
    assert main(argv) == 2
    assert "not empty" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0


def test_the_varied_anatomy_is_a_cohort_option_of_its_own(tmp_path: Path) -> None:
    """``--anatomy procedural-varied`` writes the varied brain, recorded as such; its case is
    the plain case's tumour kind and centre with more grey matter, the same for the same seed."""
    out = tmp_path / "varied"
    argv = ["cohort", "--cases", "1", "--out", str(out), "--seed", "4", "--quiet"]
    assert main([*argv, "--anatomy", "procedural-varied"]) == 0
    manifest = json.loads((out / "cohort.json").read_text())
    assert manifest["anatomy"] == "procedural-varied"
    assert manifest["cases"][0]["anatomy"] == "procedural-varied"
    plain = generate_case(0, seed=4, grid=TINY, anatomy="procedural")
    varied = generate_case(0, seed=4, grid=TINY, anatomy="procedural-varied")
    again = generate_case(0, seed=4, grid=TINY, anatomy="procedural-varied")
    assert (varied.centre, varied.tumour) == (plain.centre, plain.tumour)
    for name in varied.images:
        np.testing.assert_array_equal(varied.images[name], again.images[name])
    assert any(not np.array_equal(varied.images[n], plain.images[n]) for n in varied.images)
