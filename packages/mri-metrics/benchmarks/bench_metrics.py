"""Every mri-metrics path against every peer, in one run: equal values first, then the clock.

    nox -s bench -- metrics                     # installs the peers, measures, writes the page
    python packages/mri-metrics/benchmarks/bench_metrics.py --out docs/mri-metrics/speed.json
    python packages/mri-metrics/benchmarks/bench_metrics.py --render   # page from the JSON only

The BraTS 2023 challenge's lesion-wise script is not a package: to add it as a peer, clone
github.com/rachitsaluja/BraTS-2023-Metrics, make an interpreter with its pinned requirements
(they need Python 3.10: pandas 1.3.4), and name both::

    python3.10 -m venv peer23 && peer23/bin/pip install -r BraTS-2023-Metrics/requirements.txt
    nox -s bench -- metrics --brats2023-script BraTS-2023-Metrics \
        --brats2023-python peer23/bin/python

Each row pairs one peer with the mri-metrics profile that computes the same numbers. Before any
timing, both are run once and their numbers compared (a row whose numbers differ beyond its
stated tolerance stops the run: a speed-up of a different quantity means nothing). Then every
contender of every row runs once per round, alternately, for ``--rounds`` rounds, so a change
in the machine's load during the run falls on ours and the peers alike. Everything runs on one
thread (BLAS, OpenMP, torch, and mri-metrics' own slab threads): the comparison is of the
algorithms, not of how many cores each uses. The JSON records fastest and median seconds, the
command, machine, date, load average and package versions; ``docs/mri-metrics/speed.md`` is
rendered from it.

Inputs are one synthetic 240 x 240 x 155 case per path, built here from fixed seeds: three
nested tumour regions with noisy surfaces (surface distances), a textured skull-stripped brain
and a noisy copy (SSIM), and a glioma label map with satellites, a shifted prediction and a false
positive (lesion-wise scoring).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from mri_io.provenance import command_line, load_average, machine, today

ROOT = Path(__file__).resolve().parents[3]
JSON_PATH = ROOT / "docs" / "mri-metrics" / "speed.json"
PAGE = JSON_PATH.with_suffix(".md")
SHAPE = (240, 240, 155)
TOLERANCES_MM = (1.0, 2.0)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: The speed-up the project aims at on every row.
GOAL = 10.0

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
Masks = list[tuple[BoolArray, BoolArray]]
Numbers = list[float]


# ---------------------------------------------------------------------------------------------
# Inputs


def _blob(
    rng: np.random.Generator, centre: tuple[float, ...], radii: tuple[float, ...], rough: float
) -> BoolArray:
    """An ellipsoid with a smoothly noisy surface, like a tumour region at 1 mm."""
    grid = np.ogrid[tuple(slice(0, n) for n in SHAPE)]
    radius = sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii, strict=True))
    noise = ndimage.gaussian_filter(rng.standard_normal(SHAPE).astype(np.float32), 4.0)
    noise /= np.abs(noise).max()
    return np.asarray(np.sqrt(radius) + rough * noise < 1.0)


def region_masks(seed: int = 0) -> Masks:
    """(prediction, reference) for WT, TC and ET, nested as in BraTS, the prediction shifted."""
    rng = np.random.default_rng(seed)
    centre = (110.0, 130.0, 75.0)
    shifted = (112.0, 129.0, 76.0)
    regions: Masks = []
    for radii, inner in (
        ((34.0, 28.0, 25.0), None),
        ((20.0, 17.0, 15.0), 0),
        ((20.0, 17.0, 15.0), 1),
    ):
        ref, pred = _blob(rng, centre, radii, 0.35), _blob(rng, shifted, radii, 0.35)
        if inner is not None:
            ref &= regions[0][1]
            pred &= regions[0][0]
        if inner == 1:  # ET: the enhancing rim of the core
            ref &= ~ndimage.binary_erosion(ref, iterations=4)
            pred &= ~ndimage.binary_erosion(pred, iterations=4)
        regions.append((pred, ref))
    return regions


def brain_pair(seed: int = 0) -> tuple[FloatArray, FloatArray, BoolArray]:
    """A textured skull-stripped brain (about 18% of the voxels), a noisy copy, the brain mask."""
    rng = np.random.default_rng(seed)
    grid = np.ogrid[tuple(slice(0, n) for n in SHAPE)]
    radii, centre = (70.0, 85.0, 65.0), (120.0, 120.0, 77.0)
    distance = sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii, strict=True))
    brain: BoolArray = np.asarray(distance) < 1
    texture = ndimage.gaussian_filter(rng.standard_normal(SHAPE, dtype=np.float32), 2.0)
    ref: FloatArray = np.where(brain, np.clip(1000.0 + 3000.0 * texture, 0, None), 0.0)
    pred: FloatArray = np.where(brain, ref + rng.normal(0, 100, SHAPE), 0.0)
    return pred, ref, brain


def glioma_pair(seed: int = 0) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """A glioma label map (edema 2, enhancing 3, necrosis 1, two satellites) and a prediction
    shifted by a few voxels, with spotty enhancement and a false positive."""
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
        satellite = np.sqrt(
            ((grid - np.array(c, dtype=np.float32)[:, None, None, None]) ** 2).sum(0)
        )
        ref[satellite < 4] = 3
    pred = np.roll(ref, (2, -1, 1), axis=(0, 1, 2))
    pred[ndimage.binary_erosion(pred == 3, iterations=2) & (rng.random(SHAPE) < 0.3)] = 1
    pred[200:204, 40:44, 30:33] = 3
    return pred, ref


# ---------------------------------------------------------------------------------------------
# Rows: one peer, the mri-metrics call that computes its numbers, and how equal they must be


class Row(NamedTuple):
    """One comparison: ``ours`` and ``peer`` each return the numbers they compute."""

    key: str
    path: str
    peer: str
    #: Distribution whose version is recorded for the peer.
    package: str
    #: ``"peer"`` (a published library) or ``"reimplementation"`` (our transcription of code
    #: that is not published as a package, from the test suite).
    kind: str
    profile: str
    ours: Callable[[], Numbers]
    theirs: Callable[[], Numbers]
    #: Largest relative difference accepted, from the peer's arithmetic (float32 or float64).
    rtol: float
    #: Why a row falls short of the goal, when it does (written after measuring it).
    shortfall: str = ""


def _quiet(run: Callable[[], Any]) -> Any:
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run()


def surface_rows(masks: Masks) -> list[Row]:
    from mri_metrics.overlap import dice
    from mri_metrics.surface import surface_distances

    def ours_surfel() -> Numbers:
        out: Numbers = []
        for pred, ref in masks:
            d = surface_distances(pred, ref, surface="surfel")
            out += [dice(pred, ref), d.hausdorff(95, "surfel"), *(d.nsd(t) for t in TOLERANCES_MM)]
        return out

    def ours_voxel_max() -> Numbers:
        out: Numbers = []
        for pred, ref in masks:
            d = surface_distances(pred, ref)
            out += [dice(pred, ref), d.hausdorff(95, "max-directed")]
            out += [d.nsd(t) for t in TOLERANCES_MM]
        return out

    def ours_voxel_pooled() -> Numbers:
        out: Numbers = []
        for pred, ref in masks:
            out += [dice(pred, ref), surface_distances(pred, ref).hausdorff(95, "pooled")]
        return out

    def deepmind() -> Numbers:
        import surface_distance as sd

        out: Numbers = []
        for pred, ref in masks:
            dist = sd.compute_surface_distances(ref, pred, (1.0, 1.0, 1.0))
            out += [sd.compute_dice_coefficient(ref, pred), sd.compute_robust_hausdorff(dist, 95)]
            out += [sd.compute_surface_dice_at_tolerance(dist, t) for t in TOLERANCES_MM]
        return out

    def monai() -> Numbers:
        import torch
        from monai.metrics.hausdorff_distance import compute_hausdorff_distance
        from monai.metrics.meandice import compute_dice
        from monai.metrics.surface_dice import compute_surface_dice

        out: Numbers = []
        for pred, ref in masks:
            p = torch.from_numpy(pred)[None, None].float()
            r = torch.from_numpy(ref)[None, None].float()
            out.append(float(compute_dice(p, r, include_background=True)))
            out.append(
                float(compute_hausdorff_distance(p, r, include_background=True, percentile=95))
            )
            out += [
                float(compute_surface_dice(p, r, [t], include_background=True))
                for t in TOLERANCES_MM
            ]
        return out

    def medpy() -> Numbers:
        from medpy.metric import binary

        return [v for pred, ref in masks for v in (binary.dc(pred, ref), binary.hd95(pred, ref))]

    what = "Dice + HD95 + NSD@1 + NSD@2 mm, WT/TC/ET, 240x240x155"
    return [
        Row(
            "surface-deepmind",
            what,
            "surface-distance",
            "surface-distance",
            "peer",
            "surfels (`mri-suite`, `brats2023-*`)",
            ours_surfel,
            deepmind,
            1e-12,
            "Per region the cost is a few vectorised numpy passes: the bounding boxes and the "
            "Dice counts over the full 8.9 M-voxel volumes (about 1 ms each), the surfels "
            "extracted on the union's bounding box, the nearest-surfel search in both "
            "directions (2-4 ms for the whole tumour's ~17,000 surfels: a gather per ring of "
            "offsets around each surfel), and a lexicographic sort of distances and areas for "
            "the area-weighted 95th percentile (about 1 ms). None of these is a scalar loop; "
            "the remaining factor of about two needs compiled code (surface extraction and "
            "search in one pass), which mri-metrics does not ship.",
        ),
        Row(
            "surface-monai",
            what,
            "MONAI",
            "monai",
            "peer",
            "border voxels, max of directed HD95 (`monai`)",
            ours_voxel_max,
            monai,
            1e-6,
        ),
        Row(
            "surface-medpy",
            "Dice + HD95 (MedPy has no NSD), WT/TC/ET, 240x240x155",
            "MedPy",
            "medpy",
            "peer",
            "border voxels, pooled HD95 (`medpy`)",
            ours_voxel_pooled,
            medpy,
            1e-12,
        ),
    ]


def ssim_rows(pred: FloatArray, ref: FloatArray) -> list[Row]:
    import torch

    from mri_metrics import similarity
    from mri_metrics.torch import ssim as torch_ssim

    data_range = float(np.ptp(ref))
    p32, r32 = (torch.from_numpy(a).float()[None, None] for a in (pred, ref))

    def ours(profile: str) -> Callable[[], Numbers]:
        return lambda: [
            similarity.ssim(pred, ref, data_range=data_range, profile=profile)  # type: ignore[arg-type]
        ]

    def skimage() -> Numbers:
        from skimage.metrics import structural_similarity

        value = structural_similarity(  # type: ignore[no-untyped-call]
            pred,
            ref,
            data_range=data_range,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
        return [float(value)]

    def monai() -> Numbers:
        from monai.metrics.regression import SSIMMetric

        metric = SSIMMetric(spatial_dims=3, data_range=data_range)
        return [float(torch.as_tensor(metric(p32, r32)).mean())]

    def torchmetrics() -> Numbers:
        from torchmetrics.functional.image import structural_similarity_index_measure

        value = structural_similarity_index_measure(p32, r32, data_range=data_range)
        return [float(torch.as_tensor(value))]

    def ours_torch() -> Numbers:
        return [float(torch_ssim(p32[0, 0], r32[0, 0], data_range=data_range))]

    what = "3D SSIM (Gaussian 11, sigma 1.5), whole image, 240x240x155"
    return [
        Row(
            "ssim-skimage",
            what,
            "scikit-image",
            "scikit-image",
            "peer",
            "numpy, `skimage`",
            ours("skimage"),
            skimage,
            1e-9,
            "The profile asks for the whole image, so every one of the 8.9 M voxels is "
            "filtered: four moment images along three axes, as banded matrix products in "
            "float64 (scikit-image: scipy's Gaussian filter on five images, also float64). "
            "float32 would halve the work but not keep the peer's digits (tolerance 1e-9 "
            "here). The suite's default, SSIM over the brain mask, filters only the slabs of "
            "the brain's bounding box (table below); no peer computes it.",
        ),
        Row(
            "ssim-monai",
            what,
            "MONAI SSIMMetric (float32)",
            "monai",
            "peer",
            "numpy, `monai`",
            ours("monai"),
            monai,
            1e-5,
        ),
        Row(
            "ssim-torchmetrics",
            what,
            "torchmetrics (float32)",
            "torchmetrics",
            "peer",
            "numpy, `torchmetrics`",
            ours("torchmetrics"),
            torchmetrics,
            1e-5,
        ),
        Row(
            "ssim-torch-monai",
            what + ", torch float32 on CPU",
            "MONAI SSIMMetric (float32)",
            "monai",
            "peer",
            "`mri_metrics.torch.ssim`",
            ours_torch,
            monai,
            1e-5,
            "The torch path is there for gradients (HF-GAN's SSIM loss) and for GPUs (none "
            "was available to measure). On a CPU it runs the 1D kernels as depthwise 3D "
            "convolutions, below BLAS speed, in slabs of a few planes so that its buffers are "
            "reused: whole-volume tensors cost seconds of page faults on this virtual machine, "
            "and what is left of them still varies with the machine's load. On a CPU the "
            "numpy path computes the same numbers (rows above).",
        ),
    ]


def lesion_rows(pred: npt.NDArray[np.uint8], ref: npt.NDArray[np.uint8]) -> list[Row]:
    from mri_metrics.scoring import score_segmentation

    gli = {"wt": "WT", "tc": "TC", "et": "ET", "netc": "NETC", "snfh": "SNFH", "rc": "RC"}

    def ours_brats_evaluation() -> Numbers:
        scores = score_segmentation(pred, ref, "brats-evaluation")
        return [
            scores[region][key]
            for region in gli.values()
            for key in (
                "dice",
                "hd95",
                "nsd@0.5",
                "lesion_dice",
                "lesion_hd95",
                "lesion_nsd",
                "lesion_tp",
                "lesion_fp",
                "lesion_fn",
                "lesion_f1",
            )
        ]

    def brats_evaluation() -> Numbers:
        from importlib.resources import files

        from panoptica import Panoptica_Evaluator

        config = files("brats_evaluation").joinpath("configs", "config_gli.yaml")
        evaluator = _quiet(lambda: Panoptica_Evaluator.load_from_config(str(config)))
        results = _quiet(lambda: evaluator.evaluate(pred, ref, verbose=False))
        out: Numbers = []
        for group in gli:
            r = results[group].to_dict()
            # brats-evaluation's parser reports an infinite global HD95 as 373.
            hd95 = 373.0 if math.isinf(r["global_bin_hd95"]) else r["global_bin_hd95"]
            out += [
                r["global_bin_dsc"],
                hd95,
                r["global_bin_nsd"],
                r["sq_dsc"],
                r["sq_hd95"],
                r["sq_nsd"],
                r["tp"],
                r["fp"],
                r["fn"],
                r["rq"],
            ]
        return [float(v) for v in out]

    regions = {"WT": (1, 2, 3), "TC": (1, 3), "ET": (3,)}

    def ours_brats2023() -> Numbers:
        scores = score_segmentation(pred, ref, "brats2023-gli")
        return [scores[r][k] for r in regions for k in ("lesion_dice", "lesion_hd95", "lesion_fp")]

    def brats2023_script() -> Numbers:
        sys.path.insert(0, str(ROOT / "packages" / "mri-metrics" / "tests"))
        from test_lesion_parity import reference_brats2023  # type: ignore[import-not-found]

        out: Numbers = []
        for labels in regions.values():
            dice, hd95, n_fp = reference_brats2023(
                np.isin(pred, labels), np.isin(ref, labels), (1.0, 1.0, 1.0), 3, 50.0
            )
            out += [dice, hd95, float(n_fp)]
        return out

    return [
        Row(
            "lesion-brats-evaluation",
            "BraTS 2024+ scoring (brats-evaluation `gli`): global and lesion-wise DSC, NSD, "
            "HD95 and detection counts, 6 regions, 240x240x155",
            "brats-evaluation 0.0.10 `gli` (panoptica)",
            "brats-evaluation",
            "peer",
            "`brats-evaluation`",
            ours_brats_evaluation,
            brats_evaluation,
            1e-9,
        ),
        Row(
            "lesion-brats2023",
            "BraTS 2023 lesion-wise Dice, HD95 and false positives, WT/TC/ET, 240x240x155",
            "BraTS 2023 lesion-wise script, transcribed in the tests",
            "connected-components-3d",
            "reimplementation",
            "`brats2023-gli`",
            ours_brats2023,
            brats2023_script,
            1e-9,
            "The challenge's script is not published as a package, so the row compares with "
            "its step-by-step transcription in mri-metrics' parity tests (cc3d, scipy and "
            "surface-distance on the full volume, as the script does).",
        ),
    ]


def brats2023_script_row(
    pred: npt.NDArray[np.uint8],
    ref: npt.NDArray[np.uint8],
    script: Path,
    python: Path,
    folder: Path,
) -> Row:
    """The BraTS 2023 challenge's own lesion-wise script (a checkout of
    github.com/rachitsaluja/BraTS-2023-Metrics, not a package), served by ``brats2023_peer.py``
    under ``python``, an interpreter with the script's pinned requirements (pandas 1.x). It
    reads NIfTI files, so the pair is written once to ``folder``; its time includes reading
    them (about 0.1 s)."""
    import subprocess

    import nibabel as nib

    from mri_metrics.scoring import score_segmentation

    files = {}
    for name, labels in (("pred", pred), ("ref", ref)):
        files[name] = folder / f"{name}.nii.gz"
        nib.save(nib.Nifti1Image(labels, np.eye(4)), files[name])
    server = subprocess.Popen(
        [str(python), str(Path(__file__).with_name("brats2023_peer.py")), str(script),
         str(files["pred"]), str(files["ref"])],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    stdin, stdout = server.stdin, server.stdout
    if stdin is None or stdout is None:
        raise SystemExit("the BraTS 2023 script's process has no pipes")
    word, _, versions = stdout.readline().partition(" ")
    if word != "ready":
        raise SystemExit(f"{script}: the BraTS 2023 script did not load under {python}")
    environment = ", ".join(f"{k} {v}" for k, v in json.loads(versions).items())
    regions = ("WT", "TC", "ET")

    def ours() -> Numbers:
        scores = score_segmentation(pred, ref, "brats2023-gli")
        return [scores[r][k] for r in regions for k in ("lesion_dice", "lesion_hd95", "lesion_fp")]

    def theirs() -> Numbers:
        stdin.write("run\n")
        stdin.flush()
        values: Numbers = json.loads(stdout.readline())
        return values

    return Row(
        "lesion-brats2023-script",
        "BraTS 2023 lesion-wise Dice, HD95 and false positives, WT/TC/ET, 240x240x155",
        f"BraTS 2023 lesion-wise script (the challenge's `metrics.py`; {environment})",
        "connected-components-3d",
        "peer",
        "`brats2023-gli`",
        ours,
        theirs,
        1e-9,
    )


def no_peer_paths(
    pred: FloatArray, ref: FloatArray, brain: BoolArray
) -> dict[str, Callable[[], object]]:
    """Paths no peer computes (the suite's defaults), timed for scale."""
    import torch

    from mri_metrics import similarity
    from mri_metrics.torch import ssim as torch_ssim

    data_range = float(np.ptp(ref))
    p32, r32 = (torch.from_numpy(a).float() for a in (pred, ref))
    mask = torch.from_numpy(brain)
    return {
        "SSIM over the brain mask (numpy, `mri-suite`)": lambda: similarity.ssim(
            pred, ref, mask=brain, data_range=data_range
        ),
        "SSIM over the brain mask (torch float32, CPU)": lambda: torch_ssim(
            p32, r32, mask=mask, data_range=data_range
        ),
        "SSIM, BraSyn's official score (numpy, `brasyn`)": lambda: similarity.ssim(
            pred, ref, mask=brain, profile="brasyn"
        ),
    }


# ---------------------------------------------------------------------------------------------
# Measuring


def check_equal(row: Row) -> float:
    """Largest relative difference between ours and the peer; raises beyond ``row.rtol``."""
    ours, theirs = np.asarray(_quiet(row.ours), float), np.asarray(_quiet(row.theirs), float)
    if ours.shape != theirs.shape:
        raise SystemExit(f"{row.key}: ours gives {ours.size} numbers, {row.peer} {theirs.size}")
    finite = np.isfinite(theirs)
    if not np.array_equal(np.isfinite(ours), finite) or not np.array_equal(
        ours[~finite], theirs[~finite], equal_nan=True
    ):
        raise SystemExit(f"{row.key}: undefined values differ: {ours} vs {theirs}")
    scale = np.maximum(np.abs(theirs[finite]), 1e-12)
    difference = float(np.max(np.abs(ours[finite] - theirs[finite]) / scale, initial=0.0))
    if difference > row.rtol:
        raise SystemExit(
            f"{row.key}: ours and {row.peer} differ by {difference:.3g} (relative), more than "
            f"{row.rtol:g}: {ours} vs {theirs}"
        )
    return difference


def alternate(runs: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Seconds of each run, ``rounds`` times, every run once per round."""
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            _quiet(run)
            seconds[name].append(time.perf_counter() - start)
    return seconds


def _one_thread() -> None:
    """Run this script again with every thread pool at one thread, if it is not yet."""
    if all(os.environ.get(v) == "1" for v in THREAD_VARIABLES):
        return
    env = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, "1")}
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def _versions(packages: Sequence[str]) -> dict[str, str]:
    found = {}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def measure(rounds: int, brats2023: tuple[Path, Path] | None = None) -> dict[str, Any]:
    import torch

    from mri_metrics import similarity

    torch.set_num_threads(1)
    similarity.WORKERS = 1  # the slab threads: one thread, like every peer
    load_before = load_average()
    started = today()
    brain = brain_pair()
    glioma = glioma_pair()
    rows = [
        *surface_rows(region_masks()),
        *ssim_rows(brain[0], brain[1]),
        *lesion_rows(*glioma),
    ]
    scratch = tempfile.TemporaryDirectory()
    if brats2023 is not None:
        rows.append(brats2023_script_row(*glioma, *brats2023, Path(scratch.name)))
    differences = {}
    for row in rows:
        differences[row.key] = check_equal(row)
        print(f"[bench] {row.key}: equal (largest relative difference {differences[row.key]:.2g})")
    runs: dict[str, Callable[[], object]] = {}
    for row in rows:
        runs[f"ours {row.key}"] = row.ours
        runs[f"peer {row.key}"] = row.theirs
    extra = no_peer_paths(*brain)
    runs.update(extra)
    seconds: dict[str, list[float]] = {}
    for index in range(rounds):
        print(f"[bench] round {index + 1} of {rounds}", flush=True)
        for name, times in alternate(runs, 1).items():
            seconds.setdefault(name, []).extend(times)
    packages = sorted({row.package for row in rows} | {"numpy", "scipy", "torch", "panoptica"})
    return {
        "command": command_line(__file__, sys.argv[1:]),
        "machine": machine(cpu_model=True),
        "date": started,
        "threads": 1,
        "rounds": rounds,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "versions": {"mri-metrics": metadata.version("mri-metrics"), **_versions(packages)},
        "rows": [
            {
                "key": row.key,
                "path": row.path,
                "peer": row.peer,
                "package": row.package,
                "kind": row.kind,
                "profile": row.profile,
                "largest_relative_difference": differences[row.key],
                "tolerance": row.rtol,
                "ours_seconds": seconds[f"ours {row.key}"],
                "peer_seconds": seconds[f"peer {row.key}"],
                "shortfall": row.shortfall,
            }
            for row in rows
        ],
        "without_peer": [{"path": name, "seconds": seconds[name]} for name in extra],
    }


# ---------------------------------------------------------------------------------------------
# The page


def _time(values: Sequence[float]) -> str:
    fastest, median = min(values), statistics.median(values)
    if median < 1:
        return f"{fastest * 1e3:.1f} ms / {median * 1e3:.1f} ms"
    return f"{fastest:.2f} s / {median:.2f} s"


def speedup(row: dict[str, Any]) -> float:
    """The peer's fastest time over ours."""
    return float(min(row["peer_seconds"]) / min(row["ours_seconds"]))


def render(document: dict[str, Any]) -> str:
    rows = document["rows"]
    versions = ", ".join(f"{k} {v}" for k, v in document["versions"].items())
    lines = [
        "# mri-metrics speed against its peers",
        "",
        "<!-- Generated by packages/mri-metrics/benchmarks/bench_metrics.py from speed.json: "
        "do not edit. -->",
        "",
        f"Measured {document['date']} on {document['machine']}; load average "
        f"{document['load_average_before'][0]:.2f} before and "
        f"{document['load_average_after'][0]:.2f} after; one thread for everything; "
        f"{document['rounds']} alternating rounds. Command: `{document['command']}` "
        "(`nox -s bench -- metrics` installs the peers and runs it). Versions: "
        f"{versions}.",
        "",
        "Each row's numbers were checked equal before timing (largest relative difference "
        "shown, against the row's tolerance: float32 peers 1e-5). Times: fastest / median; "
        f"the speed-up is the peer's fastest over ours. The goal is {GOAL:g}x on every row.",
        "",
        "| what | peer | mri-metrics | equal (rel. diff.) | ours | peer | speed-up |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        peer = row["peer"] + (" (reimplementation)" if row["kind"] != "peer" else "")
        factor = speedup(row)
        mark = "" if factor >= GOAL else " (below goal)"
        lines.append(
            f"| {row['path']} | {peer} | {row['profile']} | "
            f"{row['largest_relative_difference']:.1g} (tol. {row['tolerance']:g}) | "
            f"{_time(row['ours_seconds'])} | {_time(row['peer_seconds'])} | "
            f"**{factor:.1f}x**{mark} |"
        )
    lines += ["", "Paths no peer computes (the suite's defaults), for scale:", ""]
    lines += ["| path | fastest / median |", "|---|---|"]
    lines += [f"| {r['path']} | {_time(r['seconds'])} |" for r in document["without_peer"]]
    short = [r for r in rows if speedup(r) < GOAL]
    if short:
        lines += ["", "## Where the goal is not met", ""]
        for row in short:
            reason = row["shortfall"] or "No reason recorded."
            lines.append(
                f"- **{row['path']}, against {row['peer']}: {speedup(row):.1f}x.** {reason}"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--out", type=Path, default=JSON_PATH, help="the JSON to write")
    parser.add_argument(
        "--render", action="store_true", help="only rewrite the page from the JSON at --out"
    )
    parser.add_argument(
        "--brats2023-script",
        type=Path,
        help="a checkout of github.com/rachitsaluja/BraTS-2023-Metrics: adds the challenge's "
        "own lesion-wise script as a peer (with --brats2023-python)",
    )
    parser.add_argument(
        "--brats2023-python",
        type=Path,
        help="an interpreter with that script's requirements.txt installed (pandas 1.x)",
    )
    args = parser.parse_args()
    if (args.brats2023_script is None) != (args.brats2023_python is None):
        parser.error("--brats2023-script and --brats2023-python go together")
    if not args.render:
        _one_thread()
        script = args.brats2023_script
        pair = None if script is None else (script, args.brats2023_python)
        document = measure(args.rounds, pair)
        args.out.write_text(json.dumps(document, indent=2) + "\n")
        print(f"[bench] wrote {args.out}")
    page = args.out.with_suffix(".md")
    page.write_text(render(json.loads(args.out.read_text())))
    print(f"[bench] wrote {page}")


if __name__ == "__main__":
    main()
