"""Time 3D SSIM of one 240x240x155 volume: mri-metrics (numpy, torch) against skimage, MONAI
and torchmetrics, in the same run.

    python packages/mri-metrics/benchmarks/bench_ssim.py [--repeat 3] [--threads 2]

The volume is a synthetic skull-stripped brain (textured ellipsoid on zero background, ~18% of
the voxels). Peers average the whole image; "foreground" rows average the brain only (filtering
the slabs of its bounding box that hold brain), which is what mri-metrics recommends. Prints the
fastest and the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import torch
from monai.metrics.regression import SSIMMetric
from scipy import ndimage
from skimage.metrics import structural_similarity
from torchmetrics.functional.image import structural_similarity_index_measure

from mri_metrics import similarity as np_ssim
from mri_metrics.torch import ssim as torch_ssim

Array = npt.NDArray[np.float64]


def phantom(seed: int = 0) -> tuple[Array, Array, npt.NDArray[np.bool_]]:
    """Reference, prediction (reference plus noise in the brain) and brain mask."""
    shape = (240, 240, 155)
    rng = np.random.default_rng(seed)
    grid = np.ogrid[tuple(slice(0, n) for n in shape)]
    radii, centre = (70.0, 85.0, 65.0), (120.0, 120.0, 77.0)
    distance = sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii, strict=True))
    brain: npt.NDArray[np.bool_] = np.asarray(distance) < 1
    texture = ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), 2.0)
    ref: Array = np.where(brain, np.clip(1000.0 + 3000.0 * texture, 0, None), 0.0)
    pred: Array = np.where(brain, ref + rng.normal(0, 100, shape), 0.0)
    return ref, pred, brain


def scalar(value: object) -> float:
    """A peer's tensor result (typed as a union) as one float."""
    assert isinstance(value, torch.Tensor)
    return float(value.mean())


def timed(repeat: int, run: Callable[[], float]) -> tuple[float, float, float]:
    """Fastest and median seconds of ``repeat`` runs, and the value computed."""
    times, value = [], float("nan")
    for _ in range(repeat):
        start = time.perf_counter()
        value = run()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ref, pred, brain = phantom()
    data_range = float(np.ptp(ref))
    tp, tr = torch.from_numpy(pred)[None, None], torch.from_numpy(ref)[None, None]
    tp32, tr32 = tp.float(), tr.float()
    monai = SSIMMetric(spatial_dims=3, data_range=data_range)
    cases: list[tuple[str, Callable[[], float]]] = [
        (
            "mri-metrics numpy, foreground (brain)",
            lambda: np_ssim.ssim(pred, ref, mask=brain, data_range=data_range),
        ),
        (
            "mri-metrics numpy, whole image (skimage profile)",
            lambda: np_ssim.ssim(pred, ref, data_range=data_range, profile="skimage"),
        ),
        (
            "mri-metrics numpy, BraSyn profile",
            lambda: np_ssim.ssim(pred, ref, mask=brain, profile="brasyn"),
        ),
        (
            "mri-metrics torch CPU float32, whole image",
            lambda: float(torch_ssim(tp32[0, 0], tr32[0, 0], data_range=data_range)),
        ),
        (
            "skimage structural_similarity (gaussian, sigma 1.5)",
            lambda: float(
                structural_similarity(  # type: ignore[no-untyped-call]
                    pred,
                    ref,
                    data_range=data_range,
                    gaussian_weights=True,
                    sigma=1.5,
                    use_sample_covariance=False,
                )
            ),
        ),
        ("MONAI SSIMMetric", lambda: scalar(monai(tp32, tr32))),
        (
            "torchmetrics structural_similarity_index_measure (float32)",
            lambda: scalar(structural_similarity_index_measure(tp32, tr32, data_range=data_range)),
        ),
    ]
    print(f"{platform.processor() or platform.machine()}, torch threads {args.threads}")
    print(f"volume {ref.shape}, brain {brain.mean():.1%} of voxels, {args.repeat} runs each")
    for name, run in cases:
        fastest, median, value = timed(args.repeat, run)
        print(f"{name:<62} fastest {fastest:7.3f} s  median {median:7.3f} s  SSIM {value:.6f}")


if __name__ == "__main__":
    main()
