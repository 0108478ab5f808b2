"""Generator and discriminator: sizes, shapes, and the reference-code bugs kept out."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
import torch

from mri_gen.errors import ConfigError
from mri_gen.hfgan.config import (
    PRESETS,
    TARGET_FILL,
    DiscriminatorConfig,
    GeneratorConfig,
    HFGANConfig,
)
from mri_gen.hfgan.discriminator import HFGANDiscriminator
from mri_gen.hfgan.generator import HFGANGenerator


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_paper_generator_has_80m_parameters() -> None:
    with torch.device("meta"):
        generator = HFGANGenerator(PRESETS["paper"].generator)
    assert abs(_count(generator) - 80.0e6) / 80.0e6 < 0.02
    assert generator.config.bottleneck_size**2 == 225
    assert generator.infuser.positions.shape == (1, 225, 640)


def test_paper_discriminator_has_4_5m_parameters() -> None:
    with torch.device("meta"):
        discriminator = HFGANDiscriminator(PRESETS["paper"].discriminator)
    assert abs(_count(discriminator) - 4.5e6) / 4.5e6 < 0.02
    assert discriminator.classifier.kernel_size == (29, 29)


def test_grouped_encoders_equal_four_separate_encoders() -> None:
    """Grouped per-sequence encoder: 4x the parameters of one single-input encoder."""
    config = PRESETS["paper"].generator
    with torch.device("meta"):
        generator = HFGANGenerator(config)
    early = _count(generator.encoder.early)
    grouped = _count(generator.encoder.per_sequence)
    stem_difference = 3 * 64 * 9  # the early stem reads 4 channels, a per-sequence stem 1
    assert grouped == 4 * (early - stem_difference)


def _all_subsets() -> list[tuple[int, tuple[bool, ...]]]:
    cases = []
    for target in range(4):
        others = [s for s in range(4) if s != target]
        for size in (1, 2, 3):
            for chosen in itertools.combinations(others, size):
                cases.append((target, tuple(s in chosen for s in range(4))))
    return cases


def test_output_shape_for_every_available_subset(small: HFGANConfig) -> None:
    torch.manual_seed(0)
    generator = HFGANGenerator(small.generator).eval()
    cases = _all_subsets()
    assert len(cases) == 28
    x = torch.randn(len(cases), 4, 32, 32)
    available = torch.tensor([mask for _, mask in cases])
    target = torch.tensor([t for t, _ in cases])
    with torch.no_grad():
        out = generator(x, available, target)
    assert out.image.shape == (28, 1, 32, 32)
    assert out.bottleneck.shape == (28, 64, 4, 4)
    assert torch.isfinite(out.image).all()
    patches, classes = HFGANDiscriminator(small.discriminator)(out.image)
    assert patches.shape == (28, 1, 2, 2)
    assert classes.shape == (28, 4)


def test_a_sample_gives_the_same_output_alone_and_in_any_batch(small: HFGANConfig) -> None:
    """No per-batch-position path: batch size 1 must not change how a sample is fused."""
    torch.manual_seed(1)
    generator = HFGANGenerator(small.generator).train()
    cases = _all_subsets()
    x = torch.randn(len(cases), 4, 32, 32)
    available = torch.tensor([mask for _, mask in cases])
    target = torch.tensor([t for t, _ in cases])
    with torch.no_grad():
        together = generator(x, available, target).image
        # The generator runs in float32 only (its positional codes are float32), and oneDNN
        # picks the convolutions' blocking and summation order per batch shape and thread
        # count, so alone and together differ by rounding: c * eps32 * |y|max, c the network's
        # amplification of one rounding. Measured over all 28 samples, 1 and 2 threads: at most
        # 1.7e-6 at |y|max = 1.6, c ~ 9. Allowing c = 1000 (100x headroom) gives ~2e-4; a
        # sample fused with its batch companions' inputs or masks moves by 1e-2 or more.
        tolerance = 1000 * torch.finfo(torch.float32).eps * float(together.abs().max())
        for i in (0, 9, 27):
            alone = generator(x[i : i + 1], available[i : i + 1], target[i : i + 1]).image
            torch.testing.assert_close(alone, together[i : i + 1], rtol=0, atol=tolerance)


def test_training_and_inference_modes_compute_the_same_function(small: HFGANConfig) -> None:
    torch.manual_seed(2)
    generator = HFGANGenerator(small.generator)
    x = torch.randn(3, 4, 32, 32)
    available = torch.tensor([[0, 1, 0, 0], [0, 1, 1, 0], [0, 1, 1, 1]], dtype=torch.bool)
    target = torch.zeros(3, dtype=torch.long)
    with torch.no_grad():
        trained = generator.train()(x, available, target).image
        inferred = generator.eval()(x, available, target).image
    torch.testing.assert_close(trained, inferred, rtol=0, atol=0)


@pytest.mark.parametrize("inputs", [1, 3])
def test_early_encoder_skips_reach_the_output_in_training(small: HFGANConfig, inputs: int) -> None:
    """Zeroing the early encoder's skips must change the output, even for one input, batch 1."""
    torch.manual_seed(3)
    generator = HFGANGenerator(small.generator).train()
    x = torch.randn(1, 4, 32, 32)
    available = torch.tensor([[False] + [True] * inputs + [False] * (3 - inputs)])
    target = torch.zeros(1, dtype=torch.long)
    with torch.no_grad():
        reference = generator(x, available, target).image
        early = generator.encoder.early

        def zero_skips(
            module: torch.nn.Module, args: object, output: tuple[torch.Tensor, list[torch.Tensor]]
        ) -> tuple[torch.Tensor, list[torch.Tensor]]:
            bottleneck, skips = output
            return bottleneck, [torch.zeros_like(s) for s in skips]

        handle = early.register_forward_hook(zero_skips)
        try:
            without = generator(x, available, target).image
        finally:
            handle.remove()
    assert (reference - without).abs().max() > 1e-3


