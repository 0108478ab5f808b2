"""Time full BraTS scoring of one realistic 240x240x155 case: mri-metrics against the peers.

Three regions (WT, TC, ET); each tool computes what it reports: ours Dice, HD95, NSD@1 and @2
and lesion-wise scores (``brats2023-gli`` and ``brats-evaluation`` profiles); panoptica
configured as brats-evaluation (one-to-one DSC matching, DSC and HD95 per lesion, global DSC);
and the BraTS 2023 lesion-wise reference from the test suite (cc3d, scipy, surface-distance).
Prints the median of ``--repeats`` runs for each, in seconds.

Run: ``python packages/mri-metrics/benchmarks/bench_brats_scoring.py --repeats 3``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from mri_metrics.scoring import score_segmentation

SHAPE = (240, 240, 155)
REGIONS = {"WT": (1, 2, 3), "TC": (1, 3), "ET": (3,)}


def synthetic_case(seed: int) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """A glioma-like reference (edema, necrosis, enhancing rim, two satellites) and a prediction."""
    rng = np.random.default_rng(seed)
    grid = np.indices(SHAPE, dtype=np.float32)
    centre = np.array([120.0, 110.0, 80.0], dtype=np.float32)[:, None, None, None]
    radius = np.sqrt(((grid - centre) ** 2).sum(0))
    noise = ndimage.gaussian_filter(rng.normal(size=SHAPE).astype(np.float32), 3) * 60
    ref = np.zeros(SHAPE, dtype=np.uint8)
    ref[radius + noise < 35] = 2
    ref[radius + noise < 20] = 3
    ref[radius + noise < 14] = 1
    for c in ((60, 60, 60), (170, 180, 100)):
        sat = np.sqrt(((grid - np.array(c, dtype=np.float32)[:, None, None, None]) ** 2).sum(0))
        ref[sat < 4] = 3
    pred = np.roll(ref, (2, -1, 1), axis=(0, 1, 2))
    pred[ndimage.binary_erosion(pred == 3, iterations=2) & (rng.random(SHAPE) < 0.3)] = 1
    pred[200:204, 40:44, 30:33] = 3  # a false positive
    return pred, ref


def panoptica_brats_evaluation(pred: npt.NDArray[np.uint8], ref: npt.NDArray[np.uint8]) -> None:
    from panoptica import (
        ConnectedComponentsInstanceApproximator,
        InputType,
        MaxBipartiteMatching,
        Metric,
        Panoptica_Evaluator,
    )

    evaluator = Panoptica_Evaluator(
        expected_input=InputType.SEMANTIC,
        instance_approximator=ConnectedComponentsInstanceApproximator(),
        instance_matcher=MaxBipartiteMatching(matching_metric=Metric.DSC, matching_threshold=0.0),
        instance_metrics=[Metric.DSC, Metric.IOU, Metric.HD95],
        global_metrics=[Metric.DSC],
        log_times=False,
        verbose=False,
    )
    for labels in REGIONS.values():
        evaluator.evaluate(
            np.isin(pred, labels).astype(np.uint8),
            np.isin(ref, labels).astype(np.uint8),
            verbose=False,
        )


def brats2023_reference(pred: npt.NDArray[np.uint8], ref: npt.NDArray[np.uint8]) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_lesion_parity import reference_brats2023  # type: ignore[import-not-found]

    for labels in REGIONS.values():
        reference_brats2023(np.isin(pred, labels), np.isin(ref, labels), (1.0, 1.0, 1.0), 3, 50.0)


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    pred, ref = synthetic_case(0)
    runs: dict[str, Callable[[], object]] = {
        "mri-metrics brats2023-gli": lambda: score_segmentation(pred, ref, "brats2023-gli"),
        "mri-metrics brats-evaluation": lambda: score_segmentation(pred, ref, "brats-evaluation"),
        "mri-metrics mri-suite": lambda: score_segmentation(pred, ref),
        "panoptica (brats-evaluation config)": lambda: panoptica_brats_evaluation(pred, ref),
        "BraTS 2023 reference (tests)": lambda: brats2023_reference(pred, ref),
    }
    for name, fn in runs.items():
        print(f"{name:40} {median_seconds(fn, args.repeats):8.2f} s", flush=True)


if __name__ == "__main__":
    main()
