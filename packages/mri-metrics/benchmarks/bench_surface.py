"""Time Dice + HD95 + NSD@1 mm + NSD@2 mm on one BraTS-size case: mri-metrics against its peers.

Each peer computes its own variant (MONAI: max of directed HD95 on border voxels and pooled
border-voxel NSD; surface-distance: surfel-weighted HD95 and NSD; MedPy: pooled HD95, no NSD) and
mri-metrics computes exactly the same numbers, which the script checks before timing. Reported
times are medians over ``--repeats`` runs of all three regions (WT, TC, ET).

    python packages/mri-metrics/benchmarks/bench_surface.py --repeats 5
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from mri_metrics.overlap import dice
from mri_metrics.surface import surface_distances

BoolArray = npt.NDArray[np.bool_]
Masks = list[tuple[BoolArray, BoolArray]]
Scores = list[tuple[float, ...]]
SHAPE = (240, 240, 155)
TOLERANCES = (1.0, 2.0)


def _blob(
    rng: np.random.Generator, centre: tuple[int, ...], radii: tuple[float, ...], roughness: float
) -> BoolArray:
    """An ellipsoid with a smoothly noisy surface, like a tumour region at 1 mm."""
    grid = np.ogrid[tuple(slice(0, n) for n in SHAPE)]
    radius = sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii, strict=True))
    noise = ndimage.gaussian_filter(rng.standard_normal(SHAPE).astype(np.float32), 4.0)
    noise /= np.abs(noise).max()
    return np.asarray(np.sqrt(radius) + roughness * noise < 1.0)


def make_case(seed: int) -> Masks:
    """Reference and prediction for WT, TC and ET, nested as in BraTS (ET inside TC inside WT)."""
    rng = np.random.default_rng(seed)
    centre = (110, 130, 75)
    regions: Masks = []
    for radii, inner in (
        ((34.0, 28.0, 25.0), None),
        ((20.0, 17.0, 15.0), 0),
        ((20.0, 17.0, 15.0), 1),
    ):
        ref = _blob(rng, centre, radii, 0.35)
        pred = _blob(rng, (centre[0] + 2, centre[1] - 1, centre[2] + 1), radii, 0.35)
        if inner is not None:
            ref &= regions[0][0]
            pred &= regions[0][1]
        if inner == 1:  # ET: an enhancing rim of the core
            ref &= ~ndimage.binary_erosion(ref, iterations=4)
            pred &= ~ndimage.binary_erosion(pred, iterations=4)
        regions.append((pred, ref))
    return regions


def ours_voxel_max(masks: Masks) -> Scores:
    out: Scores = []
    for pred, ref in masks:
        d = surface_distances(pred, ref)
        out.append(
            (dice(pred, ref), d.hausdorff(95, "max-directed"), *[d.nsd(t) for t in TOLERANCES])
        )
    return out


def ours_voxel_pooled(masks: Masks) -> Scores:
    out: Scores = []
    for pred, ref in masks:
        d = surface_distances(pred, ref)
        out.append((dice(pred, ref), d.hausdorff(95, "pooled")))
    return out


def ours_surfel(masks: Masks) -> Scores:
    out: Scores = []
    for pred, ref in masks:
        d = surface_distances(pred, ref, surface="surfel")
        out.append((dice(pred, ref), d.hausdorff(95, "surfel"), *[d.nsd(t) for t in TOLERANCES]))
    return out


def monai(masks: Masks) -> Scores:
    import torch
    from monai.metrics.hausdorff_distance import compute_hausdorff_distance
    from monai.metrics.meandice import DiceMetric
    from monai.metrics.surface_dice import compute_surface_dice

    out: Scores = []
    for pred, ref in masks:
        p = torch.from_numpy(pred)[None, None].float()
        r = torch.from_numpy(ref)[None, None].float()
        d = DiceMetric(include_background=True)(p, r).item()  # type: ignore[union-attr]
        hd = compute_hausdorff_distance(p, r, include_background=True, percentile=95).item()
        nsd = compute_surface_dice(p, r, list(TOLERANCES[:1]), include_background=True).item()
        nsd2 = compute_surface_dice(p, r, list(TOLERANCES[1:]), include_background=True).item()
        out.append((d, hd, nsd, nsd2))
    return out


def surface_distance_lib(masks: Masks) -> Scores:
    import surface_distance as sd

    out: Scores = []
    for pred, ref in masks:
        dist = sd.compute_surface_distances(ref, pred, (1.0, 1.0, 1.0))
        out.append(
            (
                sd.compute_dice_coefficient(ref, pred),
                sd.compute_robust_hausdorff(dist, 95),
                *[sd.compute_surface_dice_at_tolerance(dist, t) for t in TOLERANCES],
            )
        )
    return out


def medpy(masks: Masks) -> Scores:
    from medpy.metric import binary

    return [(binary.dc(pred, ref), binary.hd95(pred, ref)) for pred, ref in masks]


def _median_seconds(fn: Callable[[Masks], Scores], masks: Masks, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(masks)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per implementation")
    parser.add_argument("--medpy-repeats", type=int, default=1, help="MedPy is slow: fewer runs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    masks = make_case(args.seed)
    print(f"# {platform.processor() or platform.machine()}, numpy {np.__version__}")
    print("# region voxels (ref):", [int(r.sum()) for _, r in masks])
    pairs = [
        ("MONAI", monai, ours_voxel_max, args.repeats),
        ("surface-distance", surface_distance_lib, ours_surfel, args.repeats),
        ("MedPy", medpy, ours_voxel_pooled, args.medpy_repeats),
    ]
    print(f"{'peer':<18}{'peer s':>10}{'ours s':>10}{'speed-up':>10}")
    for name, peer, ours, repeats in pairs:
        expected, got = np.array(peer(masks)), np.array(ours(masks))
        np.testing.assert_allclose(got, expected, rtol=1e-6, err_msg=f"{name} numbers differ")
        peer_s = _median_seconds(peer, masks, repeats)
        ours_s = _median_seconds(ours, masks, args.repeats)
        print(f"{name:<18}{peer_s:>10.3f}{ours_s:>10.3f}{peer_s / ours_s:>9.1f}x")


if __name__ == "__main__":
    main()
