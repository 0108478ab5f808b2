"""UMMGAT inference: volumes through mri-io slicing, completion, harmonisation, styles, CLI."""

from __future__ import annotations

import copy
import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from mri_gen.cli import main
from mri_gen.errors import ConfigError, NothingToSynthesiseError
from mri_gen.ummgat.config import PRESETS
from mri_gen.ummgat.data import load_unpaired
from mri_gen.ummgat.inference import (
    SOURCE_PREFERENCE,
    Translator,
    choose_source,
    generate_missing,
    harmonise_case,
    translate_case,
)
from mri_gen.ummgat.networks import UMMGATModel
from mri_gen.ummgat.styles import pca_2d, project_2d, save_projection, style_codes
from mri_io.case import load_case
from mri_io.layouts import scan_cases
from mri_io.nifti import load_volume
from mri_io.synthetic.cohort import write_cohort

DOMAINS = (
    "local-t1-t2:t1n",
    "local-t1-t2:t2w",
    "research-3t:t1c",
    "research-3t:t1n",
    "research-3t:t2f",
    "research-3t:t2w",
)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ummgat-inference")
    write_cohort(folder, 4, seed=11, centres=("research-3t", "local-t1-t2"), progress=False)
    return folder


@pytest.fixture(scope="module")
def translator() -> Translator:
    torch.manual_seed(0)
    config = replace(PRESETS["tiny"], domains=DOMAINS, image_size=128)
    return Translator(UMMGATModel(config).eval(), batch_size=16, latent_samples=8)


def _case(cohort: Path, centre: str) -> tuple[object, str]:
    for files in scan_cases(cohort):
        case = load_case(files)
        full = len(case.images) == 4
        if (centre == "research-3t") == full:
            return case, centre
    raise AssertionError("the cohort lacks a case of that centre")


def test_translate_volume_restacks_on_the_input_grid(cohort: Path, translator: Translator) -> None:
    case = load_case(scan_cases(cohort)[0])
    volume = next(iter(case.images.values())).data
    style = translator.latent_style("research-3t:t2f", seed=1)
    out = translator.translate_volume(volume, style)
    assert out.shape == volume.shape
    assert out.dtype == np.float32
    assert np.all(out[volume <= 0] == 0)
    assert out.min() >= 0
    assert out.max() <= 255
    # Restacking: slice k of the output is the generator's output for slice k of the padded
    # square stack. Compared bit for bit with the generator run on the same batch (same
    # composition, same shapes, same float32 kernels), so no rounding enters the comparison:
    # a float32 convolution's result depends on how the batch is laid out (oneDNN picks
    # blocking and summation order per shape and thread count), which is why a single-slice
    # forward pass differed from the batched one by 1.6e-3 on the 0-255 scale. That a sample's
    # output does not depend on its batch companions is asserted in float64 below.
    k = volume.shape[2] // 2
    from mri_gen.ummgat.data import normalised_uint8
    from mri_io.geometry import CentreFit

    fit = CentreFit(volume.shape[:2], (128, 128))
    start = k - k % translator.batch_size
    stop = min(start + translator.batch_size, volume.shape[2])
    batch = normalised_uint8(volume)[:, :, start:stop].astype(np.float32)
    x = np.stack([fit.apply(batch[:, :, i]) for i in range(stop - start)])
    with torch.no_grad():
        x_t = torch.from_numpy(x)[:, None] / 127.5 - 1.0
        y = translator.model.generator(x_t, style.expand(stop - start, -1))
    expected = fit.invert(((y[k - start, 0].clamp(-1.0, 1.0) + 1.0) * 127.5).numpy())
    np.testing.assert_array_equal(out[:, :, k], np.where(volume[:, :, k] > 0, expected, 0))
    assert np.array_equal(
        translator.translate_volume(volume, translator.latent_style("research-3t:t2f", seed=1)),
        out,
    )


def test_a_batch_size_below_one_is_refused(translator: Translator) -> None:
    with pytest.raises(ConfigError, match="batch size must be at least 1, got 0"):
        Translator(translator.model, batch_size=0)


def test_a_slice_translates_the_same_alone_and_in_a_batch(translator: Translator) -> None:
    """No batch-mixing path in the generator: each slice's output ignores its companions.

    Run in float64 so the comparison measures the model, not float32 rounding. The outputs
    differ only by the summation order of the convolutions, which oneDNN chooses per batch
    shape: a relative rounding error of c * eps on the largest activation |y|max, where c is
    how much the network amplifies one rounding. Measured in float32, a batch of 16 against
    single slices differs by 1.1e-5 at |y|max = 12 (c ~ 8, i.e. 1.4e-3 on the 0-255 scale: the
    failure this test replaces); in float64 by 2.7e-14 (c ~ 10). The tolerance allows c up to
    1e5, four orders of magnitude of headroom over the measured amplification for any other
    thread count or kernel choice, yet is ~3e-10: a slice that saw its companions (a
    normalisation over the batch, a broadcast style of the wrong row) moves by 1e-2 or more.
    """
    generator = copy.deepcopy(translator.model.generator).double()
    rng = torch.Generator().manual_seed(3)
    x = torch.rand(8, 1, 64, 64, generator=rng, dtype=torch.float64) * 2 - 1
    style = translator.latent_style("research-3t:t2f", seed=1).double()
    with torch.no_grad():
        together = generator(x, style.expand(8, -1))
        tolerance = 1e5 * torch.finfo(torch.float64).eps * float(together.abs().max())
        for i in (0, 3, 7):
            alone = generator(x[i : i + 1], style)
            torch.testing.assert_close(alone, together[i : i + 1], rtol=0, atol=tolerance)


