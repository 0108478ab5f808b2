"""The quality recipes: train each model family a fixed number of steps with a fixed seed on a
synthetic cohort, score it on held-out synthetic cases, and check the claims.

Shared by the ``quality`` tests (seed 0) and by ``measure.py`` (seeds 0, 1 and 2, which sets
the margins). Everything goes through the packages' public names and command lines: the
3D U-Net and the 2D segmenter through ``mri_seg``'s trainers, HF-GAN and UMMGAT through
``mri-gen train`` (the public command), the baseline through ``mri_bench.CopyMatched`` and the
scores through ``mri_metrics``. The one exception is :func:`ummgat_paired`, a ceiling rather
than a recipe: it trains UMMGAT's generator on pairs, which no public name offers, so it builds
the network and cuts the slices with ``mri_gen.ummgat``'s own modules. Each recipe takes
``lr_scale`` so that the same recipe can be run with a zeroed learning rate to show that the
checks then fail.

No recipe reads the clock to decide anything: step counts and seeds fix what is computed, and
with one torch thread the result is the same on every run of the same machine.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mri_bench import CopyMatched, estimate_reference
from mri_gen.hfgan import Synthesiser
from mri_gen.ummgat import PRESETS, Translator
from mri_gen.ummgat.data import normalised_uint8, to_model_range, training_slices
from mri_gen.ummgat.networks import UMMGATModel
from mri_gen.ummgat.training import TRAIN_RECIPES
from mri_io.case import load_case
from mri_io.labels import get_label_convention
from mri_io.layouts import link_cases, scan_cases
from mri_io.nifti import load_labels, load_volume, new_volume, save_volume
from mri_io.provenance import load_average
from mri_io.synthetic import FULL_GRID, generate_case, write_cohort
from mri_io.synthetic.cohort import write_case
from mri_io.training import RunFolder, torch_threads
from mri_metrics import mae, ssim
from mri_seg import (
    InferenceSettings,
    Segmenter2DConfig,
    TrainConfig,
    UNet3D,
    region_dice,
    score_cases,
    train_segmenter2d,
    train_unet,
)

#: Synthetic centres that acquire all four sequences.
COMPLETE_CENTRES = ("research-3t", "clinical-1.5t", "legacy-2d")
SEQUENCES = ("t1n", "t1c", "t2w", "t2f")
REGIONS = ("WT", "TC", "ET")
#: The BraTS field of view at 4 mm (60 x 60 x 39): the generators' cohorts, 64 px slices.
COARSE_GRID = FULL_GRID.coarsened(4)
GENERATOR_SIZE = 64
#: The quality results and the margins derived from them (written by measure.py).
RESULTS = Path(__file__).resolve().parents[1] / "docs" / "quality" / "results.json"


# -- helpers --------------------------------------------------------------------------------


def one_thread() -> AbstractContextManager[None]:
    """Torch on one CPU thread (deterministic and fair on a shared machine)."""
    return torch_threads(1)


def cohort(folder: Path, cases: int, seed: int, **options: Any) -> Path:
    """A synthetic cohort, written once (a second call with the same folder reuses it)."""
    if not (folder / "cohort.json").is_file():
        write_cohort(folder, cases, seed=seed, progress=False, **options)
    return folder


def cli(*args: str) -> None:
    """Run a package's public command line in a fresh process on one thread."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", *args], check=True, env=env, stdout=subprocess.DEVNULL)


