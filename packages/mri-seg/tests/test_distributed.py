"""DDP under torchrun on CPU (gloo): two processes train like one with twice the batch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from mri_seg.unet import TrainConfig, train_unet

OPTIONS = [
    "--epochs",
    "1",
    "--steps-per-epoch",
    "2",
    "--crop",
    "16",
    "16",
    "16",
    "--val-fraction",
    "0.25",
    "--device",
    "cpu",
    "--seed",
    "4",
]


def test_torchrun_two_processes_match_one_process_with_double_batch(
    cohort: Path, tmp_path: Path
) -> None:
    run = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "mri_seg",
        "train",
        "unet",
        "--data",
        str(cohort),
        "--out",
        str(run),
        "--preset",
        "tiny",
        "--batch-size",
        "1",
        *OPTIONS,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("trained 1 epochs") == 1  # only rank 0 reports
    ddp = load_file(str(run / "last" / "model.safetensors"))
    # Same samples, gradients summed in another order: equal up to float rounding, which
    # Adam can magnify where a gradient is near 0, so allow a tenth of one step (lr 1e-3).
    double_batch = _single_process(cohort, tmp_path / "double", batch_size=2)
    # Rank 0's samples alone: a different gradient, so weights differ by whole steps.
    rank0_only = _single_process(cohort, tmp_path / "rank0", batch_size=1)
    for name, value in double_batch.items():
        torch.testing.assert_close(ddp[name], value, rtol=0, atol=1e-4)
    largest = max(float((ddp[name] - rank0_only[name]).abs().max()) for name in ddp)
    assert largest > 5e-4


def _single_process(cohort: Path, run: Path, batch_size: int) -> dict[str, torch.Tensor]:
    config = TrainConfig(
        epochs=1,
        steps_per_epoch=2,
        batch_size=batch_size,
        crop=(16, 16, 16),
        val_fraction=0.25,
        device="cpu",
        seed=4,
    )
    train_unet(cohort, run, config, progress=False)
    return load_file(str(run / "last" / "model.safetensors"))
