"""UMMGAT networks: branch counts, shapes for the paper's sizes, initialisation, style use."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from mri_gen.ummgat.config import PRESETS, Backbone, SwinConfig, UMMGATConfig
from mri_gen.ummgat.critic import Discriminator, StyleEncoder
from mri_gen.ummgat.mapping import MappingNetwork
from mri_gen.ummgat.networks import Generator
from mri_gen.ummgat.swin import SwinBlock, _attention_mask

DOMAINS = ("a:t1n", "a:t2w", "b:t1n", "b:t2w", "b:t2f")


@pytest.mark.parametrize("lesion_aware", [True, False])
@pytest.mark.parametrize("count", [2, 5])
def test_branch_counts_follow_the_domains(lesion_aware: bool, count: int) -> None:
    config = replace(PRESETS["tiny"], domains=DOMAINS[:count], lesion_aware=lesion_aware)
    branches = 2 * count if lesion_aware else count
    assert config.num_branches == branches
    mapping = MappingNetwork(config)
    assert len(mapping.heads) == count
    encoder = StyleEncoder(config)
    discriminator = Discriminator(config)
    assert encoder.heads.out_features == branches * config.style_dim
    assert discriminator.heads.out_features == branches
    x = torch.zeros(branches, 1, 32, 32)
    every = torch.arange(branches)
    assert encoder(x, every).shape == (branches, config.style_dim)
    assert discriminator(x, every).shape == (branches,)
    with pytest.raises(IndexError):
        discriminator(x[:1], torch.tensor([branches]))


def test_lesion_branch_index() -> None:
    config = replace(PRESETS["tiny"], domains=DOMAINS)
    assert config.lesion_branch(config.domain_index("b:t2f")) == 9
    with pytest.raises(ValueError, match="no lesion-aware"):
        replace(config, lesion_aware=False).lesion_branch(0)
    with pytest.raises(ValueError, match="knows no domain 'c:t1n'"):
        config.domain_index("c:t1n")


def test_mapping_heads_are_per_domain() -> None:
    config = replace(PRESETS["tiny"], domains=DOMAINS[:3])
    torch.manual_seed(0)
    mapping = MappingNetwork(config)
    z = torch.randn(1, config.latent_dim)
    per_domain = [mapping(z, torch.tensor([d])) for d in range(3)]
    hidden = mapping.shared(z)
    for domain, style in enumerate(per_domain):
        assert torch.allclose(style, mapping.heads[domain](hidden))
    assert not torch.allclose(per_domain[0], per_domain[1])


@pytest.mark.parametrize("size", [128, 176, 240, 48])
@pytest.mark.parametrize("backbone", ["unet", "swin"])
def test_tiny_generator_shapes(size: int, backbone: Backbone) -> None:
    config = replace(PRESETS["tiny"], backbone=backbone)
    generator = Generator(config).eval()
    x = torch.rand(2, 1, size, size) * 2 - 1
    with torch.no_grad():
        y = generator(x, torch.randn(2, config.style_dim))
    assert y.shape == x.shape
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("size", [176, 240])
def test_paper_swin_generator_shapes(size: int) -> None:
    config = PRESETS["paper"]
    assert config.swin == SwinConfig(4, 96, (2, 2, 2, 2), (3, 6, 12, 24), 7)
    generator = Generator(config).eval()
    with torch.no_grad():
        y = generator(torch.zeros(1, 1, size, size), torch.randn(1, config.style_dim))
    assert y.shape == (1, 1, size, size)
    encoder, discriminator = StyleEncoder(config), Discriminator(config)
    x = torch.zeros(1, 1, size, size)
    with torch.no_grad():
        assert encoder(x, torch.tensor([11])).shape == (1, 64)
        assert discriminator(x, torch.tensor([11])).shape == (1,)


def test_he_init_and_zero_biases() -> None:
    torch.manual_seed(0)
    config = replace(PRESETS["tiny"], unet=replace(PRESETS["tiny"].unet, base_channels=64))
    generator = Generator(config)
    convs = [m for m in generator.modules() if isinstance(m, torch.nn.Conv2d)]
    for conv in convs:
        if conv.bias is not None:
            assert torch.count_nonzero(conv.bias) == 0
    widest = max(convs, key=lambda m: m.weight[0].numel())
    expected = (2.0 / widest.weight[0].numel()) ** 0.5
    assert widest.weight.std().item() == pytest.approx(expected, rel=0.05)


@pytest.mark.parametrize("backbone", ["unet", "swin"])
def test_output_depends_on_the_style(backbone: Backbone) -> None:
    torch.manual_seed(1)
    config = replace(PRESETS["tiny"], backbone=backbone)
    generator = Generator(config).eval()
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        a = generator(x, torch.randn(1, config.style_dim))
        b = generator(x, torch.randn(1, config.style_dim))
    assert (a - b).abs().mean() > 1e-3


def test_window_mask_blocks_padding_and_other_regions() -> None:
    mask = _attention_mask(6, 6, 4, 0, torch.device("cpu"))
    assert mask.shape == (4, 16, 16)
    first = mask[0]  # top-left window: rows/cols 0..3, nothing padded
    assert torch.count_nonzero(first) == 0
    last = mask[3]  # rows/cols 4..7, only 4..5 real: keys at 6, 7 are padding
    real = torch.tensor([r < 2 and c < 2 for r in range(4) for c in range(4)])
    assert torch.all(last[:, ~real] == -100.0)
    assert torch.all(last[:, real] == 0.0)
    shifted = _attention_mask(8, 8, 4, 2, torch.device("cpu"))
    # The bottom-right window after the roll mixes four regions: each key sees its own only.
    corner = shifted[3]
    allowed = (corner == 0).sum(dim=1)
    assert torch.all(allowed == 4)


def test_padded_window_equals_brute_force_attention_over_real_tokens() -> None:
    """A 3x3 grid in one padded 4x4 window: the masked keys must not change the result."""
    torch.manual_seed(2)
    block = SwinBlock(8, heads=2, window=4, shifted=False, mlp_ratio=2.0).double()
    x = torch.randn(1, 3, 3, 8, dtype=torch.float64)
    with torch.no_grad():
        got = block(x)
        tokens = block.norm1(x).reshape(9, 8)
        q, k, v = block.attention.qkv(tokens).view(9, 3, 2, 4).permute(1, 2, 0, 3)
        coords = [(r, c) for r in range(3) for c in range(3)]
        index = torch.tensor(
            [[(a[0] - b[0] + 3) * 7 + (a[1] - b[1] + 3) for b in coords] for a in coords]
        )
        bias = block.attention.bias_table[index].permute(2, 0, 1)
        weights = torch.softmax(q @ k.transpose(1, 2) / 2.0 + bias, dim=-1)
        attended = block.attention.proj((weights @ v).transpose(0, 1).reshape(9, 8))
        mid = x + attended.view(1, 3, 3, 8)
        expected = mid + block.mlp(block.norm2(mid))
    torch.testing.assert_close(got, expected)


def test_config_round_trip() -> None:
    config = replace(PRESETS["paper"], domains=DOMAINS, lesion_aware=False)
    assert UMMGATConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError, match="invalid UMMGAT configuration"):
        UMMGATConfig.from_json({"domains": DOMAINS})
    with pytest.raises(ValueError, match="at least two distinct domains"):
        replace(config, domains=("a:t1n", "a:t1n"))
    with pytest.raises(ValueError, match="unknown sequence"):
        replace(config, domains=("a:t1n", "a:dwi"))
