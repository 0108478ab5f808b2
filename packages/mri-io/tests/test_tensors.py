"""mri_io.tensors against the numpy functions it twins: equal bit for bit on a CPU."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from mri_io import tensors
from mri_io.intensity import IntensityStats, NormalisationParams, Normaliser
from mri_io.slicing import VIEWS, SliceLayout, background_majority

CPU = torch.device("cpu")


def _volume(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Scanner-like intensities with background, negatives and a bright tail above any clip."""
    values = rng.gamma(2.0, 300.0, size=shape).astype(np.float32)
    values[rng.random(shape) < 0.3] = 0.0
    values[rng.random(shape) < 0.05] *= -1.0
    values[rng.random(shape) < 0.01] *= 50.0
    return values


@pytest.mark.parametrize("seed", range(4))
def test_normalise_equals_the_numpy_forward_bit_for_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    raw = np.maximum(_volume(rng, (23, 19, 11)), 0)
    clip, std = float(rng.uniform(500, 3000)), float(rng.uniform(1, 900))
    stats = IntensityStats(clip=clip, mean=412.7, std=std)
    expected = Normaliser("zscore-dataset", stats).forward(raw).data
    got = tensors.normalise(torch.from_numpy(raw), NormalisationParams.of_dataset(stats))
    assert got.dtype == torch.float32
    np.testing.assert_array_equal(got.numpy(), expected)


def test_normalise_refuses_non_finite_intensities() -> None:
    raw = torch.ones(4, 4, 4)
    raw[1, 2, 3] = float("nan")
    params = NormalisationParams.of_dataset(IntensityStats(clip=10.0, mean=1.0, std=2.0))
    with pytest.raises(ValueError, match="finite"):
        tensors.normalise(raw, params)


def test_dataset_params_match_the_normaliser_and_never_divide_by_zero() -> None:
    stats = IntensityStats(clip=900.0, mean=300.0, std=0.0)
    params = NormalisationParams.of_dataset(stats)
    assert params == Normaliser("zscore-dataset", stats).params_for(np.ones(3))
    assert params.scale == 1.0


@pytest.mark.parametrize("seed", range(4))
def test_denormalise_equals_the_numpy_inverse_bit_for_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.normal(0.0, 2.0, size=(17, 13, 9)).astype(np.float32)
    foreground = rng.random(values.shape) < 0.7
    params = NormalisationParams.of_dataset(IntensityStats(clip=2000.0, mean=512.3, std=211.9))
    expected = Normaliser.inverse(values, params, foreground)
    got = tensors.denormalise(torch.from_numpy(values), params, torch.from_numpy(foreground))
    assert got.dtype == torch.float32
    np.testing.assert_array_equal(got.numpy(), expected)
    assert (got.numpy()[~foreground] == 0).all()
    assert (got.numpy() >= 0).all()


def test_denormalise_refuses_a_mask_of_another_shape() -> None:
    params = NormalisationParams.of_dataset(IntensityStats(clip=1.0, mean=0.0, std=1.0))
    with pytest.raises(ValueError, match="does not match"):
        tensors.denormalise(torch.zeros(3, 4, 5), params, torch.ones(3, 4, 4, dtype=torch.bool))


@pytest.mark.parametrize(
    "available",
    [
        [True, True, True, True],
        [True, True, True, False],  # three inputs: two agreeing decide
        [True, False, True, False],  # a tie keeps the voxel
        [False, False, True, False],
    ],
)
def test_background_majority_equals_the_numpy_vote(available: list[bool]) -> None:
    rng = np.random.default_rng(7)
    stack = np.where(rng.random((4, 9, 8, 7)) < 0.5, 0.0, 1.0).astype(np.float32)
    expected = background_majority(stack, available)
    got = tensors.background_majority(torch.from_numpy(stack), available)
    np.testing.assert_array_equal(got.numpy(), expected)


def test_background_majority_needs_one_available_sequence_per_volume() -> None:
    with pytest.raises(ValueError, match="expected a"):
        tensors.background_majority(torch.zeros(3), [True, True, True])
    with pytest.raises(ValueError, match="available"):
        tensors.background_majority(torch.zeros(3, 2, 2, 2), [False, False, False])
    with pytest.raises(ValueError, match="available"):
        tensors.background_majority(torch.zeros(3, 2, 2, 2), [True, True])


# Square planes, padding on both axes, padding on one and a centre crop on the other, odd sizes.
SHAPES = [
    ((20, 20, 20), 20),
    ((37, 50, 23), 64),
    ((37, 50, 23), 40),
    ((31, 16, 45), 33),
    ((45, 47, 9), 32),  # odd crops on both axes (13 and 15)
]


