"""UMMGAT losses: R1 against finite differences, the non-saturating loss against BCE."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mri_gen.ummgat.losses import LossWeights, adversarial, lesion_crop, r1_penalty


def _critic() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        torch.nn.Softplus(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 6 * 6, 1),
    ).double()


def test_r1_matches_central_finite_differences() -> None:
    critic = _critic()
    images = torch.randn(3, 1, 6, 6, dtype=torch.float64, requires_grad=True)
    penalty = r1_penalty(critic(images)[:, 0], images, gamma=1.0)
    step = 1e-6
    flat = images.detach().clone().flatten(1)
    squared_norms = []
    with torch.no_grad():
        for sample in range(flat.shape[0]):
            total = 0.0
            for pixel in range(flat.shape[1]):
                plus, minus = flat.clone(), flat.clone()
                plus[sample, pixel] += step
                minus[sample, pixel] -= step
                f_plus = critic(plus.view_as(images))[sample, 0]
                f_minus = critic(minus.view_as(images))[sample, 0]
                total += float((f_plus - f_minus) / (2 * step)) ** 2
            squared_norms.append(total)
    expected = 0.5 * sum(squared_norms) / len(squared_norms)
    assert float(penalty.detach()) == pytest.approx(expected, rel=1e-6)
    assert float(r1_penalty(critic(images)[:, 0], images, gamma=4.0).detach()) == pytest.approx(
        4 * expected, rel=1e-6
    )


def test_r1_is_differentiable_in_the_critic() -> None:
    critic = _critic()
    images = torch.randn(2, 1, 6, 6, dtype=torch.float64, requires_grad=True)
    r1_penalty(critic(images)[:, 0], images).backward()  # type: ignore[no-untyped-call]
    conv = critic[0]
    assert isinstance(conv, torch.nn.Conv2d)
    weight = conv.weight
    assert weight.grad is not None
    assert float(weight.grad.abs().sum()) > 0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-30, 30), min_size=1, max_size=16), st.booleans())
def test_adversarial_is_binary_cross_entropy(values: list[float], real: bool) -> None:
    logits = torch.tensor(values, dtype=torch.float64)
    target = torch.full_like(logits, 1.0 if real else 0.0)
    expected = F.binary_cross_entropy_with_logits(logits, target)
    torch.testing.assert_close(adversarial(logits, real=real), expected)


def test_lesion_crop_keeps_the_lesion_on_background() -> None:
    images = torch.rand(2, 1, 4, 4)
    masks = torch.zeros(2, 1, 4, 4, dtype=torch.bool)
    masks[0, 0, 1:3, 1:3] = True
    crops = lesion_crop(images, masks)
    assert torch.equal(crops[masks], images[masks])
    assert torch.all(crops[~masks] == -1.0)


def test_loss_weights_parse() -> None:
    assert LossWeights.parse("lesion=0, sty=2") == LossWeights(sty=2.0, lesion=0.0)
    with pytest.raises(ValueError, match="unknown loss 'l1'"):
        LossWeights.parse("l1=3")
    with pytest.raises(ValueError, match="NAME=NUMBER"):
        LossWeights.parse("sty=two")
