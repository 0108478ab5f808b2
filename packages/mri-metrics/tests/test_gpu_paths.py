"""The torch SSIM on a CUDA device, on a batch of volumes: the numbers of the numpy path.

Runs with ``nox -s gpu`` on a machine with a CUDA device (marked ``gpu``, deselected elsewhere).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from mri_metrics.similarity import ssim as numpy_ssim

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize(("dtype", "rtol"), [("float64", 1e-9), ("float32", 1e-4)])
def test_batched_ssim_on_cuda_equals_the_numpy_path(dtype: str, rtol: float) -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    from mri_metrics.torch import ssim as torch_ssim

    rng = np.random.default_rng(0)
    shape = (3, 64, 60, 40)
    ref = ndimage.gaussian_filter(rng.normal(size=shape), (0, 2, 2, 2)) * 300 + 1000
    pred = ref + rng.normal(0, 30, size=shape)
    grid = np.ogrid[: shape[1], : shape[2], : shape[3]]
    brain = sum(((g - n / 2) / (0.4 * n)) ** 2 for g, n in zip(grid, shape[1:], strict=True)) < 1
    masks = np.broadcast_to(brain, shape).copy()
    masks[1, :, :, :20] = False  # a different region per volume
    device = torch.device("cuda")
    as_tensor = {"float64": torch.float64, "float32": torch.float32}[dtype]
    got = torch_ssim(
        torch.as_tensor(pred, dtype=as_tensor, device=device),
        torch.as_tensor(ref, dtype=as_tensor, device=device),
        mask=torch.as_tensor(masks, device=device),
        spatial_dims=3,
        data_range=4000.0,
    )
    assert got.device.type == "cuda"
    assert got.shape == (3,)
    expected = [
        numpy_ssim(pred[i], ref[i], mask=masks[i], data_range=4000.0) for i in range(shape[0])
    ]
    np.testing.assert_allclose(got.double().cpu().numpy(), expected, rtol=rtol)
