"""GPU figures of the suite: training steps, 3D synthesis, 3D segmentation and the torch metrics.

One run on a CUDA machine measures, at the papers' network sizes:

- HF-GAN (``paper`` preset, 240x240 slices, batch 8): seconds per training step (one generator
  and one discriminator update per target sequence, every loss term) in fp32, bf16, and bf16
  with channels-last memory;
- HF-GAN synthesis of one missing sequence of a 240x240x155 case (``bench_synthesis.py`` of
  mri-gen, end to end) in fp32 and bf16 at two slice-batch sizes;
- the 3D U-Net ``brats`` preset: seconds per training step (batch 2 of 128^3 crops, Dice + BCE,
  Adam) in fp32 and float16 autocast, and sliding-window inference of a 240x240x155 case
  (``bench_inference.py`` of mri-seg);
- the torch metrics on batches: region Dice of 8 label maps, foreground SSIM of 4 volumes and
  FID features of 155 slices with the random-convolution encoder, against the numpy path of the
  same numbers on one CPU thread.

Each part is timed after warm-up calls, with the device synchronised around every timed call;
a part that fails is recorded with its error and the others still run. Writes JSON (command,
machine, date, load) and, with ``--render``, the docs page from it:

    python packages/mri-bench/benchmarks/gpu_times.py --out docs/gpu.json
    python packages/mri-bench/benchmarks/gpu_times.py --render docs/gpu.json

``--quick`` runs every part with tiny sizes on the CPU (a check of the script, not figures).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mri_io.provenance import load_average

HERE = Path(__file__).resolve()
ROOT = HERE.parents[3]
GEN_BENCH = ROOT / "packages" / "mri-gen" / "benchmarks" / "bench_synthesis.py"
SEG_BENCH = ROOT / "packages" / "mri-seg" / "benchmarks" / "bench_inference.py"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(call: Callable[[], object], device: torch.device, warmup: int, repeats: int) -> dict:
    """Median and fastest seconds of ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    _sync(device)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        _sync(device)
        times.append(time.perf_counter() - started)
    return {
        "seconds_median": round(statistics.median(times), 5),
        "seconds_fastest": round(min(times), 5),
        "repeats": repeats,
    }


