"""Training runs on disk: the run folder, exact resume, the CLI, and DDP under torchrun."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mri_gen.cli import main
from mri_gen.hfgan.config import PRESETS
from mri_gen.hfgan.generator import HFGANGenerator
from mri_gen.hfgan.inference import Synthesiser
from mri_gen.hfgan.run import RunSpec, train_hfgan
from mri_gen.hfgan.training import TrainConfig
from mri_io.errors import RunFolderError
from mri_io.training import init_distributed

ENV = init_distributed("cpu")
MODEL = replace(
    PRESETS["tiny"],
    generator=replace(PRESETS["tiny"].generator, base_channels=8, infuser_layers=1),
    discriminator=replace(PRESETS["tiny"].discriminator, base_channels=8),
)


def _spec(steps: int) -> RunSpec:
    return RunSpec(
        MODEL,
        TrainConfig(steps=steps, batch_size=2, warmup_steps=1),
        ("axial",),
        checkpoint_every=1,
    )


def test_run_folder_holds_a_loadable_model_and_a_log(cohort: Path, tmp_path: Path) -> None:
    folder = train_hfgan(cohort, tmp_path / "run", _spec(2), ENV, progress=False, stats="brasyn25")
    names = {p.name for p in folder.iterdir()}
    assert names == {"run.json", "log.csv", "state.pt", "last", "stats.json"}
    assert {p.name for p in (folder / "last").iterdir()} == {"config.json", "model.safetensors"}
    rows = list(csv.DictReader((folder / "log.csv").open()))
    assert [row["step"] for row in rows] == ["1", "2"]
    assert float(rows[0]["l1"]) > 0
    document = json.loads((folder / "last" / "config.json").read_text())
    assert document["config"]["stats"]["t1c"]["clip"] == 8664.0
    # The half-grid cohort's 2 mm voxels: inference resamples other grids to them.
    assert document["config"]["spacing"] == [2.0, 2.0, 2.0]
    assert document["config"]["orientation"] == ["L", "P", "S"]
    assert document["config"]["normalisation"] == "zscore-dataset"
    assert Synthesiser.from_pretrained(folder).spacing == (2.0, 2.0, 2.0)
    assert HFGANGenerator.from_pretrained(folder).config == MODEL.generator


def test_resumed_run_equals_an_uninterrupted_one(cohort: Path, tmp_path: Path) -> None:
    straight = train_hfgan(cohort, tmp_path / "a", _spec(3), ENV, progress=False)
    train_hfgan(cohort, tmp_path / "b", _spec(3), ENV, progress=False, until=2)
    resumed = train_hfgan(cohort, tmp_path / "b", _spec(3), ENV, progress=False, resume=True)
    a = load_file(str(straight / "last" / "model.safetensors"))
    b = load_file(str(resumed / "last" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (straight / "stats.json").read_text() == (resumed / "stats.json").read_text()
    assert (straight / "log.csv").read_text() == (resumed / "log.csv").read_text()
    with pytest.raises(RunFolderError, match="holds a run already"):
        train_hfgan(cohort, tmp_path / "a", _spec(3), ENV, progress=False)
    with pytest.raises(RunFolderError, match=r"other settings \(train\)"):
        train_hfgan(cohort, tmp_path / "a", _spec(4), ENV, progress=False, resume=True)


def test_a_run_of_the_earlier_layout_says_how_to_convert_it_and_then_resumes(
    cohort: Path, tmp_path: Path
) -> None:
    """mri-gen 0.1 kept losses.csv and the model in the run folder itself."""
    old = train_hfgan(cohort, tmp_path / "old", _spec(3), ENV, progress=False, until=2)
    (old / "log.csv").rename(old / "losses.csv")
    for name in ("config.json", "model.safetensors"):
        (old / "last" / name).rename(old / name)
    (old / "last").rmdir()
    with pytest.raises(RunFolderError, match=r"mri-gen 0\.1") as info:
        train_hfgan(cohort, old, _spec(3), ENV, progress=False, resume=True)
    subprocess.run(str(info.value).split("with: ")[1], shell=True, cwd=old, check=True)
    resumed = train_hfgan(cohort, old, _spec(3), ENV, progress=False, resume=True)
    assert [row["step"] for row in csv.DictReader((resumed / "log.csv").open())] == ["1", "2", "3"]
    straight = train_hfgan(cohort, tmp_path / "straight", _spec(3), ENV, progress=False)
    a = load_file(str(straight / "last" / "model.safetensors"))
    b = load_file(str(resumed / "last" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_cli_trains_then_synthesises(cohort: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = ["train", "hfgan", "--data", str(cohort), "--out", str(run), "--preset", "tiny"]
    args += ["--steps", "1", "--batch-size", "2", "--views", "axial,coronal", "--view-embedding"]
    args += ["--ema", "0.9", "--losses", "adv=0.5", "--stats", "brasyn25", "--inputs", "subsets"]
    assert main(args) == 0
    generator = HFGANGenerator.from_pretrained(run)
    assert generator.config.view_embedding
    train = json.loads((run / "run.json").read_text())["train"]
    assert train["weights"]["adv"] == 0.5
    assert train["inputs"] == "subsets"


def test_cli_names_a_missing_extra_and_bad_options(
    cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["train", "hfgan", "--data", str(cohort), "--out", str(tmp_path / "r")]
    assert main([*base, "--losses", "tversky=5"]) == 2
    assert "--segmenter" in capsys.readouterr().err
    assert main([*base, "--preset", "tiny", "--losses", "l3=1"]) == 2
    assert "bad loss weight" in capsys.readouterr().err


def test_ddp_under_torchrun_with_gloo(cohort: Path, tmp_path: Path) -> None:
    """Two CPU processes: both ranks train, rank 0 writes a model that loads."""
    run = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2"]
    command += ["--standalone", "-m", "mri_gen", "train", "hfgan", "--data", str(cohort)]
    command += ["--out", str(run), "--steps", "2", "--batch-size", "2", "--device", "cpu"]
    command += ["--stats", "brasyn25", "--threads", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = list(csv.DictReader((run / "log.csv").open()))
    assert [row["step"] for row in rows] == ["1", "2"]
    assert HFGANGenerator.from_pretrained(run).config == PRESETS["tiny"].generator