def test_complete_case_fills_every_missing_sequence(cohort: Path, translator: Translator) -> None:
    case, centre = _case(cohort, "local-t1-t2")
    assert choose_source(tuple(case.images), SOURCE_PREFERENCE) == "t1n"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="knows no domain 'local-t1-t2:t1c'"):
        generate_missing(translator, case, centre)  # type: ignore[arg-type]
    filled = generate_missing(translator, case, centre, target_centre="research-3t")  # type: ignore[arg-type]
    assert sorted(filled) == ["t1c", "t2f"]
    shape = case.images["t1n"].data.shape  # type: ignore[attr-defined]
    assert all(v.shape == shape for v in filled.values())
    assert not np.array_equal(filled["t1c"], filled["t2f"])


def test_harmonise_and_translate_case(cohort: Path, translator: Translator) -> None:
    case, centre = _case(cohort, "local-t1-t2")
    harmonised = harmonise_case(translator, case, centre, "research-3t")  # type: ignore[arg-type]
    assert sorted(harmonised) == ["t1n", "t2w"]
    full, _ = _case(cohort, "research-3t")
    with pytest.raises(NothingToSynthesiseError, match="at both"):
        harmonise_case(translator, full, "research-3t", "elsewhere")  # type: ignore[arg-type]
    reference = full.images["t2f"].data  # type: ignore[attr-defined]
    guided = translate_case(translator, case, centre, "research-3t:t2f", reference=reference)  # type: ignore[arg-type]
    latent = translate_case(translator, case, centre, "research-3t:t2f")  # type: ignore[arg-type]
    assert guided.shape == latent.shape
    assert not np.array_equal(guided, latent)


def test_pca_matches_the_covariance_eigenvectors() -> None:
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6))
    scores = pca_2d(codes)
    values, vectors = np.linalg.eigh(np.cov(codes, rowvar=False))
    top = vectors[:, ::-1][:, :2]
    reference = (codes - codes.mean(0)) @ top
    for axis in range(2):
        assert abs(np.corrcoef(scores[:, axis], reference[:, axis])[0, 1]) == pytest.approx(1.0)
    np.testing.assert_allclose(scores.var(axis=0, ddof=1), values[::-1][:2], rtol=1e-8)


def test_style_codes_and_projection(cohort: Path, translator: Translator, tmp_path: Path) -> None:
    slices, _ = load_unpaired(cohort, 128, seed=0, progress=False)
    codes, domains = style_codes(translator, slices)
    assert codes.shape == (len(slices.images), 64)
    assert len(domains) == len(codes)
    points, method = project_2d(codes, "pca")
    assert method == "pca"
    assert points.shape == (len(codes), 2)
    written = save_projection(points, domains, method, tmp_path / "styles")
    rows = list(csv.reader((tmp_path / "styles.csv").open()))
    assert rows[0] == ["domain", "pca_1", "pca_2"]
    assert len(rows) == len(codes) + 1
    assert (tmp_path / "styles.png") in written


def test_cli_trains_and_translates(cohort: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    common = ["--data", str(cohort), "--out", str(run), "--steps", "2", "--batch-size", "2"]
    args = ["train", "ummgat", *common, "--image-size", "32", "--device", "cpu"]
    assert main([*args, "--checkpoint-every", "1"]) == 0
    assert (run / "last" / "model.safetensors").is_file()
    assert (run / "assignment.json").is_file()
    out = tmp_path / "out"
    code = main(
        [
            "translate",
            "--model",
            str(run),
            "--cohort",
            str(cohort),
            "--out",
            str(out),
            "--harmonise",
            "research-3t",
            "--device",
            "cpu",
        ]
    )
    assert code in (0, 2)
    written = sorted(out.rglob("*.nii.gz"))
    assert written
    volume = load_volume(written[0])
    source = load_volume(next(p for p in cohort.rglob(written[0].name)))
    assert volume.data.shape == source.data.shape
    np.testing.assert_allclose(volume.affine, source.affine)
    assert (
        main(
            [
                "translate",
                "--model",
                str(run),
                "--cohort",
                str(cohort),
                "--out",
                str(out),
                "--complete",
                "--reference",
                str(written[0]),
            ]
        )
        == 2
    )
