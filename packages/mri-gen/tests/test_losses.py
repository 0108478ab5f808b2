"""Loss terms against float64 references and skimage, and the denominator bug kept out."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mri_gen.errors import ConfigError, MissingExtraError
from mri_gen.hfgan import segmenter
from mri_gen.hfgan.config import PRESETS
from mri_gen.hfgan.data import BatchStream, SliceDataset, SliceSource
from mri_gen.hfgan.generator import GeneratorOutput
from mri_gen.hfgan.losses import REGION_EPS, LossWeights, feature_loss, region_mean, ssim_loss
from mri_gen.hfgan.training import HFGANTrainer, TrainConfig
from mri_io.intensity import IntensityStats
from mri_io.layouts import scan_cases
from mri_io.sequences import SEQUENCES
from mri_io.slicing import View
from mri_io.synthetic.cohort import write_cohort
from mri_io.training import DistributedEnv
from mri_metrics.torch import ssim_map


def test_ssim_of_an_image_with_itself_is_one() -> None:
    x = torch.randn(2, 1, 24, 24, dtype=torch.float64)
    brain = torch.ones_like(x, dtype=torch.bool)
    assert float(ssim_loss(x, x, brain, None, "whole")) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    fraction=st.floats(0.0, 1.0),
)
def test_region_mean_is_the_mean_over_the_region(seed: int, fraction: float) -> None:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(3, 1, 16, 16))
    mask = rng.random(size=(3, 1, 16, 16)) < fraction
    got = region_mean(torch.from_numpy(values), torch.from_numpy(mask)).numpy()
    for i in range(3):
        region = values[i][mask[i]]
        expected = region.sum() / (region.size + REGION_EPS)
        assert got[i] == pytest.approx(expected, rel=1e-12, abs=1e-12)
        if region.size:
            assert got[i] == pytest.approx(region.mean(), rel=1e-3)


def test_healthy_term_is_not_shrunk_by_a_1e3_denominator() -> None:
    """The reference added 1e3 to the pixel count; a 10-pixel region would score ~1 % of truth."""
    values = torch.full((1, 1, 8, 8), 0.5)
    mask = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    mask[0, 0, :2, :5] = True
    assert float(region_mean(values, mask)) == pytest.approx(0.5, rel=1e-3)
    assert REGION_EPS == 1e-3


def test_dual_ssim_weights_healthy_and_tumour_equally() -> None:
    torch.manual_seed(0)
    ref = torch.randn(1, 1, 32, 32, dtype=torch.float64)
    pred = ref + 0.5 * torch.randn_like(ref)
    brain = torch.ones_like(ref, dtype=torch.bool)
    tumour = torch.zeros_like(brain)
    tumour[..., 10:14, 10:14] = True
    # HF-GAN's term is the suite's SSIM map with edge-repeating borders (mri-metrics tests it
    # against float64 and skimage); the mirror-padded map would differ along the border.
    span = (ref.max() - ref.min()).reshape(1)
    dissimilarity = 1 - ssim_map(pred, ref, spatial_dims=2, data_range=span, padding="replicate")
    healthy = dissimilarity[~tumour].mean()
    lesion = dissimilarity[tumour].mean()
    got = ssim_loss(pred, ref, brain, tumour, "dual")
    assert float(got) == pytest.approx(float(0.5 * healthy + 0.5 * lesion), rel=1e-4)
    whole = ssim_loss(pred, ref, brain, tumour, "whole")
    assert float(whole) == pytest.approx(float(dissimilarity.mean()), rel=1e-4)
    assert abs(float(got) - float(whole)) > 1e-3


def test_ssim_loss_ignores_the_background() -> None:
    ref = torch.randn(1, 1, 32, 32)
    pred = ref.clone()
    brain = torch.zeros_like(ref, dtype=torch.bool)
    brain[..., 8:24, 8:24] = True
    pred[~brain] = torch.randn(int((~brain).sum()))
    inside = ssim_loss(pred, ref, brain, None, "whole")
    everywhere = ssim_loss(pred, ref, torch.ones_like(brain), None, "whole")
    assert float(inside) < float(everywhere)


def test_feature_loss_is_one_minus_cosine() -> None:
    a = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    b = torch.tensor([[0.0, 1.0], [2.0, 2.0]])
    assert float(feature_loss(a, b)) == pytest.approx(0.5)


def test_loss_weights_default_to_the_thesis_and_parse_overrides() -> None:
    weights = LossWeights()
    assert (weights.l1, weights.adv, weights.cls, weights.feat, weights.cycle, weights.ssim) == (
        10.0,
        0.25,
        0.25,
        1.0,
        1.0,
        5.0,
    )
    parsed = LossWeights.parse("adv=0, ssim=2,ssim_regions=whole")
    assert (parsed.adv, parsed.ssim, parsed.l1) == (0, 2, 10)
    assert "adv" not in parsed.enabled()
    with pytest.raises(ConfigError, match="bad loss weight"):
        LossWeights.parse("l2=1")
    with pytest.raises(ConfigError, match=">= 0"):
        LossWeights(l1=-1)


def test_tversky_term_without_mri_seg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mri_seg", None)  # the package is not installed
    with pytest.raises(MissingExtraError, match=r'pip install "mri-gen\[seg\]"'):
        segmenter.require_segmenter()


def test_tversky_term_with_an_mri_seg_segmenter(tmp_path: Path) -> None:
    """The term runs through a saved mri-seg Segmenter2D: finite, differentiable with respect
    to the images, and lower for the segmenter's own prediction than for its complement."""
    from mri_seg import Segmenter2D

    torch.manual_seed(0)
    network = Segmenter2D(features=(4, 8, 8, 8))
    network.save_pretrained(tmp_path / "seg")
    frozen = segmenter.FrozenSegmenter.from_pretrained(tmp_path / "seg")
    images = torch.randn(2, 4, 32, 32, requires_grad=True)
    view = torch.tensor([2, 0])
    names = ["axial", "sagittal"]
    with torch.no_grad():
        view_codes, type_codes = network.codes(names, ["gli", "gli"])
        own = network(images, view_codes, type_codes).argmax(dim=1)
    cases, sequences = ["BraTS-GLI-00000-000"] * 2, network.sequences
    loss_own = frozen.loss(images, own, view, cases, sequences)
    loss_other = frozen.loss(images, (own + 1) % 4, view, cases, sequences)
    assert torch.isfinite(loss_own)
    assert float(loss_own) < float(loss_other)
    loss_own.backward()  # type: ignore[no-untyped-call]
    assert images.grad is not None
    assert float(images.grad.abs().sum()) > 0
    assert all(p.grad is None for p in frozen.network.parameters())


