"""Network presets: parameter counts, output shapes, seeded initialisation."""

from __future__ import annotations

import pytest
import torch

from mri_seg.networks import UNET_PRESETS, Segmenter2D, UNet3D
from mri_seg.targets import TargetSpec


def _count(model: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


@pytest.mark.parametrize(("preset", "expected"), [("tiny", 152_498), ("brats", 4_810_074)])
def test_unet_preset_parameter_counts(preset: str, expected: int) -> None:
    assert _count(UNet3D.from_preset(preset)) == expected


def test_brats_preset_matches_monai_recipe() -> None:
    # MONAI's BraTS U-Net: 16..256 features, 2 residual units, 4.8M parameters (SPEC §4).
    preset = UNET_PRESETS["brats"]
    assert preset.channels == (16, 32, 64, 128, 256)
    assert preset.num_res_units == 2


def test_segmenter2d_parameter_count_matches_thesis() -> None:
    count = _count(Segmenter2D())
    assert count == 1_801_508
    assert abs(count - 1.79e6) / 1.79e6 < 0.01


@pytest.mark.parametrize(("kind", "channels"), [("regions", 3), ("labels", 4)])
def test_unet_output_shape(kind: str, channels: int) -> None:
    model = UNet3D.from_preset("tiny", target=TargetSpec(kind))  # type: ignore[arg-type]
    output = model(torch.randn(2, 4, 16, 24, 32))
    assert output.shape == (2, channels, 16, 24, 32)


def test_unet_rejects_wrong_channel_count() -> None:
    model = UNet3D.from_preset("tiny")
    with pytest.raises(ValueError, match=r"expected input \(batch, 4"):
        model(torch.randn(1, 3, 16, 16, 16))


def test_unet_on_fewer_sequences() -> None:
    model = UNet3D.from_preset("tiny", sequences=("flair", "T1ce"))
    assert model.sequences == ("t2f", "t1c")
    assert model(torch.randn(1, 2, 16, 16, 16)).shape == (1, 3, 16, 16, 16)


def test_same_seed_gives_same_weights() -> None:
    torch.manual_seed(5)
    first = UNet3D.from_preset("tiny").state_dict()
    torch.manual_seed(5)
    second = UNet3D.from_preset("tiny").state_dict()
    torch.manual_seed(6)
    third = UNet3D.from_preset("tiny").state_dict()
    assert all(torch.equal(first[name], second[name]) for name in first)
    assert not all(torch.equal(first[name], third[name]) for name in first)


def test_segmenter2d_shapes_and_codes() -> None:
    model = Segmenter2D()
    view, tumour = model.codes(["axial", "sagittal", 1], ["met", "GLI", "men"])
    assert view.tolist() == [2, 0, 1]  # mri-io order: sagittal, coronal, axial
    assert tumour.tolist() == [1, 0, 2]
    output = model(torch.randn(3, 4, 32, 40), view, tumour)
    assert output.shape == (3, 4, 32, 40)


def test_segmenter2d_uses_view_and_tumour_codes() -> None:
    torch.manual_seed(0)
    model = Segmenter2D().eval()
    images = torch.randn(1, 4, 16, 16)
    axial = model(images, *model.codes(["axial"], ["gli"]))
    sagittal = model(images, *model.codes(["sagittal"], ["gli"]))
    metastasis = model(images, *model.codes(["axial"], ["met"]))
    assert not torch.allclose(axial, sagittal)
    assert not torch.allclose(axial, metastasis)


def test_segmenter2d_is_differentiable_in_its_input() -> None:
    # HF-GAN back-propagates the Tversky term through the frozen segmenter into the generator.
    model = Segmenter2D().eval().requires_grad_(False)
    images = torch.randn(2, 4, 16, 16, requires_grad=True)
    model(images, *model.codes(["axial", "coronal"], ["gli", "met"])).sum().backward()
    assert images.grad is not None
    assert float(images.grad.abs().sum()) > 0


@pytest.mark.parametrize(
    ("views", "types", "message"),
    [
        (["top"], ["gli"], "unknown view"),
        (["axial"], ["xyz"], "unknown tumour type"),
        (["axial"], [], "1 views but 0"),
    ],
)
def test_segmenter2d_code_errors(views: list[str], types: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Segmenter2D().codes(views, types)


def test_segmenter2d_rejects_sides_not_divisible() -> None:
    model = Segmenter2D()
    with pytest.raises(ValueError, match="multiples of 8"):
        model(torch.randn(1, 4, 20, 16), *model.codes(["axial"], ["gli"]))
