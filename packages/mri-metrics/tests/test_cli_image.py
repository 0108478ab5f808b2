"""``mri-metrics image``: JSON and human output, one-line errors for bad files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import numpy.typing as npt
import pytest

from mri_metrics.commands import image
from mri_metrics.errors import MetricInputError, NonFiniteError, ShapeMismatchError
from mri_metrics.intensity import mae, psnr
from mri_metrics.similarity import ssim


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mri-metrics")
    image.register(parser.add_subparsers())
    return parser


def _save(path: Path, data: npt.NDArray[np.float64]) -> Path:
    nib.save(nib.Nifti1Image(data.astype(np.float32), np.eye(4)), path)  # type: ignore[no-untyped-call]
    return path


def _volumes() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    rng = np.random.default_rng(0)
    ref = np.zeros((24, 26, 22))
    ref[4:20, 5:21, 4:18] = rng.uniform(100, 900, (16, 16, 14))
    pred = np.where(ref > 0, ref + rng.normal(0, 30, ref.shape), 0.0)
    return ref.astype(np.float32).astype(np.float64), pred.astype(np.float32).astype(np.float64)


def _run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    code: int = args.handler(args)
    return code


def test_json_report_scores_the_reference_brain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref, pred = _volumes()
    r, p = _save(tmp_path / "ref.nii.gz", ref), _save(tmp_path / "pred.nii.gz", pred)
    assert _run(["image", "--ref", str(r), "--pred", str(p), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    brain = ref != 0
    assert report["region"] == "reference != 0"
    assert report["voxels"] == int(brain.sum())
    assert report["ssim"] == pytest.approx(ssim(pred, ref, mask=brain), abs=1e-12)
    assert report["psnr"] == pytest.approx(psnr(pred, ref, mask=brain), abs=1e-12)
    assert report["mae"] == pytest.approx(mae(pred, ref, mask=brain), abs=1e-12)


def test_mask_file_and_brasyn_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref, pred = _volumes()
    region = np.zeros(ref.shape)
    region[6:14, 6:14, 6:14] = 1
    r, p = _save(tmp_path / "ref.nii.gz", ref), _save(tmp_path / "pred.nii.gz", pred)
    m = _save(tmp_path / "mask.nii.gz", region)
    argv = ["image", "--ref", str(r), "--pred", str(p), "--mask", str(m), "--profile", "brasyn"]
    assert _run(argv) == 0
    out = capsys.readouterr().out
    expected = ssim(pred, ref, mask=region.astype(bool), profile="brasyn")
    assert f"ssim  {expected:.6g}" in out
    assert "profile brasyn, region mask mask.nii.gz (512 voxels)" in out


def test_bad_files_raise_errors_naming_the_file(tmp_path: Path) -> None:
    ref, pred = _volumes()
    r = _save(tmp_path / "ref.nii.gz", ref)
    bad = pred.copy()
    bad[10, 10, 10] = np.nan
    p = _save(tmp_path / "nan.nii.gz", bad)
    with pytest.raises(NonFiniteError, match=r"nan\.nii\.gz: prediction: holds 1 non-finite"):
        _run(["image", "--ref", str(r), "--pred", str(p)])
    small = _save(tmp_path / "small.nii.gz", pred[:20])
    with pytest.raises(ShapeMismatchError, match=r"small\.nii\.gz"):
        _run(["image", "--ref", str(r), "--pred", str(small)])
    with pytest.raises(MetricInputError, match="drop --mask"):
        _run(["image", "--ref", str(r), "--pred", str(r), "--mask", str(r), "--profile", "skimage"])
    text = tmp_path / "notes.nii.gz"
    text.write_text("not an image")
    with pytest.raises(MetricInputError, match=r"notes\.nii\.gz"):
        _run(["image", "--ref", str(r), "--pred", str(text)])


def test_identical_volumes_write_null_psnr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref, _ = _volumes()
    r = _save(tmp_path / "ref.nii.gz", ref)
    assert _run(["image", "--ref", str(r), "--pred", str(r), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["psnr"] is None
    assert report["ssim"] == pytest.approx(1.0, abs=1e-12)