def test_tversky_term_feeds_the_segmenter_what_mri_seg_trained_it_on(tmp_path: Path) -> None:
    """During HF-GAN training the frozen segmenter gets each tumour slice exactly as mri-seg's
    2D training builds it: every sequence z-scored on its own volume, the case's tumour type
    (a metastasis here) and view. The generator is replaced by one that returns the real
    target, so the synthesised channel must match too."""
    from mri_seg import Segmenter2D, Segmenter2DConfig
    from mri_seg.segmenter2d import tumour_slices, tumour_type_of

    write_cohort(tmp_path / "raw", 2, seed=11, centres=("research-3t",), progress=False)
    for folder in sorted((tmp_path / "raw").iterdir()):
        if folder.name.startswith("BraTS-GLI-00001"):
            renamed = tmp_path / "raw" / folder.name.replace("GLI", "MET")
            folder.rename(renamed)
            for file in renamed.iterdir():
                file.rename(renamed / file.name.replace("GLI", "MET"))
    cases = tuple(scan_cases(tmp_path / "raw"))
    assert {tumour_type_of(case.case_id) for case in cases} == {"gli", "met"}
    views: tuple[View, ...] = ("axial", "coronal")
    # A clip above every intensity keeps the dataset z-score invertible, so the real target
    # fed back as the synthesis must come out exactly as mri-seg normalises it.
    stats = {name: IntensityStats(clip=1e9, mean=300.0, std=120.0) for name in SEQUENCES}
    source = SliceSource(cases, stats, SEQUENCES, views, image_size=120)
    batch = next(iter(BatchStream(SliceDataset(source, seed=0), 16)))

    torch.manual_seed(0)
    network = Segmenter2D(features=(4, 8, 8, 8))
    seen: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    forward = network.forward

    def spy(images: torch.Tensor, view: torch.Tensor, tumour_type: torch.Tensor) -> torch.Tensor:
        seen.append((images.detach().clone(), view.clone(), tumour_type.clone()))
        out: torch.Tensor = forward(images, view, tumour_type)
        return out

    network.forward = spy  # type: ignore[method-assign]
    config = PRESETS["tiny"].with_image_size(32)
    weights = LossWeights(l1=0, adv=0, cls=0, feat=0, cycle=0, ssim=0, tversky=1)
    train = TrainConfig(steps=1, batch_size=16, weights=weights)
    env = DistributedEnv(0, 1, 0, torch.device("cpu"))
    trainer = HFGANTrainer(config, train, env, segmenter.FrozenSegmenter(network))
    scale = torch.nn.Parameter(torch.ones(()))

    def real_target(
        images: torch.Tensor, available: torch.Tensor, target: torch.Tensor, view: object
    ) -> GeneratorOutput:
        real = images[torch.arange(images.shape[0]), target][:, None]
        return GeneratorOutput(image=real * scale, bottleneck=real)

    trainer.g_call = real_target
    trainer.step(batch)
    assert len(seen) == len(SEQUENCES)

    expected = tumour_slices(
        cases, Segmenter2DConfig(views=views, min_tumour_fraction=0.001), network
    )
    tumour = (batch["labels"] > 0).flatten(1).sum(1) >= 0.001 * 120 * 120
    assert int(tumour.sum()) >= 2
    for images, view, kind in seen:
        for index in torch.nonzero(tumour)[:, 0].tolist():
            distance = np.abs(expected.images - images[index].numpy()).reshape(len(expected), -1)
            match = int(distance.max(axis=1).argmin())
            assert distance[match].max() < 1e-5
            assert int(view[index]) == expected.views[match]
            assert int(kind[index]) == expected.tumour_types[match]