@pytest.mark.parametrize(("shape", "size"), SHAPES)
@pytest.mark.parametrize("view", VIEWS)
def test_slices_and_restack_equal_the_numpy_layout(
    shape: tuple[int, int, int], size: int, view: str
) -> None:
    rng = np.random.default_rng(3)
    stack = rng.normal(size=(3, *shape)).astype(np.float32)
    layout = SliceLayout.square(shape, view, size=size)  # type: ignore[arg-type]
    expected = layout.slices(stack, pad=-1.0)
    cut = tensors.slices(torch.from_numpy(stack), layout, pad=-1.0)
    np.testing.assert_array_equal(cut.numpy(), expected)
    back = tensors.restack(cut, layout, fill=-1.0)
    np.testing.assert_array_equal(back.numpy(), layout.restack(expected, fill=-1.0))
    # Without leading axes, and the round trip is exact wherever the square kept the plane.
    single = tensors.slices(torch.from_numpy(stack[0]), layout)
    np.testing.assert_array_equal(single.numpy(), layout.slices(stack[0]))
    if all(n <= size for a, n in enumerate(shape) if a != layout.axis):
        np.testing.assert_array_equal(tensors.restack(single, layout).numpy(), stack[0])


def test_slices_and_restack_refuse_wrong_shapes() -> None:
    layout = SliceLayout.square((8, 9, 10), "axial", size=12)
    with pytest.raises(ValueError, match="expected a stack"):
        tensors.slices(torch.zeros(8, 9, 11), layout)
    with pytest.raises(ValueError, match="expected 10 slices"):
        tensors.restack(torch.zeros(9, 12, 12), layout)
    with pytest.raises(ValueError, match="expected 10 slices"):
        tensors.restack(torch.zeros(10, 12, 11), layout)


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a,
        lambda a: a.astype(np.float64),
        lambda a: a[::-1, :, ::-1],  # a flipped view: negative strides
        lambda a: a.astype(">f4"),  # big-endian, as some NIfTI files store it
        lambda a: np.rint(a).astype(np.int16),
        lambda a: np.rint(np.abs(a)).astype(">u2"),
    ],
)
def test_to_device_gives_the_float32_values_numpy_gives(make: object) -> None:
    source = make(_volume(np.random.default_rng(5), (6, 7, 8)))  # type: ignore[operator]
    got = tensors.to_device(source, CPU)
    assert got.dtype == torch.float32
    np.testing.assert_array_equal(got.numpy(), np.asarray(source, dtype=np.float32))


def test_to_device_copies_read_only_memory_instead_of_sharing_it() -> None:
    source = _volume(np.random.default_rng(6), (4, 5, 6))
    source.flags.writeable = False
    got = tensors.to_device(source, CPU)
    got += 1.0
    assert not np.shares_memory(got.numpy(), source)


def test_to_device_shares_a_fortran_ordered_volume_as_loaded() -> None:
    """NIfTI volumes load in Fortran order: they cross without a host copy."""
    source = np.asfortranarray(_volume(np.random.default_rng(8), (4, 5, 6)))
    got = tensors.to_device(source, CPU)
    assert np.shares_memory(got.numpy(), source)
    np.testing.assert_array_equal(got.numpy(), source)


@pytest.mark.parametrize("module", ["mri_io.tensors", "mri_io.training"])
def test_import_without_torch_names_the_extra(module: str) -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        f"try:\n    import {module}\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert f'{module} needs torch: pip install "mri-io[torch]"' in out.stdout


@pytest.mark.gpu
def test_on_cuda_every_step_equals_the_cpu_bit_for_bit() -> None:
    """The device path's claim where it matters: no step rounds differently on a GPU (divisions
    by a device scalar, float64 de-normalisation in separate kernels, pure data movement)."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    cuda = torch.device("cuda")
    rng = np.random.default_rng(11)
    volume = _volume(rng, (4, 37, 50, 23))
    params = NormalisationParams.of_dataset(IntensityStats(clip=1800.0, mean=412.7, std=233.3))
    available = [True, False, True, True]
    layout = SliceLayout.square((37, 50, 23), "axial", size=64)
    results = {}
    for device in (CPU, cuda):
        raw = tensors.to_device(volume, device).clamp_min(0.0)
        stack = tensors.normalise(raw, params)
        background = tensors.background_majority(raw, available)
        cut = tensors.slices(stack, layout, pad=-1.0)
        back = tensors.restack(cut, layout, fill=-1.0)
        restored = tensors.denormalise(back[0], params, ~background)
        results[device.type] = [t.cpu().numpy() for t in (stack, background, cut, back, restored)]
    for on_cpu, on_cuda in zip(results["cpu"], results["cuda"], strict=True):
        np.testing.assert_array_equal(on_cuda, on_cpu)
