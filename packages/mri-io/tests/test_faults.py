"""Faults and hostile input: outputs are never half-written, colliding or overwriting inputs,
and every failure is one line naming the file (exit status 2), never a traceback."""

from __future__ import annotations

import errno
import gzip
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from mri_io import (
    AffineError,
    DimensionError,
    ImageTooLargeError,
    LayoutError,
    check_unique_case_ids,
    load_volume,
    new_volume,
    save_volume,
    scan_cases,
)
from mri_io.atomic import atomic_folder
from mri_io.cli import main
from mri_io.conform import RECORD_FILE
from mri_io.intensity import load_stats
from mri_io.layouts import brats2023_filename
from mri_io.nifti import MAX_IMAGE_BYTES_ENV
from mri_io.testing import kill_at_call, kill_at_rename, run_killed, visible

SHAPE = (12, 10, 8)
AFFINE = np.diag([1.0, 1.0, 1.0, 1.0])
SEQUENCES = ("t1n", "t1c", "t2w", "t2f")


def write_case(folder: Path, case_id: str, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for name in SEQUENCES:
        data = rng.integers(1, 500, SHAPE).astype(np.int16)
        save_volume(new_volume(data, AFFINE), folder / brats2023_filename(case_id, name))


@pytest.fixture
def cohort(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    for index in range(2):
        case_id = f"BraTS-GLI-{index:05d}-000"
        write_case(root / case_id, case_id, index)
    return root


def one_line_error(capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    # Progress bars (on stderr) may come first; the error is the last line and the only one.
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1, err
    err = lines[0]
    assert err.startswith("mri-io: error: "), err
    for needle in needles:
        assert needle in err, err
    return err


# --- outputs inside the input, colliding, overwriting -----------------------------------------


def test_normalise_refuses_an_output_inside_its_input(
    cohort: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = cohort / "norm"
    assert main(["normalise", str(cohort), "--out", str(out), "--per-volume"]) == 2
    one_line_error(capsys, str(out), "inside the input folder")
    assert not out.exists()
    assert len(scan_cases(cohort)) == 2


def test_normalise_refuses_an_output_around_its_input(
    cohort: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = cohort / "BraTS-GLI-00000-000"
    before = sorted(p.read_bytes() for p in case.iterdir())
    assert main(["normalise", str(case), "--out", str(cohort), "--per-volume"]) == 2
    one_line_error(capsys, "holds the input folder")
    assert sorted(p.read_bytes() for p in case.iterdir()) == before


def test_one_case_id_in_two_folders_is_refused_naming_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case_id = "BraTS-GLI-00007-000"
    write_case(tmp_path / "in" / "train" / case_id, case_id, 1)
    write_case(tmp_path / "in" / "val" / case_id, case_id, 2)
    out = tmp_path / "out"
    assert main(["normalise", str(tmp_path / "in"), "--out", str(out), "--per-volume"]) == 2
    one_line_error(capsys, case_id, str(Path("train") / case_id), str(Path("val") / case_id))
    assert not out.exists()
    with pytest.raises(LayoutError, match="also in"):
        check_unique_case_ids(scan_cases(tmp_path / "in"))


def test_stats_refuses_to_overwrite_an_input_image(
    cohort: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = cohort / "BraTS-GLI-00000-000" / brats2023_filename("BraTS-GLI-00000-000", "t1n")
    before = victim.read_bytes()
    assert main(["stats", str(cohort), "--out", str(victim)]) == 2
    one_line_error(capsys, str(victim), "input file")
    assert victim.read_bytes() == before


def test_stats_into_an_existing_folder_is_one_line(
    cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "somewhere"
    folder.mkdir()
    assert main(["stats", str(cohort), "--out", str(folder)]) == 2
    one_line_error(capsys, str(folder), "is a folder")


def test_an_unwritable_output_is_one_line_naming_it(
    cohort: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Tests may run as root, for whom nothing is read-only: raise what a read-only disk raises.
    target = tmp_path / "ro" / "stats.json"

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(target))

    monkeypatch.setattr("mri_io.commands.stats.save_stats", refuse)
    assert main(["stats", str(cohort), "--out", str(target)]) == 2
    one_line_error(capsys, f"{target}: permission denied")


# --- interrupted writes leave no case that a scan reads -----------------------------------------


def test_a_failed_case_leaves_no_case_folder(
    cohort: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mri_io.commands import normalise

    real_save = normalise.save_volume
    calls = []

    def failing_save(*args: object, **kwargs: object) -> Path:
        calls.append(args)
        if len(calls) == 6:  # the second case, half written
            raise OSError(errno.ENOSPC, "No space left on device", "disk")
        return real_save(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(normalise, "save_volume", failing_save)
    out = tmp_path / "out"
    assert main(["normalise", str(cohort), "--out", str(out), "--per-volume"]) == 2
    one_line_error(capsys, "no space left on device")
    cases = scan_cases(out)
    assert [c.case_id for c in cases] == ["BraTS-GLI-00000-000"]
    assert cases[0].missing == ()
    assert sorted(p.name for p in out.iterdir()) == ["BraTS-GLI-00000-000"]


def test_normalise_killed_mid_case_leaves_no_case_that_scan_reads(
    cohort: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run_killed(
        kill_at_call("mri_io.commands.normalise.save_volume", 6),
        f"""
        from mri_io.cli import main
        main(["normalise", {str(cohort)!r}, "--out", {str(out)!r}, "--per-volume"])
        """,
    )
    cases = scan_cases(out)
    assert [c.case_id for c in cases] == ["BraTS-GLI-00000-000"]
    assert all(c.missing == () for c in cases)
    # A rerun completes the cohort and replaces nothing but whole case folders.
    assert main(["normalise", str(cohort), "--out", str(out), "--per-volume"]) == 0
    assert [c.missing for c in scan_cases(out)] == [(), ()]


def test_conform_killed_mid_case_leaves_no_case_that_scan_reads(
    cohort: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    options = ["--out", str(out), "--spacing", "2", "--shape", "8", "8", "8"]
    # Four files per case: the sixth write is the second case's second file.
    run_killed(
        kill_at_call("mri_io.conform.save_volume", 6),
        f"""
        from mri_io.cli import main
        main(["conform", {str(cohort)!r}, *{options!r}])
        """,
    )
    cases = scan_cases(out)
    assert [c.case_id for c in cases] == ["BraTS-GLI-00000-000"]
    assert cases[0].missing == ()
    assert main(["conform", str(cohort), *options]) == 0
    assert [c.missing for c in scan_cases(out)] == [(), ()]


def test_cohort_killed_mid_case_leaves_no_case_that_scan_reads(tmp_path: Path) -> None:
    out = tmp_path / "cohort"
    arguments = ["cohort", "--cases", "2", "--out", str(out), "--seed", "3", "--quiet"]
    # Five files per case: the seventh write is the second case's second file.
    run_killed(
        kill_at_call("mri_io.synthetic.cohort.save_volume", 7),
        f"""
        from mri_io.cli import main
        main({arguments!r})
        """,
    )
    cases = scan_cases(out)
    assert [c.case_id for c in cases] == ["BraTS-GLI-00000-000"]
    assert cases[0].missing == ()
    assert cases[0].seg is not None
    # A rerun into the folder the killed run left writes the whole cohort.
    assert main([*arguments, "--overwrite"]) == 0
    assert [c.missing for c in scan_cases(out)] == [(), ()]


def test_stats_killed_while_writing_keeps_the_previous_file_whole(
    cohort: Path, tmp_path: Path
) -> None:
    out = tmp_path / "stats" / "stats.json"
    out.parent.mkdir()
    out.write_text("previous statistics\n")
    body = f"""
        from mri_io.cli import main
        main(["stats", {str(cohort)!r}, "--out", {str(out)!r}])
        """
    run_killed(kill_at_rename(1), body)
    assert out.read_text() == "previous statistics\n"
    assert visible(out.parent) == ["stats.json"]
    # A rerun replaces it with the whole statistics; the killed run's leftover is hidden.
    assert main(["stats", str(cohort), "--out", str(out)]) == 0
    assert sorted(load_stats(out)) == sorted(SEQUENCES)
    assert visible(out.parent) == ["stats.json"]


def test_stats_refuses_to_overwrite_an_input_label_map(
    cohort: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    case = cohort / "BraTS-GLI-00001-000"
    seg = case / brats2023_filename("BraTS-GLI-00001-000", "seg")
    save_volume(new_volume(np.zeros(SHAPE, np.uint8), AFFINE), seg)
    before = seg.read_bytes()
    # Through a relative path from inside the case: the check compares resolved paths.
    monkeypatch.chdir(case)
    assert main(["stats", str(cohort), "--out", seg.name]) == 2
    one_line_error(capsys, seg.name, "input file of case BraTS-GLI-00001-000")
    assert seg.read_bytes() == before


@pytest.fixture
def conformed(cohort: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The first case's T1 conformed to a 2 mm grid of 8x8x8 voxels, and its record."""
    options = ["--out", str(tmp_path / "conformed"), "--spacing", "2", "--shape", "8", "8", "8"]
    assert main(["conform", str(cohort), *options]) == 0
    case = tmp_path / "conformed" / "BraTS-GLI-00000-000"
    return case / brats2023_filename(case.name, "t1n"), case / RECORD_FILE


def test_conform_inverse_killed_while_writing_keeps_the_previous_file_whole(
    conformed: tuple[Path, Path], tmp_path: Path
) -> None:
    image, record = conformed
    out = tmp_path / "back" / "t1n.nii.gz"
    out.parent.mkdir()
    out.write_bytes(b"previous")
    arguments = ["conform", "--inverse", str(image), "--record", str(record), "--out", str(out)]
    arguments.append("--linear")
    run_killed(kill_at_rename(1), f"from mri_io.cli import main\nmain({arguments!r})")
    assert out.read_bytes() == b"previous"
    assert visible(out.parent) == ["t1n.nii.gz"]
    assert main(arguments) == 0
    assert load_volume(out).shape == SHAPE
    assert visible(out.parent) == ["t1n.nii.gz"]


@pytest.mark.parametrize("option", ["--inverse", "--record"])
def test_conform_inverse_refuses_to_overwrite_its_input(
    conformed: tuple[Path, Path], capsys: pytest.CaptureFixture[str], option: str
) -> None:
    image, record = conformed
    victim = image if option == "--inverse" else record
    before = victim.read_bytes()
    arguments = ["conform", "--inverse", str(image), "--record", str(record), "--out", str(victim)]
    assert main(arguments) == 2
    one_line_error(capsys, str(victim), f"is the {option} file")
    assert victim.read_bytes() == before


#: The model of the model-folder tests: ``{"w": VALUE everywhere}``, configured with its value.
DEMO = {"kind": "demo", "package": "mri-demo", "version": "1"}


def write_demo_model(folder: Path, value: float) -> None:
    import torch

    from mri_io.model_folder import write_model_folder

    weights = {"w": torch.full((64, 64), value)}
    write_model_folder(folder, weights, config={"value": value}, **DEMO)


def demo_model_value(folder: Path) -> float:
    """The value of the demo model in ``folder``: its config's, after checking that its
    weights match the hash config.json recorded and hold that value."""
    from mri_io.model_folder import read_model_folder, read_model_weights

    saved = read_model_folder(folder)
    weights = read_model_weights(saved)["w"]
    assert bool((weights == saved.config["value"]).all())
    return float(saved.config["value"])


#: Renames while one model folder replaces another: the weights and config.json each renamed
#: into the hidden new folder, then that folder onto the old one (refused: it is not empty),
#: the old one moved aside, the new one renamed into place.
MODEL_FOLDER_RENAMES = 5


@pytest.mark.parametrize("commit", range(1, MODEL_FOLDER_RENAMES + 1))
def test_a_model_folder_killed_while_replaced_is_the_old_model_or_absent(
    tmp_path: Path, commit: int
) -> None:
    pytest.importorskip("safetensors")
    folder = tmp_path / "model"
    write_demo_model(folder, 1.0)
    body = f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        from test_faults import write_demo_model
        write_demo_model(Path({str(folder)!r}), 2.0)
        """
    run_killed(kill_at_rename(commit), body)
    assert visible(tmp_path) in (["model"], [])
    if folder.exists():  # the old model, whole
        assert visible(folder) == ["config.json", "model.safetensors"]
        assert demo_model_value(folder) == 1.0
    # Saving again gives the new model whole, whatever the killed run left.
    write_demo_model(folder, 2.0)
    assert demo_model_value(folder) == 2.0
    assert visible(tmp_path) == ["model"]


def test_a_model_is_not_written_over_a_folder_holding_other_files(tmp_path: Path) -> None:
    pytest.importorskip("safetensors")
    from mri_io.errors import ModelFolderError

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ModelFolderError, match=r"holds notes\.txt, not only a model"):
        write_demo_model(tmp_path, 1.0)
    assert visible(tmp_path) == ["notes.txt"]


def test_atomic_folder_replaces_a_previous_folder_whole(tmp_path: Path) -> None:
    target = tmp_path / "case"
    target.mkdir()
    (target / "stale.txt").write_text("old")
    with atomic_folder(target) as folder:
        (folder / "new.txt").write_text("new")
        assert (target / "stale.txt").exists()
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case"]

    def half_write() -> None:
        with atomic_folder(target) as folder:
            (folder / "half.txt").write_text("half")
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        half_write()
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case"]


# --- images a reader must refuse -----------------------------------------------------------------


def test_an_empty_volume_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DimensionError, match="no voxels"):
        new_volume(np.zeros((0, 4, 4), np.uint8), AFFINE)
    path = tmp_path / "empty.nii"
    nib.save(nib.Nifti1Image(np.zeros((0, 4, 4), np.uint8), AFFINE), path)
    with pytest.raises(DimensionError, match=r"empty\.nii: .*no voxels"):
        load_volume(path)


def _with_sform(tmp_path: Path, name: str, rows: list[list[float]]) -> Path:
    source = tmp_path / "good.nii"
    save_volume(new_volume(np.ones(SHAPE, np.uint8), AFFINE), source)
    content = bytearray(source.read_bytes())
    header = nib.Nifti1Header.from_fileobj(__import__("io").BytesIO(bytes(content)))
    header["qform_code"], header["sform_code"] = 0, 1
    header["srow_x"], header["srow_y"], header["srow_z"] = rows
    content[:348] = header.binaryblock
    target = tmp_path / name
    target.write_bytes(bytes(content))
    return target


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], "singular"),
        ([[np.nan, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], "NaN"),
    ],
)
def test_a_bad_affine_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: list[list[float]], problem: str
) -> None:
    path = _with_sform(tmp_path, "bad-affine.nii", rows)
    with pytest.raises(AffineError, match=rf"bad-affine\.nii: .*{problem}"):
        load_volume(path)
    assert main(["info", str(path)]) == 2
    one_line_error(capsys, "bad-affine.nii", problem)


def test_an_image_over_the_size_limit_is_refused_before_it_is_inflated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bomb.nii.gz"
    save_volume(new_volume(np.zeros((100, 100, 100), np.float32), AFFINE), path)
    assert path.stat().st_size < 100_000  # 4 MB of zeros compress to almost nothing
    monkeypatch.setenv(MAX_IMAGE_BYTES_ENV, "1000000")
    reads: list[int] = []
    real_read = gzip.GzipFile.read

    def counting_read(self: gzip.GzipFile, size: int = -1) -> bytes:
        reads.append(size)
        return real_read(self, size)

    monkeypatch.setattr(gzip.GzipFile, "read", counting_read)
    with pytest.raises(ImageTooLargeError, match=r"bomb\.nii\.gz: .*4000352 bytes.*1000000"):
        load_volume(path)
    assert reads == [348]  # only the header was inflated
    assert main(["info", str(path)]) == 2
    one_line_error(capsys, "bomb.nii.gz", MAX_IMAGE_BYTES_ENV)
    monkeypatch.setenv(MAX_IMAGE_BYTES_ENV, "10000000")
    assert load_volume(path).shape == (100, 100, 100)


def test_the_default_limit_refuses_a_header_declaring_gigabytes(tmp_path: Path) -> None:
    path = tmp_path / "huge.nii.gz"
    header = nib.Nifti1Header()
    header.set_data_shape((4000, 4000, 4000))
    header.set_data_dtype(np.float32)
    header["vox_offset"] = 352
    with gzip.open(path, "wb") as stream:
        stream.write(header.binaryblock + b"\x00" * 4 + b"\x00" * 1000)
    os.environ.pop(MAX_IMAGE_BYTES_ENV, None)
    with pytest.raises(ImageTooLargeError, match=r"huge\.nii\.gz"):
        load_volume(path)


def test_a_file_cut_inside_its_header_padding_reports_the_bytes_missing(tmp_path: Path) -> None:
    source = tmp_path / "good.nii"
    save_volume(new_volume(np.ones(SHAPE, np.uint8), AFFINE), source)
    cut = tmp_path / "cut.nii"
    cut.write_bytes(source.read_bytes()[:349])
    with pytest.raises(Exception, match=rf"{int(np.prod(SHAPE))} bytes short of the"):
        load_volume(cut)