def _peak_memory(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**30, 2)


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def hfgan_training(device: torch.device, quick: bool) -> list[dict]:
    from mri_gen.hfgan.config import PRESETS
    from mri_gen.hfgan.training import HFGANTrainer, TrainConfig
    from mri_io.training import DistributedEnv

    name = "tiny" if quick else "paper"
    config = PRESETS[name]
    size = config.generator.image_size
    batch_size = 2 if quick else 8
    env = DistributedEnv(rank=0, world_size=1, local_rank=0, device=device)
    generator = torch.Generator().manual_seed(0)
    batch = {
        "image": torch.rand(batch_size, 4, size, size, generator=generator) * 2 - 1,
        "labels": torch.randint(0, 4, (batch_size, size, size), generator=generator),
        "view": torch.full((batch_size,), 2),
    }
    rows = []
    for mode in ("fp32", "bf16", "bf16+channels_last"):
        _reset_peak(device)
        train = TrainConfig(
            steps=100,
            batch_size=batch_size,
            bf16=mode.startswith("bf16"),
            channels_last=mode.endswith("channels_last"),
        )
        trainer = HFGANTrainer(config, train, env)
        timing = _timed(lambda t=trainer: t.step(batch), device, 2, 2 if quick else 8)
        rows.append(
            {
                "preset": name,
                "mode": mode,
                "slice": [size, size],
                "batch_size": batch_size,
                **timing,
                "slices_per_second": round(batch_size / timing["seconds_median"], 1),
                "peak_memory_gib": _peak_memory(device),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
        del trainer
    return rows


def _script_json_lines(command: list[str]) -> list[dict]:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def hfgan_synthesis(device: torch.device, quick: bool) -> list[dict]:
    rows = []
    runs = [("32", False), ("32", True), ("64", True)]
    for batch_size, bf16 in runs[:1] if quick else runs:
        command = [
            sys.executable, str(GEN_BENCH), "--preset", "tiny" if quick else "paper",
            "--device", device.type, "--batch-size", batch_size,
            "--repeats", "1" if quick else "3", *(["--bf16"] if bf16 else []),
        ]  # fmt: skip
        try:
            found = _script_json_lines(command)
        except RuntimeError as exc:  # one batch size may not fit: record it, time the others
            found = [{"error": str(exc).strip().splitlines()[-1], "bf16": bf16}]
        for row in found:
            if "command" in row:  # the script's path as the repository names it
                row["command"] = row["command"].replace(f"{ROOT}/", "")
            row["batch_size"] = int(batch_size)
            row["part"] = "end to end"
            rows.append(row)
            print(json.dumps(row), flush=True)
    try:
        rows += _synthesis_stages(device, quick)
    except Exception:  # the end-to-end rows above must not be lost with the stages
        rows.append({"part": "stages", "error": traceback.format_exc(limit=2)[-300:]})
    return rows


def _synthesis_stages(device: torch.device, quick: bool, compiled: bool = False) -> list[dict]:
    """Where a synthesis spends its time: each stage of ``Synthesiser.synthesise`` (all on the
    device since synthesis became device-resident), and the generator alone on slices already
    there (with memory-format variants)."""
    import tempfile
    from dataclasses import replace

    from mri_gen.hfgan.config import PRESETS
    from mri_gen.hfgan.generator import HFGANGenerator
    from mri_gen.hfgan.inference import Synthesiser
    from mri_gen.hfgan.run import resolve_stats
    from mri_io import tensors
    from mri_io.case import load_case
    from mri_io.intensity import NormalisationParams
    from mri_io.layouts import scan_cases
    from mri_io.slicing import SliceLayout
    from mri_io.synthetic.cohort import write_cohort

    name = "tiny" if quick else "paper"
    config = PRESETS[name].generator
    with tempfile.TemporaryDirectory() as folder:
        grid = "half" if quick else "full"
        write_cohort(Path(folder), 1, seed=0, centres=("research-3t",), grid=grid, progress=False)
        case = load_case(scan_cases(folder)[0])
    case = replace(case, images={k: v for k, v in case.images.items() if k != "t2f"})
    torch.manual_seed(0)
    generator = HFGANGenerator(config).to(device).eval()
    stats = resolve_stats("brasyn25", [], config.sequences)
    available = [name in case.images for name in config.sequences]
    mask = torch.tensor(available, device=device)
    params = NormalisationParams.of_dataset(stats["t2f"])
    rows = []

    def add(stage: str, call: Callable[[], object], **extra: object) -> None:
        timing = _timed(call, device, 1, 1 if quick else 3)
        rows.append({"preset": name, "part": stage, **extra, **timing})
        print(json.dumps(rows[-1]), flush=True)

    probe = Synthesiser(generator, stats, device, 64, True)
    stack, background = probe._inputs(case, available)
    if not compiled:
        add(
            "inputs to the device, normalised, background vote",
            lambda: probe._inputs(case, available),
        )
        for batch_size, bf16 in [(32, False), (64, True)]:
            synthesiser = Synthesiser(generator, stats, device, batch_size, bf16)
            add(
                "slicing, generation, re-stacking (device)",
                lambda s=synthesiser: s._generate_view(stack, mask, 3, "axial"),
                bf16=bf16, batch_size=batch_size,
            )  # fmt: skip
        generated = probe._generate_view(stack, mask, 3, "axial")
        add(
            "de-normalised, back to the host",
            lambda: tensors.denormalise(generated, params, ~background).cpu().numpy(),
        )
        add("whole synthesise()", lambda: probe.synthesise(case), bf16=True, batch_size=64)
    axial = SliceLayout.square(tuple(stack.shape[1:]), "axial", size=config.image_size)
    slices = tensors.slices(stack, axial, pad=-1.0)
    variants = [(32, False, "contiguous"), (64, True, "contiguous"), (64, True, "channels_last")]
    if compiled:
        variants = [(64, True, "compiled")]
    for batch_size, bf16, layout in variants:
        memory = torch.channels_last if layout == "channels_last" else torch.contiguous_format
        generator.to(memory_format=memory)  # type: ignore[call-overload]
        network: Any = torch.compile(generator) if layout == "compiled" else generator

        @torch.no_grad()
        def run(
            batch_size: int = batch_size,
            bf16: bool = bf16,
            memory: Any = memory,
            network: Any = network,
        ) -> None:
            for start in range(0, len(slices), batch_size):
                x = slices[start : start + batch_size].contiguous(memory_format=memory)
                n = len(x)
                target = torch.full((n,), 3, device=device)
                view = torch.full((n,), 2, device=device)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    network(x, mask.expand(n, -1), target, view).image.float()

        try:
            add("generator only", run, bf16=bf16, batch_size=batch_size, layout=layout)
        except RuntimeError as exc:
            error = str(exc)[:300]
            rows.append({"part": "generator only", "batch_size": batch_size, "error": error})
    return rows


def hfgan_compiled(device: torch.device, quick: bool) -> list[dict]:
    """The generator alone under ``torch.compile`` (the first call compiles, untimed)."""
    return _synthesis_stages(device, quick, compiled=True)


def unet_training(device: torch.device, quick: bool) -> list[dict]:
    from mri_seg.targets import TargetSpec
    from mri_seg.unet import UNet3D
    from mri_seg.unet.losses import dice_ce_loss

    name = "tiny" if quick else "brats"
    side = 32 if quick else 128
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(2, 4, side, side, side, generator=generator).to(device)
    targets = (torch.rand(2, 3, side, side, side, generator=generator) < 0.1).float().to(device)
    rows = []
    for mode in ("fp32", "fp16 autocast") if device.type == "cuda" else ("fp32",):
        _reset_peak(device)
        torch.manual_seed(0)
        model = UNet3D.from_preset(name).to(device).train()
        loss_function = dice_ce_loss(TargetSpec())
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
        amp = mode.startswith("fp16")
        scaler = torch.amp.GradScaler(device.type, enabled=amp)

        def step(
            loss_function: torch.nn.Module = loss_function,
            model: UNet3D = model,
            optimiser: torch.optim.Optimizer = optimiser,
            scaler: torch.amp.GradScaler = scaler,
            amp: bool = amp,
        ) -> None:
            optimiser.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                value = loss_function(model(images), targets)
            scaler.scale(value).backward()
            scaler.step(optimiser)
            scaler.update()

        timing = _timed(step, device, 2, 2 if quick else 10)
        rows.append(
            {
                "preset": name,
                "mode": mode,
                "crop": [side] * 3,
                "batch_size": 2,
                **timing,
                "peak_memory_gib": _peak_memory(device),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def unet_inference(device: torch.device, quick: bool) -> list[dict]:
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        # Its own --out: the script's default is the CPU figures' JSON under docs/.
        command = [
            sys.executable, str(SEG_BENCH), "--presets", "tiny" if quick else "brats",
            "--devices", device.type, "--repeats", "1" if quick else "3",
            "--out", str(Path(scratch) / "inference-speed.json"),
        ]  # fmt: skip
        rows = _script_json_lines(command)
    for row in rows:
        print(json.dumps(row), flush=True)
    return rows


def _brain_volumes(count: int, shape: tuple[int, int, int], seed: int) -> tuple[np.ndarray, ...]:
    """Smooth images, a noisy copy, ellipsoid brain masks and nested-label tumour maps."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    ref = ndimage.gaussian_filter(rng.normal(size=(count, *shape)), (0, 2, 2, 2)) * 300 + 1000
    pred = ref + rng.normal(0, 30, size=ref.shape)
    grid = np.ogrid[: shape[0], : shape[1], : shape[2]]
    radius = np.sqrt(sum(((g - n / 2) / (0.4 * n)) ** 2 for g, n in zip(grid, shape, strict=True)))
    brain = np.broadcast_to(radius < 1, ref.shape).copy()
    labels = np.zeros((2, count, *shape), dtype=np.uint8)
    for k in range(2):
        shift = rng.uniform(-0.02, 0.02, size=count)[:, None, None, None]
        off = (radius[None] + shift + 0.01 * k - 0.3) * np.ones((count, 1, 1, 1))
        labels[k][off < 0.12] = 2
        labels[k][off < 0.06] = 1
        labels[k][(off > 0.04) & (off < 0.06)] = 3
    return ref.astype(np.float32), pred.astype(np.float32), brain, labels[0], labels[1]


def torch_metrics(device: torch.device, quick: bool) -> list[dict]:
    from mri_metrics import similarity

    workers, similarity.WORKERS = similarity.WORKERS, 1  # one numpy thread, as the CPU table
    try:
        return _torch_metrics(device, quick)
    finally:
        similarity.WORKERS = workers


def _torch_metrics(device: torch.device, quick: bool) -> list[dict]:
    from mri_metrics import region_masks
    from mri_metrics.overlap import dice as numpy_dice
    from mri_metrics.similarity import ssim as numpy_ssim
    from mri_metrics.torch import RandomConvEncoder, region_dice, ssim

    shape = (48, 48, 32) if quick else (240, 240, 155)
    count = 2 if quick else 4
    ref, pred, brain, labels_a, labels_b = _brain_volumes(count, shape, seed=0)
    rows = []

    def numpy_region_dice(a: np.ndarray, b: np.ndarray) -> list[float]:
        masks_a, masks_b = region_masks(a), region_masks(b)
        return [numpy_dice(masks_a[r], masks_b[r]) for r in masks_b]

    maps_a = torch.from_numpy(labels_a).to(device)
    maps_b = torch.from_numpy(labels_b).to(device)
    got = region_dice(maps_a, maps_b)
    expected = np.array([numpy_region_dice(a, b) for a, b in zip(labels_a, labels_b, strict=True)])
    equal = bool(np.array_equal(np.stack([v.cpu().numpy() for v in got.values()], 1), expected))
    batched = _timed(lambda: region_dice(maps_a, maps_b), device, 2, 10)
    per_case = _timed(
        lambda: numpy_region_dice(labels_a[0], labels_b[0]), torch.device("cpu"), 1, 3
    )
    rows.append(
        {
            "metric": "region Dice (WT, TC, ET)",
            "batch": [count, *shape],
            "equal_to_numpy": equal,
            "device_seconds_per_case": round(batched["seconds_median"] / count, 5),
            "numpy_cpu_seconds_per_case": per_case["seconds_median"],
        }
    )
    print(json.dumps(rows[-1]), flush=True)

    for dtype in (torch.float32, torch.float64):
        x = torch.from_numpy(pred).to(device, dtype)
        y = torch.from_numpy(ref).to(device, dtype)
        masks = torch.from_numpy(brain).to(device)
        scores = ssim(x, y, mask=masks, spatial_dims=3, data_range=4000.0).double().cpu().numpy()
        batched = _timed(
            lambda x=x, y=y, m=masks: ssim(x, y, mask=m, spatial_dims=3, data_range=4000.0),
            device, 1, 5,
        )  # fmt: skip
        expected_ssim = [numpy_ssim(pred[0], ref[0], mask=brain[0], data_range=4000.0)]
        per_case = _timed(
            lambda: numpy_ssim(pred[0], ref[0], mask=brain[0], data_range=4000.0),
            torch.device("cpu"), 0, 2,
        )  # fmt: skip
        rows.append(
            {
                "metric": f"foreground SSIM, {str(dtype).removeprefix('torch.')}",
                "batch": [count, *shape],
                "largest_difference_to_numpy": float(abs(scores[0] - expected_ssim[0])),
                "device_seconds_per_case": round(batched["seconds_median"] / count, 5),
                "numpy_cpu_seconds_per_case": per_case["seconds_median"],
            }
        )
        print(json.dumps(rows[-1]), flush=True)

    slices = torch.from_numpy(ref[0].transpose(2, 0, 1)[:, None] / 4000.0).to(device)
    encoder = RandomConvEncoder(spatial_dims=2, seed=0).to(device).eval()
    with torch.no_grad():
        features = _timed(lambda: encoder(slices), device, 2, 10)
    rows.append(
        {
            "metric": "FID features (random-convolution encoder, 2D)",
            "batch": list(slices.shape),
            "device_seconds_per_case": features["seconds_median"],
            "numpy_cpu_seconds_per_case": None,
        }
    )
    print(json.dumps(rows[-1]), flush=True)
    return rows


PARTS: dict[str, Callable[[torch.device, bool], list[dict]]] = {
    "hfgan_training": hfgan_training,
    "hfgan_synthesis": hfgan_synthesis,
    "hfgan_compiled": hfgan_compiled,
    "unet_training": unet_training,
    "unet_inference": unet_inference,
    "torch_metrics": torch_metrics,
}


def _machine(device: torch.device) -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch_threads": torch.get_num_threads(),
    }


def measure(out: Path, parts: list[str], quick: bool, append: bool = False) -> dict:
    device = torch.device("cpu" if quick else "cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device is visible to torch (use --quick for a CPU check)")
    if append:
        record = json.loads(out.read_text())
        record["appended"] = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
        return _measure_into(record, out, parts, device, quick)
    record: dict[str, Any] = {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": _machine(device),
        "load_average_before": load_average(),
        "quick": quick,
        "parts": {},
        "errors": {},
    }
    return _measure_into(record, out, parts, device, quick)


def _measure_into(
    record: dict[str, Any], out: Path, parts: list[str], device: torch.device, quick: bool
) -> dict:
    for name in parts:
        record["errors"].pop(name, None)
        started = time.perf_counter()
        try:
            record["parts"][name] = PARTS[name](device, quick)
        except Exception:  # one failing part must not lose the others' figures
            record["errors"][name] = traceback.format_exc()[-3000:]
            print(record["errors"][name], file=sys.stderr, flush=True)
        print(f"{name}: {time.perf_counter() - started:.1f} s", flush=True)
        record["load_average_after"] = load_average()
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(f".{out.name}.partial")
        partial.write_text(json.dumps(record, indent=1) + "\n")
        partial.replace(out)
    return record


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if value < 100 else f"{value:.0f}"
    if isinstance(value, list):
        return "x".join(str(v) for v in value)
    return str(value)


def _table(rows: list[dict], columns: list[tuple[str, str]]) -> list[str]:
    lines = ["| " + " | ".join(title for title, _ in columns) + " |"]
    lines.append("|" + "---|" * len(columns))
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(key)) for _, key in columns) + " |")
    return lines


def _synthesis_summary(rows: list[dict]) -> list[str]:
    """Where a bf16 synthesis of one volume spends its time, against the goal of 0.5 s."""

    def fastest(part: str) -> float:
        found = [r["seconds"] for r in rows if r.get("part") == part and r.get("bf16")]
        return min((v for v in found if v is not None), default=math.nan)

    def stage(part: str) -> float:
        found = [r["seconds"] for r in rows if r.get("part") == part and r["seconds"]]
        return min(found, default=math.nan)

    whole = fastest("end to end")
    verdict = "meets" if whole < 0.5 else "misses"
    lines = [
        "End to end (`bench_synthesis.py`: normalisation, slicing, batched generation, "
        f"re-stacking, background vote, de-normalisation; axial slices) in bf16: {whole:.2f} s "
        f"per volume, which {verdict} the goal of 0.5 s. The generator alone on slices already "
        f"on the device takes {fastest('generator only'):.2f} s"
    ]
    host = [r for r in rows if str(r.get("part", "")).endswith("(host)") and r["seconds"]]
    if host:  # measured before synthesis ran on the device
        lines[0] += (
            "; with the host cutting the slices and the copies to and from the device, "
            f"{fastest('generation with transfers'):.2f} s; the host's normalisation, "
            f"background vote and de-normalisation add {sum(r['seconds'] for r in host):.2f} s. "
            "This record predates the device-resident synthesis (every step on the model's "
            "device, the case crossing once each way); it has not been measured on a GPU yet."
        )
    else:
        lines[0] += (
            "; every stage runs on the device: the inputs' copy to it with normalisation and "
            "background vote "
            f"{stage('inputs to the device, normalised, background vote'):.2f} s, slicing, "
            "generation and re-stacking "
            f"{fastest('slicing, generation, re-stacking (device)'):.2f} s, de-normalisation "
            f"and the copy back {stage('de-normalised, back to the host'):.2f} s."
        )
    fp32 = min(
        (r["seconds"] for r in rows if r.get("part") == "end to end" and r.get("bf16") is False),
        default=math.nan,
    )
    if whole > 0.8 * fp32:  # less than a fifth faster
        lines[0] += (
            f" bf16 gains little over fp32 ({fp32:.2f} s), which suggests that memory traffic "
            "and kernel launches bound the generator rather than its matrix products; this run "
            "did not profile it."
        )
    return lines


def render(record: dict) -> str:
    """The docs page of one measurement, every number read from ``record``."""
    machine = record["machine"]
    parts = record["parts"]
    lines = [
        "# GPU figures",
        "",
        f"Measured {record['date'][:10]} on one {machine['device']} (torch {machine['torch']}, "
        f"{machine['cpus']} CPUs, load before {record['load_average_before'][0]:.2f}) with",
        "",
        "```",
        f"python packages/mri-bench/benchmarks/{record['command']}",
        "```",
        "",
        "Median seconds after warm-up calls, the device synchronised around each timed call "
        "(JSON: [gpu.json](gpu.json)). Untrained weights: speed does not depend on them. The "
        "torch is the GPU machine's own build, not the version pinned for CPU machines.",
        "",
    ]
    if "hfgan_training" in parts:
        lines += ["## HF-GAN training step", "", "One step: a generator and a discriminator "
                  "update per target sequence (four of each), every loss term.", ""]  # fmt: skip
        lines += _table(
            parts["hfgan_training"],
            [("preset", "preset"), ("mode", "mode"), ("slices", "slice"),
             ("batch", "batch_size"), ("s / step", "seconds_median"),
             ("slices / s", "slices_per_second"), ("peak GiB", "peak_memory_gib")],
        )  # fmt: skip
        lines.append("")
    if "hfgan_synthesis" in parts:
        rows = [
            {**row, "seconds": row.get("seconds_per_volume_median", row.get("seconds_median"))}
            for row in parts["hfgan_synthesis"]
        ]
        lines += ["## HF-GAN synthesis of one 240x240x155 sequence", ""]
        lines += [*_synthesis_summary(rows), ""]
        lines += _table(
            rows,
            [("preset", "preset"), ("part", "part"), ("bf16", "bf16"),
             ("slices per batch", "batch_size"), ("layout", "layout"), ("s", "seconds"),
             ("first call", "first_call_seconds"), ("error", "error")],
        )  # fmt: skip
        lines.append("")
    if "unet_training" in parts:
        lines += ["## 3D U-Net training step", ""]
        lines += _table(
            parts["unet_training"],
            [("preset", "preset"), ("mode", "mode"), ("crop", "crop"), ("batch", "batch_size"),
             ("s / step", "seconds_median"), ("peak GiB", "peak_memory_gib")],
        )  # fmt: skip
        lines.append("")
    if "unet_inference" in parts:
        lines += ["## 3D U-Net sliding-window inference of a 240x240x155 case", ""]
        lines += _table(
            parts["unet_inference"],
            [("preset", "preset"), ("window", "roi"), ("overlap", "overlap"),
             ("s / case", "seconds_per_case")],
        )  # fmt: skip
        lines.append("")
    if "torch_metrics" in parts:
        lines += ["## Torch metrics on batches", "", "Seconds per case of a batch on the GPU "
                  "against the numpy path on one CPU thread of the same machine.", ""]  # fmt: skip
        lines += _table(
            parts["torch_metrics"],
            [("metric", "metric"), ("batch", "batch"), ("equal", "equal_to_numpy"),
             ("difference to numpy", "largest_difference_to_numpy"),
             ("GPU s / case", "device_seconds_per_case"),
             ("numpy s / case", "numpy_cpu_seconds_per_case")],
        )  # fmt: skip
        lines.append("")
    for name, error in record["errors"].items():
        lines += [
            f"`{name}` failed in this run:",
            "",
            "```",
            error.strip().splitlines()[-1],
            "```",
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "gpu.json")
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=sorted(PARTS),
        default=[p for p in PARTS if "compiled" not in p],
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes on the CPU")
    parser.add_argument("--render", type=Path, help="only write the page of this JSON")
    parser.add_argument("--append", action="store_true", help="add the parts to --out's JSON")
    args = parser.parse_args()
    if args.render:
        record = json.loads(args.render.read_text())
        args.render.with_suffix(".md").write_text(render(record))
        return
    record = measure(args.out, args.parts, args.quick, args.append)
    if not args.quick:
        args.out.with_suffix(".md").write_text(render(record))


if __name__ == "__main__":
    main()
