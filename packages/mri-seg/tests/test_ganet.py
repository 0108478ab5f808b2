"""GANet-Seg's parts: networks, losses, gradient flow, weighting, holes, folders, thresholds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mri_io.case import load_case
from mri_io.layouts import scan_cases
from mri_seg import Segmenter, load_segmenter
from mri_seg.errors import ModelFileError
from mri_seg.ganet import (
    GANetConfig,
    GANetObjective,
    GANetSeg,
    InpaintingGAN,
    enhance,
    load_gan,
    sample_hole,
    threshold_table,
)
from mri_seg.ganet.data import LabelledSlices, gan_batch, seg_batch, to_gan_range
from mri_seg.ganet.inference import decode
from mri_seg.ganet.losses import (
    adversarial_feedback_loss,
    edge_map,
    gradient_norm_weights,
    loss_value_weights,
    size_consistency_loss,
)
from mri_seg.ganet.training import freeze, gan_step

SIDE = 32


def _batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Four slices of a bright square 'tumour' on a darker disc 'brain'."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.full((4, 4, SIDE, SIDE), -1.0)
    rows, cols = torch.meshgrid(torch.arange(SIDE), torch.arange(SIDE), indexing="ij")
    brain = (rows - SIDE / 2) ** 2 + (cols - SIDE / 2) ** 2 < (SIDE / 2.5) ** 2
    images[:, :, brain] = 0.2 * torch.randn(4, 4, int(brain.sum()), generator=generator)
    classes = torch.zeros(4, SIDE, SIDE, dtype=torch.int64)
    classes[:, 12:18, 10:17] = 1
    images[:, :, 12:18, 10:17] += 1.5
    return images, images.clamp(-1, 1), classes


def _parts(**settings: object) -> tuple[GANetSeg, InpaintingGAN, GANetObjective]:
    torch.manual_seed(0)
    config = GANetConfig(**settings)  # type: ignore[arg-type]
    model = GANetSeg(classes=config.classes)
    gan = freeze(InpaintingGAN())
    return model, gan, GANetObjective(model, gan, config)


def test_network_shapes_and_generator_keeps_the_unmasked_pixels() -> None:
    model, gan, _ = _parts()
    images, gan_images, _ = _batch()
    assert model(images).shape == (4, 2, SIDE, SIDE)
    assert GANetSeg(classes="subregions")(images).shape == (4, 4, SIDE, SIDE)
    hole = torch.zeros(4, 1, SIDE, SIDE)
    hole[:, :, 8:20, 8:20] = 1
    filled = gan.generator(gan_images, hole)
    assert filled.shape == gan_images.shape
    outside = hole.expand_as(filled) == 0
    assert torch.equal(filled[outside], gan_images[outside])
    assert filled.abs().max() <= 1  # tanh inside the hole
    logits = gan.discriminator(filled)
    assert logits.shape[:2] == (4, 1)
    assert logits.shape[2] < SIDE


def test_edge_map_marks_the_mask_boundary_only() -> None:
    mask = torch.zeros(1, 1, SIDE, SIDE)
    assert edge_map(mask, (6, 6)).sum() == 0
    mask[:, :, 12:20, 12:20] = 1
    edges = edge_map(mask, (SIDE, SIDE))[0, 0]
    assert edges[16, 16] == 0  # inside the dilated square
    assert edges[2, 2] == 0  # far outside it
    assert edges[9, 16] > 0
    assert edges[22, 16] > 0
    assert edge_map(mask, (4, 4)).shape == (1, 1, 4, 4)


def test_adversarial_term_alone_reaches_the_unet_and_not_the_frozen_gan() -> None:
    model, gan, objective = _parts()
    images, gan_images, classes = _batch()
    terms = objective.terms((images, gan_images, classes), phase2=True)
    terms["adversarial"].backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads if g is not None) > 0
    assert all(p.grad is None and not p.requires_grad for p in gan.parameters())


def test_phase_one_is_the_segmentation_loss_alone() -> None:
    _, _, objective = _parts()
    batch = _batch()
    assert set(objective.terms(batch, phase2=False)) == {"segmentation"}
    phase1 = objective(batch, phase2=False)
    assert torch.allclose(phase1, objective.terms(batch, phase2=False)["segmentation"])
    assert set(objective.terms(batch, phase2=True)) == {
        "segmentation",
        "sparsity",
        "size",
        "adversarial",
    }
    _, _, ablation = _parts(adversarial=False)
    assert set(ablation.terms(batch, phase2=True)) == {"segmentation", "sparsity", "size"}


def test_loss_value_weights_are_inverse_to_the_values() -> None:
    weights = loss_value_weights({"a": torch.tensor(1.0), "b": torch.tensor(3.0)})
    assert weights["a"].item() == pytest.approx(0.75, rel=1e-5)
    assert weights["b"].item() == pytest.approx(0.25, rel=1e-5)


def test_gradient_norm_weights_are_inverse_to_the_gradient_norms() -> None:
    parameter = torch.tensor([1.0, 2.0], requires_grad=True)
    terms = {"small": (2 * parameter).sum(), "large": (6 * parameter).sum()}
    # Gradient norms 2*sqrt(2) and 6*sqrt(2): weights (1/2) / (1/2 + 1/6) = 0.75 and 0.25.
    weights = gradient_norm_weights(terms, [parameter])
    assert weights["small"].item() == pytest.approx(0.75, rel=1e-5)
    assert weights["large"].item() == pytest.approx(0.25, rel=1e-5)
    assert parameter.grad is None  # weighing does not touch the gradients


@pytest.mark.parametrize("weighting", ["gradient", "loss"])
def test_phase_two_total_is_the_weighted_sum(weighting: str) -> None:
    _, _, objective = _parts(weighting=weighting)
    batch = _batch()
    terms = objective.terms(batch, phase2=True)
    weights = objective.weights(terms)
    assert float(weights["segmentation"]) == 1
    added = [float(w) for name, w in weights.items() if name != "segmentation"]
    assert sum(added) == pytest.approx(1, rel=1e-4)
    assert all(w > 0 for w in added)
    expected = sum(float(weights[n]) * float(v.detach()) for n, v in terms.items())
    assert float(objective(batch, phase2=True).detach()) == pytest.approx(expected, rel=1e-4)


def test_size_consistency_is_zero_for_the_labelled_area() -> None:
    mask = torch.zeros(2, 1, 10, 10)
    mask[0, :, :5] = 1
    assert float(size_consistency_loss(mask, torch.tensor([50, 0]))) == 0
    assert float(size_consistency_loss(mask, torch.tensor([0, 0]))) == pytest.approx(0.125)


def test_adversarial_loss_weighs_patches_by_the_edges() -> None:
    logits = torch.tensor([[[[5.0, -5.0]]]])
    on_real = adversarial_feedback_loss(logits, torch.tensor([[[[1.0, 0.0]]]]))
    on_fake = adversarial_feedback_loss(logits, torch.tensor([[[[0.0, 1.0]]]]))
    # -log sigmoid(x) = softplus(-x), averaged over the two patches.
    assert float(on_real) == pytest.approx(
        float(torch.nn.functional.softplus(torch.tensor(-5.0))) / 2
    )
    assert float(on_fake) == pytest.approx(
        float(torch.nn.functional.softplus(torch.tensor(5.0))) / 2
    )
    assert float(adversarial_feedback_loss(logits, torch.zeros(1, 1, 1, 2))) == 0


def test_discriminator_steps_once_per_five_generator_steps() -> None:
    torch.manual_seed(0)
    gan = InpaintingGAN()
    config = GANetConfig()
    optimisers = (
        torch.optim.Adam(gan.generator.parameters(), 1e-4, betas=(0.5, 0.999)),
        torch.optim.Adam(gan.discriminator.parameters(), 1e-4, betas=(0.5, 0.999)),
    )
    images = _batch()[1]
    hole = torch.zeros(4, 1, SIDE, SIDE)
    hole[:, :, 10:20, 10:20] = 1
    updated = []
    for step in range(1, 11):
        before = [p.detach().clone() for p in gan.discriminator.parameters()]
        generator_before = [p.detach().clone() for p in gan.generator.parameters()]
        row = gan_step(gan, optimisers, images, hole, step, config)
        changed = any(
            not torch.equal(a, b)
            for a, b in zip(before, gan.discriminator.parameters(), strict=True)
        )
        assert changed == bool(row["d_updated"])
        assert any(
            not torch.equal(a, b)
            for a, b in zip(generator_before, gan.generator.parameters(), strict=True)
        )
        if changed:
            updated.append(step)
    assert updated == [5, 10]


@pytest.mark.parametrize("kind", ["square", "disc", "tumour"])
def test_holes_are_seeded_and_lie_around_the_brain(kind: str) -> None:
    brain = np.zeros((64, 64), dtype=bool)
    brain[20:44, 20:44] = True
    first = sample_hole(np.random.default_rng(3), brain, [kind])
    again = sample_hole(np.random.default_rng(3), brain, [kind])
    other = sample_hole(np.random.default_rng(4), brain, [kind])
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert set(np.unique(first)) == {0.0, 1.0}
    rows, cols = np.nonzero(first)
    centre = (rows.mean(), cols.mean())
    assert 20 - 12 <= centre[0] <= 44 + 12
    assert 20 - 12 <= centre[1] <= 44 + 12
    assert 1 <= first.sum() <= (2 * 64 / 6 + 1) ** 2 * 1.7


def test_batches_repeat_for_the_same_seed_epoch_and_step() -> None:
    images = to_gan_range(_batch()[0].numpy())
    config = GANetConfig(gan_batch_size=3, batch_size=3)
    a, b = gan_batch(images, config, 1, 2), gan_batch(images, config, 1, 2)
    c = gan_batch(images, config, 1, 3)
    assert torch.equal(a[0], b[0])
    assert torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])
    assert a[1].shape == (3, 1, SIDE, SIDE)


def test_enhancement_keeps_the_background_and_the_intensity_order() -> None:
    rng = np.random.default_rng(0)
    stack = np.full((2, 8, 8, 4), -1.0, dtype=np.float32)
    stack[:, 2:6, 2:6] = rng.normal(size=(2, 4, 4, 4)).astype(np.float32)
    out = enhance(stack)
    brain = stack > -1
    assert np.all(out[~brain] == -1)
    assert out[brain].min() >= -2
    assert out[brain].max() <= 2
    for channel in range(2):
        values, enhanced = stack[channel][brain[channel]], out[channel][brain[channel]]
        assert np.array_equal(np.argsort(values), np.argsort(enhanced))
        assert enhanced.min() == pytest.approx(-2 + 2 / values.size, abs=1e-5)
        assert enhanced.max() == pytest.approx(2.0)


def test_threshold_table_counts_slices() -> None:
    scores = np.array([0.05, 0.15, 0.25, 0.35, 0.15, 0.5])
    truth = np.array([True, True, True, True, False, False])
    rows = threshold_table(scores, truth, [0.1, 0.2])
    assert [(r["tp"], r["fn"], r["fp"], r["tn"]) for r in rows] == [(1, 3, 0, 2), (2, 2, 1, 1)]
    assert rows[1]["accuracy"] == pytest.approx(3 / 6)
    assert rows[1]["sensitivity"] == pytest.approx(0.5)
    assert rows[1]["specificity"] == pytest.approx(0.5)


def test_segmenter_round_trip_through_load_segmenter(cohort: Path, tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = GANetSeg(classes="subregions", enhance=True)
    model.save_pretrained(tmp_path / "seg")
    loaded = load_segmenter(tmp_path / "seg")
    assert isinstance(loaded, GANetSeg)
    assert isinstance(loaded, Segmenter)
    assert loaded.config == model.config
    assert loaded.enhance
    images = _batch()[0]
    assert torch.equal(model.eval()(images), loaded(images))
    case = load_case(scan_cases(cohort)[0])
    labels = loaded.segment(case)
    reference = case.images["t1n"]
    assert labels.data.shape == reference.shape
    assert labels.data.dtype == np.uint8
    assert np.array_equal(labels.affine, reference.affine)
    assert set(np.unique(labels.data)) <= {0, 1, 2, 3}
    assert np.array_equal(labels.data, model.segment(case).data)


def test_whole_tumour_model_writes_snfh(cohort: Path) -> None:
    torch.manual_seed(2)
    model = GANetSeg()
    with torch.no_grad():
        model.net.final_conv.bias.copy_(torch.tensor([-5.0, 5.0]))  # tumour everywhere
    labels = model.segment(load_case(scan_cases(cohort)[0]))
    assert set(np.unique(labels.data)) == {2}


def test_decoding_keeps_tumour_split_between_subregions() -> None:
    probabilities = np.array([[0.4, 0.6, 0.5], [0.3, 0.1, 0.1], [0.2, 0.2, 0.3], [0.1, 0.1, 0.1]])
    names = ("background", "NETC", "SNFH", "ET")
    assert decode(probabilities.astype(np.float32), names).tolist() == [1, 0, 0]
    binary = np.array([[0.4, 0.6], [0.6, 0.4]], dtype=np.float32)
    assert decode(binary, ("background", "tumour")).tolist() == [2, 0]


def test_gan_folder_round_trip_and_refusals(tmp_path: Path) -> None:
    torch.manual_seed(3)
    gan = InpaintingGAN()
    gan.save_pretrained(tmp_path / "gan")
    loaded = load_gan(tmp_path / "gan")
    images = _batch()[1]
    assert torch.equal(gan.eval().discriminator(images), loaded.discriminator(images))
    GANetSeg().save_pretrained(tmp_path / "seg")
    with pytest.raises(ModelFileError, match="not a GANet-Seg GAN"):
        load_gan(tmp_path / "seg")
    with pytest.raises(ModelFileError, match="ganet-gan"):
        load_segmenter(tmp_path / "gan")


def test_config_round_trip_and_refusals() -> None:
    config = GANetConfig(classes="subregions", weighting="loss", holes=("disc",))
    assert GANetConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError, match="weighting"):
        GANetConfig(weighting="fixed")
    with pytest.raises(ValueError, match="phase1_epochs"):
        GANetConfig(epochs=2, phase1_epochs=3)
    with pytest.raises(ValueError, match="unknown"):
        GANetConfig.from_json({"epochz": 1})


def test_seg_batch_draws_tumour_slices_by_share() -> None:
    images, gan_images, classes = _batch()
    classes[2:] = 0
    slices = LabelledSlices(
        images.numpy(), gan_images.numpy(), classes.numpy(), np.array([True, True, False, False])
    )
    config = GANetConfig(batch_size=8, tumour_share=1.0)
    _, _, drawn = seg_batch(slices, config, 1, 0)
    assert all(bool(drawn[i].any()) for i in range(8))