def test_missing_channels_cannot_leak_into_the_output(small: HFGANConfig) -> None:
    torch.manual_seed(4)
    generator = HFGANGenerator(small.generator).eval()
    x = torch.randn(2, 4, 32, 32)
    available = torch.tensor([[True, False, True, False]] * 2)
    target = torch.tensor([1, 3])
    changed = x.clone()
    changed[:, 1] = 5.0
    changed[:, 3] = torch.randn(2, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            generator(x, available, target).image, generator(changed, available, target).image
        )


def test_target_and_view_embeddings_change_the_output(small: HFGANConfig) -> None:
    torch.manual_seed(5)
    config = replace(small.generator, view_embedding=True)
    generator = HFGANGenerator(config).eval()
    x = torch.randn(1, 4, 32, 32)
    available = torch.tensor([[True, True, False, False]])
    with torch.no_grad():
        t2w = generator(x, available, torch.tensor([2]), torch.tensor([2])).image
        t2f = generator(x, available, torch.tensor([3]), torch.tensor([2])).image
        sagittal = generator(x, available, torch.tensor([2]), torch.tensor([0])).image
        with pytest.raises(ValueError, match="view"):
            generator(x, available, torch.tensor([2]))
    assert (t2w - t2f).abs().max() > 1e-4
    assert (t2w - sagittal).abs().max() > 1e-4


def test_the_encoder_sees_which_missing_sequence_is_wanted(small: HFGANConfig) -> None:
    """With two sequences missing, the target's marked channel reaches the encoder, so the
    bottleneck differs between the two possible targets; with the thesis' plain background
    fill (``None``) it cannot, and only the embedding added after it tells them apart."""
    x = torch.randn(1, 4, 32, 32, generator=torch.Generator().manual_seed(6))
    available = torch.tensor([[True, True, False, False]])
    spread = {}
    for fill in (TARGET_FILL, None):
        torch.manual_seed(6)
        generator = HFGANGenerator(replace(small.generator, target_fill=fill)).eval()
        with torch.no_grad():
            t2w, t2f = (generator(x, available, torch.tensor([t])).bottleneck for t in (2, 3))
        spread[fill] = float((t2w - t2f).abs().max())
    assert spread[TARGET_FILL] > 1e-3
    assert spread[None] == 0.0


def test_a_config_written_before_target_fill_keeps_the_background_fill(
    small: HFGANConfig,
) -> None:
    """Weights trained with the target at the background value are read back that way."""
    saved = small.generator.to_json()
    assert GeneratorConfig.from_json(saved).target_fill == TARGET_FILL
    del saved["target_fill"]
    assert GeneratorConfig.from_json(saved).target_fill is None


def test_a_target_marked_available_is_refused(small: HFGANConfig) -> None:
    generator = HFGANGenerator(small.generator)
    available = torch.tensor([[True, False, True, False]])
    with pytest.raises(ValueError, match="target sequence is marked available"):
        generator(torch.zeros(1, 4, 32, 32), available, torch.tensor([2]))


def test_bad_shapes_and_configs_are_refused(small: HFGANConfig) -> None:
    generator = HFGANGenerator(small.generator)
    with pytest.raises(ValueError, match=r"\(B, 4, 32, 32\)"):
        generator(torch.zeros(1, 4, 30, 30), torch.ones(1, 4, dtype=torch.bool), torch.zeros(1))
    with pytest.raises(ConfigError, match="divisible by 16"):
        GeneratorConfig(image_size=120)
    with pytest.raises(ConfigError, match="too small"):
        DiscriminatorConfig(image_size=8)
    assert HFGANConfig.from_json(small.to_json()) == small
