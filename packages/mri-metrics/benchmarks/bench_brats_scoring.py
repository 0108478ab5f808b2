"""Time full BraTS scoring of one realistic 240x240x155 case: mri-metrics against the peers.

Each tool computes what it reports: ours Dice, HD95, NSD@1 and @2 and lesion-wise scores for
WT, TC, ET (``brats2023-gli``, ``mri-suite``); the ``brats-evaluation`` profile and panoptica
set up as brats-evaluation 0.0.10's ``gli`` configuration (one-to-one matching at DSC >= 1e-6,
DSC, NSD and HD95 per lesion and globally) on its six regions; and the BraTS 2023 lesion-wise
reference from the test suite (cc3d, scipy, surface-distance) on WT, TC, ET. Prints the fastest
and the median of ``--repeats`` runs for each, in seconds.

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
GLI_CONFIG_REGIONS = {**REGIONS, "NETC": (1,), "SNFH": (2,), "RC": (4,)}


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
    from panoptica.utils.edge_case_handling import (
        EdgeCaseHandler,
        EdgeCaseResult,
        MetricZeroTPEdgeCaseHandling,
    )

    def zero_tp(value: EdgeCaseResult) -> MetricZeroTPEdgeCaseHandling:
        return MetricZeroTPEdgeCaseHandling(
            no_instances_result=EdgeCaseResult.NAN, default_result=value
        )

    evaluator = Panoptica_Evaluator(
        expected_input=InputType.SEMANTIC,
        instance_approximator=ConnectedComponentsInstanceApproximator(),
        instance_matcher=MaxBipartiteMatching(matching_metric=Metric.DSC, matching_threshold=1e-6),
        instance_metrics=[Metric.DSC, Metric.NSD, Metric.HD95],
        global_metrics=[Metric.DSC, Metric.NSD, Metric.HD95],
        edge_case_handler=EdgeCaseHandler(
            listmetric_zeroTP_handling={
                Metric.DSC: zero_tp(EdgeCaseResult.ZERO),
                Metric.NSD: zero_tp(EdgeCaseResult.ZERO),
                Metric.HD95: zero_tp(EdgeCaseResult.INF),
            }
        ),
        log_times=False,
        verbose=False,
    )
    for labels in GLI_CONFIG_REGIONS.values():
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


def seconds(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Fastest and median wall time of ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


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
        fastest, median = seconds(fn, args.repeats)
        print(f"{name:40} fastest {fastest:7.3f} s  median {median:7.3f} s", flush=True)


if __name__ == "__main__":
    main()