def timed(function: Callable[..., dict[str, Any]], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``function``'s result plus its wall and CPU time and the load average around it."""
    load_before = load_average()
    wall, cpu = time.perf_counter(), time.process_time()
    before = os.times()
    result = function(*args, **kwargs)
    after = os.times()
    children = (after.children_user + after.children_system) - (
        before.children_user + before.children_system
    )
    result["cost"] = {
        "wall_seconds": round(time.perf_counter() - wall, 1),
        "cpu_seconds_this_process": round(time.process_time() - cpu, 1),
        "cpu_seconds_children_total": round(children, 1),
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }
    return result


def unit(image: np.ndarray[Any, Any], brain: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """BraSyn's evaluation scale, as mri-bench scores completions: the brain clipped to its
    0.5–99.5 percentiles and scaled to [0, 1], background 0."""
    values = np.asarray(image, dtype=np.float64)[brain]
    low, high = np.percentile(values, [0.5, 99.5])
    out = np.zeros(brain.shape, dtype=np.float64)
    out[brain] = np.clip((values - low) / (high - low if high > low else 1.0), 0.0, 1.0)
    return out


def image_scores(
    candidate: np.ndarray[Any, Any], truth: np.ndarray[Any, Any], brain: np.ndarray[Any, Any]
) -> dict[str, float]:
    """Foreground SSIM and MAE on the [0, 1] evaluation scale (as mri-bench scores)."""
    made, real = unit(candidate, brain), unit(truth, brain)
    return {
        "ssim": float(ssim(made, real, mask=brain, data_range=1.0)),
        "mae": float(mae(made, real, mask=brain)),
    }


def reference_of(folders: list[Path]) -> Any:
    """mri-bench's correlations and typical histograms of the complete training cases."""
    arrays = []
    for folder in folders:
        case = load_case(folder)
        if len(case.images) == len(SEQUENCES):
            arrays.append({k: np.asarray(v.data, dtype=np.float32) for k, v in case.images.items()})
    return estimate_reference(arrays)


def mean(values: list[float]) -> float:
    return round(float(np.mean(values)), 4)


# -- 3D U-Net and 2D segmenter ---------------------------------------------------------------

UNET_STEPS = 400
SEG2D_EPOCHS, SEG2D_STEPS_PER_EPOCH, SEG2D_BATCH = 3, 40, 8


def segmentation_cohorts(work: Path, seed: int) -> tuple[Path, Path, Path]:
    """22 glioblastoma cases (half grid) from the complete centres: the first 16 train, the
    last 6 are held out (``train`` and ``test`` link to the cases of ``all``)."""
    everything = cohort(work / "seg-all", 22, 1000 + seed, centres=COMPLETE_CENTRES, tumour="gbm")
    train, test = work / "seg-train", work / "seg-test"
    if not test.is_dir():
        cases = sorted(scan_cases(everything), key=lambda c: c.case_id)
        link_cases(cases[:16], train)
        link_cases(cases[16:], test)
    return everything, train, test


def unet3d(work: Path, seed: int, lr_scale: float = 1.0) -> dict[str, Any]:
    """The ``tiny`` 3D U-Net recipe of packages/mri-seg/benchmarks/train_tiny.py (48^3 crops,
    batch 4, Adam with a cosine schedule, 400 steps) at learning rate 1e-2, which reached WT
    Dice 0.8 on all three measured seeds where 3e-3 reached it on one; Dice of the last
    (= best) model on the held-out cases, per BraTS region."""
    _, train, test = segmentation_cohorts(work, seed)
    epochs = UNET_STEPS // 25
    config = TrainConfig(
        preset="tiny",
        epochs=epochs,
        steps_per_epoch=25,
        batch_size=4,
        crop=(48, 48, 48),
        learning_rate=1e-2 * lr_scale,
        val_fraction=0.2,
        val_every=epochs,
        overlap=0.25,
        seed=seed,
        device="cpu",
        workers=0,  # loading in this process: the same batches on every run
    )
    run = unet3d_run(work, seed, lr_scale)
    with one_thread():
        train_unet(train, run, config, progress=False)
        model = UNet3D.from_pretrained(RunFolder(run).last)
        scores = score_cases(model, scan_cases(test), InferenceSettings(overlap=0.5))
    return {
        "steps": UNET_STEPS,
        "dice": {r: mean([s[r] for s in scores.values()]) for r in ("WT", "TC", "ET")},
        "cases": len(scores),
    }


def unet3d_run(work: Path, seed: int, lr_scale: float = 1.0) -> Path:
    """The run folder :func:`unet3d` trains into."""
    return work / f"unet3d-{seed}-{lr_scale:g}"


#: Tilt of the oblique copy of the 1 mm cases, about the superior axis through the grid centre.
OBLIQUE_DEGREES = 12.0


def _oblique_copy(cases: Path, out: Path) -> None:
    """Every case of ``cases`` with the same voxels and an affine rotated by
    :data:`OBLIQUE_DEGREES`: the scan of a head tilted in the scanner, as its files store it."""
    staging = out.with_name(out.name + ".partial")
    angle = np.deg2rad(OBLIQUE_DEGREES)
    for files in scan_cases(cases):
        assert files.seg is not None
        reference = load_labels(files.seg)
        centre = reference.affine @ np.array([*(np.array(reference.shape) - 1) / 2, 1.0])
        rotation = np.eye(4)
        rotation[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
        shift, back = np.eye(4), np.eye(4)
        shift[:3, 3], back[:3, 3] = -centre[:3], centre[:3]
        affine = back @ rotation @ shift @ reference.affine
        folder = staging / files.case_id
        for path in [*files.sequences.values(), files.seg]:
            labels = path == files.seg
            volume = load_labels(path) if labels else load_volume(path)
            save_volume(new_volume(volume.data, affine), folder / path.name,
                        dtype=np.uint8 if labels else np.float32)  # fmt: skip
    staging.rename(out)


def _predict_and_score(model: Path, cases: Path, predictions: Path) -> dict[str, float]:
    """``mri-seg predict`` over ``cases`` (once), then the mean Dice per region against each
    case's reference on its own grid (the prediction must carry that grid's affine)."""
    if not predictions.is_dir():
        cli("mri_seg", "predict", "--model", str(model), "--cohort", str(cases),
            "--out", str(predictions), "--device", "cpu")  # fmt: skip
    return _scored(cases, predictions)


def _scored(cases: Path, predictions: Path) -> dict[str, float]:
    profile = get_label_convention("brats2023")
    per_case = []
    for files in scan_cases(cases):
        assert files.seg is not None
        predicted = load_labels(predictions / f"{files.case_id}-seg.nii.gz")
        reference = load_labels(files.seg)
        np.testing.assert_array_equal(predicted.affine, reference.affine)
        per_case.append(region_dice(predicted.data, reference.data, profile, REGIONS))
    return {r: mean([s[r] for s in per_case]) for r in REGIONS}


def unet3d_full_resolution(work: Path, seed: int) -> dict[str, Any]:
    """The :func:`unet3d` model (trained at 2 mm, here if not yet) on its 6 held-out cases,
    written at 2 mm (``half``), at 1 mm (``full``; the same phantoms: the synthetic cohort
    draws a case from its seed and index, whatever the grid), both through ``mri-seg predict``
    alone, and at 1 mm with an oblique affine (``oblique``: ``mri-io conform`` to the BraTS
    grid, ``mri-seg predict``, ``mri-io conform --inverse`` back to the tilted grid). WT, TC
    and ET Dice of each, scored on each grid's own reference labels."""
    _, _, test = segmentation_cohorts(work, seed)
    model = unet3d_run(work, seed)
    if not (model / "last").is_dir():
        unet3d(work, seed)
    half_cases = sorted(scan_cases(test), key=lambda c: c.case_id)
    full = work / "seg-test-1mm"
    if not full.is_dir():
        staging = work / "seg-test-1mm.partial"
        staging.mkdir(exist_ok=True)
        for files in half_cases:
            index = int(files.case_id.split("-")[2])
            write_case(
                generate_case(
                    index, seed=1000 + seed, grid="full", tumour="gbm", centre=COMPLETE_CENTRES
                ),
                staging,
            )
        staging.rename(full)
    dice = {
        name: _predict_and_score(model, cases, work / f"unet3d-{seed}-predictions-{name}")
        for name, cases in (("half", test), ("full", full))
    }
    oblique = work / "seg-test-1mm-oblique"
    if not oblique.is_dir():
        _oblique_copy(full, oblique)
    conformed = work / "seg-test-1mm-oblique-conformed"
    if not conformed.is_dir():
        cli("mri_io", "conform", str(oblique), "--out", str(conformed))
    on_grid = work / f"unet3d-{seed}-predictions-conformed"
    if not on_grid.is_dir():
        cli("mri_seg", "predict", "--model", str(model), "--cohort", str(conformed),
            "--out", str(on_grid), "--device", "cpu")  # fmt: skip
    mapped = work / f"unet3d-{seed}-predictions-oblique"
    mapped.mkdir(exist_ok=True)
    for files in half_cases:
        name = f"{files.case_id}-seg.nii.gz"
        record = conformed / files.case_id / "conform.json"
        if not (mapped / name).is_file():
            cli("mri_io", "conform", "--inverse", str(on_grid / name), "--record", str(record),
                "--out", str(mapped / name))  # fmt: skip
    dice["oblique"] = _scored(oblique, mapped)
    return {"steps": UNET_STEPS, "cases": len(half_cases), "dice": dice}


def segmenter2d(work: Path, seed: int, lr_scale: float = 1.0) -> dict[str, Any]:
    """HF-GAN's 2D segmenter on the 3D U-Net's cohorts: axial tumour slices, batch 8, Adam
    1e-3 with a cosine schedule, 3 x 40 steps. The run's validation cases are the held-out
    cases (its split file is written before training), and the score is the last epoch's
    pooled slice Dice per class: the model is not chosen by it."""
    pool, train, test = segmentation_cohorts(work, seed)
    run = work / f"seg2d-{seed}-{lr_scale:g}"
    run.mkdir()
    split = {
        "train": [c.case_id for c in scan_cases(train)],
        "val": [c.case_id for c in scan_cases(test)],
    }
    (run / "split.json").write_text(json.dumps(split))
    config = Segmenter2DConfig(
        views=("axial",),
        epochs=SEG2D_EPOCHS,
        steps_per_epoch=SEG2D_STEPS_PER_EPOCH,
        batch_size=SEG2D_BATCH,
        learning_rate=1e-3 * lr_scale,
        seed=seed,
        device="cpu",
    )
    with one_thread():
        train_segmenter2d(pool, run, config, progress=False)
    with open(RunFolder(run).log_file, newline="") as handle:
        last = list(csv.DictReader(handle))[-1]
    dice = {
        key.removeprefix("val_dice_"): round(float(value), 4)
        for key, value in last.items()
        if key.startswith("val_dice_") and key != "val_dice_mean"
    }
    return {
        "steps": SEG2D_EPOCHS * SEG2D_STEPS_PER_EPOCH,
        "slice_dice": dice,
        "slice_dice_mean": mean(list(dice.values())),
    }


# -- HF-GAN ---------------------------------------------------------------------------------

#: 800 steps: the step sweep (sweep.py, docs/quality/index.md) found seed 0 behind copy-matched
#: on t2w SSIM and the mean of four at 600 steps and ahead on every checked quantity at 800.
HFGAN_STEPS, HFGAN_BATCH = 800, 8
HFGAN_CENTRES = ("research-3t", "clinical-1.5t")


def hfgan_cohorts(work: Path, seed: int) -> tuple[Path, Path]:
    """HF-GAN's 12 training and 4 held-out complete cases (4 mm grid), written once."""
    options = {"centres": HFGAN_CENTRES, "grid": COARSE_GRID}
    train = cohort(work / "gen-train", 12, 3000 + seed, **options)
    return train, cohort(work / "gen-test", 4, 4000 + seed, **options)


def hfgan(work: Path, seed: int, lr_scale: float = 1.0, steps: int = HFGAN_STEPS) -> dict[str, Any]:
    """The ``tiny`` HF-GAN through ``mri-gen train`` (thesis loss weights, batch 8, lr 1e-3 at
    that batch, i.e. 8e-3 "at batch 64" as the command takes it, all other sequences as
    inputs) for a fixed number of steps on 12 complete cases (4 mm grid, 64 px slices); on 4
    held-out cases each sequence in turn is missing and its synthesis
    is scored against mri-bench's ``copy-matched`` baseline on the [0, 1] evaluation scale.
    ``steps`` other than the recipe's are for sweep.py (how the scores move with the budget)."""
    train, test = hfgan_cohorts(work, seed)
    run = work / f"hfgan-{seed}-{lr_scale:g}-{steps}"
    cli(
        "mri_gen", "train", "hfgan", "--data", str(train), "--out", str(run),
        "--preset", "tiny", "--image-size", str(GENERATOR_SIZE),
        "--steps", str(steps), "--batch-size", str(HFGAN_BATCH),
        "--lr", repr(1e-3 * 64 / HFGAN_BATCH * lr_scale), "--warmup", str(steps // 20),
        "--seed", str(seed), "--device", "cpu", "--threads", "1", "--workers", "0",
        "--checkpoint-every", str(steps),
    )  # fmt: skip
    baseline = CopyMatched(reference_of([c.folder for c in scan_cases(train)]))
    scores: dict[str, dict[str, list[float]]] = {}
    with one_thread():
        synthesiser = Synthesiser.from_pretrained(RunFolder(run).last)
        for files in scan_cases(test):
            case = load_case(files)
            for target in SEQUENCES:
                truth = np.asarray(case.images[target].data)
                brain = truth > 0
                inputs = replace(case, images={k: v for k, v in case.images.items() if k != target})
                candidates = {
                    "gen": synthesiser.synthesise(inputs)[target],
                    "copy": baseline.complete(inputs, [target])[target],
                }
                row = scores.setdefault(target, {})
                for name, image in candidates.items():
                    for metric, value in image_scores(image, truth, brain).items():
                        row.setdefault(f"{metric}_{name}", []).append(value)
    summary = {t: {k: mean(v) for k, v in row.items()} for t, row in scores.items()}
    summary["mean4"] = {k: mean([summary[t][k] for t in SEQUENCES]) for k in summary["t2w"]}
    return {"steps": steps, "batch_size": HFGAN_BATCH, "scores": summary}


# -- UMMGAT ---------------------------------------------------------------------------------

UMMGAT_STEPS = 600
UMMGAT_TARGET = "research-3t:t2f"


def ummgat_cohorts(work: Path, seed: int) -> tuple[Path, Path]:
    """UMMGAT's training cohort (32 unpaired cases of two centres) and its 6 held-out complete
    ``research-3t`` cases, 4 mm grid."""
    centres = ("research-3t", "local-t1-t2")
    train = cohort(work / "um-train", 32, 5000 + seed, centres=centres, grid=COARSE_GRID)
    test = cohort(work / "um-test", 6, 6000 + seed, centres=centres[:1], grid=COARSE_GRID)
    return train, test


def ummgat(
    work: Path,
    seed: int,
    lr_scale: float = 1.0,
    lesion: bool = True,
    steps: int = UMMGAT_STEPS,
    lr_decay_from: float | None = None,
    losses: str = "",
) -> dict[str, Any]:
    """The ``tiny`` UMMGAT with the ``short`` recipe (``mri_gen.ummgat.training.TRAIN_RECIPES``:
    lr 4e-4, lazy R1, EMA warm-up), at 64 px
    for a fixed number of steps, trained unpaired on a two-centre cohort (``research-3t``
    complete, ``local-t1-t2`` T1/T2 only); on 6 held-out complete cases the real t2w is
    translated into t2f (the mean style of seeded latent draws) and scored, like mri-bench's
    ``copy-matched`` baseline (the t2w histogram-matched to the typical t2f), against the real
    t2f on the [0, 1] evaluation scale over the brain. ``steps`` other than the recipe's are
    for sweep.py; ``lr_decay_from`` (a linear decay to zero from that fraction of the steps
    on, ``--lr-decay-from``) is for trying other schedules, ``losses`` (loss weights as
    ``--losses`` takes them, e.g. ``"cyc=10"``) and ``lr_scale`` for other weights and rates."""
    train, test = ummgat_cohorts(work, seed)
    lam = "lam" if lesion else "nolam"
    decay = "" if lr_decay_from is None else f"-decay{lr_decay_from:g}"
    weights = "" if not losses else "-" + losses.replace("=", "").replace(",", "-")
    run = work / f"ummgat-{seed}-{lr_scale:g}-{lam}-{steps}{decay}{weights}"
    args = [
        "mri_gen", "train", "ummgat", "--data", str(train), "--out", str(run),
        "--preset", "tiny", "--recipe", "short", "--steps", str(steps),
        "--lr", repr(4e-4 * lr_scale), "--image-size", str(GENERATOR_SIZE),
        "--seed", str(seed), "--device", "cpu", "--threads", "1",
        "--checkpoint-every", str(steps),
    ]  # fmt: skip
    if lr_decay_from is not None:
        args += ["--lr-decay-from", repr(lr_decay_from)]
    if losses:
        args += ["--losses", losses]
    cli(*args, *([] if lesion else ["--no-lesion"]))
    with one_thread():
        translator = Translator.from_pretrained(run)
        style = translator.latent_style(UMMGAT_TARGET)
        scores = translation_scores(
            lambda t2w: translator.translate_volume(t2w, style), train, test
        )
    return {
        "steps": steps,
        "lesion_aware": lesion,
        **({} if lr_decay_from is None else {"lr_decay_from": lr_decay_from}),
        **({} if not losses else {"losses": losses}),
        "scores": scores,
    }


def translation_scores(
    translate: Callable[[np.ndarray[Any, Any]], np.ndarray[Any, Any]], train: Path, test: Path
) -> dict[str, dict[str, float]]:
    """Mean SSIM and brain MAE of ``translate(t2w)`` (``gen``) and of copy-matched (``copy``,
    its reference estimated from the complete cases of ``train``) against the real t2f of
    every case of ``test``."""
    baseline = CopyMatched(reference_of([c.folder for c in scan_cases(train)]))
    scores: dict[str, dict[str, list[float]]] = {"gen": {}, "copy": {}}
    for files in scan_cases(test):
        case = load_case(files)
        t2w, truth = np.asarray(case.images["t2w"].data), np.asarray(case.images["t2f"].data)
        brain = truth > 0
        only_t2w = replace(case, images={"t2w": case.images["t2w"]})
        candidates = {"gen": translate(t2w), "copy": baseline.complete(only_t2w, ["t2f"])["t2f"]}
        for name, image in candidates.items():
            for metric, value in image_scores(image, truth, brain).items():
                scores[name].setdefault(metric, []).append(value)
    return {name: {k: mean(v) for k, v in row.items()} for name, row in scores.items()}


def paired_slices(folder: Path, source: str, target: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(M, 1, S, S)`` slices of ``source`` and the same slices of ``target`` in the model range,
    from every case of ``folder`` that has both, cut as UMMGAT's training cuts them (each volume
    to ``[0, 255]`` at its own clip, axial slices of the generator's size with enough brain)."""
    sources, targets = [], []
    for files in scan_cases(folder):
        if source not in files.sequences or target not in files.sequences:
            continue
        case = load_case(files)
        a, b = (np.asarray(case.images[name].data) for name in (source, target))
        layout, chosen = training_slices(a, GENERATOR_SIZE)
        sources.append(layout.slices(normalised_uint8(a), chosen, pad=0))
        targets.append(layout.slices(normalised_uint8(b), chosen, pad=0))
    return (
        to_model_range(torch.from_numpy(np.concatenate(sources))),
        to_model_range(torch.from_numpy(np.concatenate(targets))),
    )


def ummgat_paired(work: Path, seed: int, steps: int = UMMGAT_STEPS) -> dict[str, Any]:
    """A ceiling for :func:`ummgat`, not UMMGAT: the same generator (``tiny`` preset, 64 px)
    trained supervised, the L1 distance between ``G(t2w slice)`` and that slice's real t2f,
    on the complete ``research-3t`` cases of UMMGAT's training cohort (pairs the unpaired
    recipe never sees), with the ``short`` recipe's optimiser (Adam, its learning rate, betas and
    weight decay) and batch, the style fixed at zero (AdaIN then applies its biases only), and
    scored as :func:`ummgat` scores. What it reaches in ``steps`` is what this network can
    learn in that many steps when every answer is given, so the unpaired recipe cannot be
    expected to do better."""
    train, test = ummgat_cohorts(work, seed)
    with one_thread():
        torch.manual_seed(seed)
        model = UMMGATModel(PRESETS["tiny"].with_image_size(GENERATOR_SIZE))
        sources, targets = paired_slices(train, "t2w", "t2f")
        short = TRAIN_RECIPES["short"]
        optimiser = torch.optim.Adam(
            model.generator.parameters(),
            lr=short.lr,
            betas=short.betas,
            weight_decay=short.weight_decay,
        )
        style = torch.zeros(short.batch_size, model.config.style_dim)
        draws = torch.Generator().manual_seed(seed)
        model.train()
        for _ in range(steps):
            rows = torch.randint(len(sources), (short.batch_size,), generator=draws)
            loss = (model.generator(sources[rows], style) - targets[rows]).abs().mean()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
        translator = Translator(model.eval())
        scores = translation_scores(
            lambda t2w: translator.translate_volume(t2w, style[:1]), train, test
        )
    return {"steps": steps, "pairs": len(sources), "scores": scores}


# -- the checks -----------------------------------------------------------------------------


def measured(result: Mapping[str, Any], family: str) -> dict[str, float]:
    """The checked quantities of one result: Dice values, or advantages over the baseline
    (SSIM gain and MAE reduction; positive = better than copy-matched)."""
    if family == "unet3d":
        return {"WT Dice": result["dice"]["WT"]}
    if family == "segmenter2d":
        # At 120 steps only the largest class (edema) is learnt on every seed; NETC and ET
        # are reported (docs/quality/index.md), not checked.
        return {"SNFH slice Dice": result["slice_dice"]["SNFH"]}
    if family == "hfgan":
        out = {}
        for target in ("t2w", "t2f", "mean4"):
            row = result["scores"][target]
            out[f"{target} SSIM gain"] = round(row["ssim_gen"] - row["ssim_copy"], 4)
            out[f"{target} MAE reduction"] = round(row["mae_copy"] - row["mae_gen"], 4)
        return out
    if family == "ummgat":
        gen, copy = result["scores"]["gen"], result["scores"]["copy"]
        return {
            "t2w->t2f SSIM gain": round(gen["ssim"] - copy["ssim"], 4),
            "t2w->t2f MAE reduction": round(copy["mae"] - gen["mae"], 4),
        }
    raise ValueError(family)


#: The claim each checked quantity must meet whatever the seeds measured. The 2D segmenter has
#: no published figure at this budget: its claim is only that it learns the largest class at
#: all (SNFH Dice 0.3; an untrained one scores as the zeroed-learning-rate run in the docs).
CLAIMS: dict[str, float | None] = {"unet3d": 0.8, "segmenter2d": 0.3, "hfgan": 0.0, "ummgat": 0.0}


def thresholds(family: str) -> dict[str, float]:
    """The floors measure.py derived from three seeds (see docs/quality/index.md); a quantity
    not measured yet has its claim (0 where the family has none) as its floor."""
    recorded = json.loads(RESULTS.read_text())["thresholds"] if RESULTS.is_file() else {}
    return recorded.get(family, {})  # type: ignore[no-any-return]


#: Claims the recipes do not meet at their CPU budget (seed 0 measured, docs/quality/index.md):
#: the tests expect these checks to fail (strict xfail), so a model that starts meeting them
#: makes the set fail until the claim moves back among the asserted ones. Their floors measured
#: from three seeds are still asserted: a model that falls more than three seed-to-seed
#: deviations below what its recipe reaches fails, even before it beats the baseline.
SHORTFALLS: dict[str, frozenset[str]] = {
    "ummgat": frozenset({"t2w->t2f SSIM gain", "t2w->t2f MAE reduction"}),
}


def failures(
    result: Mapping[str, Any],
    family: str,
    floors: Mapping[str, float],
    *,
    shortfalls: bool = False,
) -> list[str]:
    """The checks ``result`` fails. ``shortfalls`` False: every quantity must reach its floor
    (a claim of 'beats' is strict: a gain of exactly 0 fails), a known shortfall its measured
    floor (none until three seeds are measured). True: the known shortfalls must meet their
    claim, which the recipe does not yet do."""
    problems = []
    known = SHORTFALLS.get(family, frozenset())
    claim = CLAIMS[family] or 0.0
    for name, value in measured(result, family).items():
        if shortfalls:
            if name in known and value <= claim:
                problems.append(f"{family}: {name} {value:.4f} does not beat its claim {claim:g}")
            continue
        floor = floors.get(name, None if name in known else claim)
        if floor is None:
            continue
        strict = name not in known and CLAIMS[family] == 0.0 and floor <= 0.0
        if value < floor or (strict and value <= floor):
            problems.append(f"{family}: {name} {value:.4f} below its floor {floor:.4f}")
    return problems
