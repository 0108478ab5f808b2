"""UMMGAT training: unpaired sampling, seeds, resume, EMA, save/load."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.typing import NDArray

from mri_gen.errors import CheckpointError, ConfigError
from mri_gen.ummgat.config import PRESETS, UMMGATConfig
from mri_gen.ummgat.data import (
    UnpairedSampler,
    assign_domains,
    case_centres,
    left_right_axis,
    load_unpaired,
)
from mri_gen.ummgat.inference import Translator
from mri_gen.ummgat.networks import UMMGATModel
from mri_gen.ummgat.run import ASSIGNMENT_NAME, RunSpec, train_ummgat
from mri_gen.ummgat.training import TrainConfig, UMMGATTrainer
from mri_io.errors import MriIoError, RunFolderError
from mri_io.layouts import brats2023_filename, scan_cases
from mri_io.nifti import new_volume, save_volume
from mri_io.synthetic.cohort import write_cohort
from mri_io.training import DistributedEnv

CPU = DistributedEnv(0, 1, 0, torch.device("cpu"))
SIZE = 32


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight half-grid cases from a full-protocol centre and a T1/T2-only centre."""
    folder = tmp_path_factory.mktemp("ummgat-cohort")
    write_cohort(folder, 8, seed=3, centres=("research-3t", "local-t1-t2"), progress=False)
    return folder


@pytest.fixture
def config() -> UMMGATConfig:
    return PRESETS["tiny"].with_image_size(SIZE)


def _spec(
    config: UMMGATConfig, steps: int, lr: float = 1e-4, decay: float | None = None
) -> RunSpec:
    train = TrainConfig(steps=steps, batch_size=2, lr=lr, seed=4, lr_decay_from=decay)
    return RunSpec(config, train, checkpoint_every=1)


def test_each_patient_contributes_one_volume_of_one_sequence(cohort: Path) -> None:
    slices, assignment = load_unpaired(cohort, SIZE, seed=0, progress=False)
    manifest = json.loads((cohort / "cohort.json").read_text())
    record = {c["case_id"]: c for c in manifest["cases"]}
    assert sorted(assignment) == sorted(record)
    for case_id, domain in assignment.items():
        centre, sequence = domain.split(":")
        assert centre == record[case_id]["centre"]
        assert sequence in record[case_id]["sequences"]
    for patient, case_id in enumerate(slices.patients):
        domains = torch.unique(slices.domain_of[slices.patient_of == patient]).tolist()
        assert [slices.domains[d] for d in domains] == [assignment[case_id]]
    counts = np.bincount(slices.domain_of.numpy())
    assert counts.min() > 0


def test_assignment_is_seeded_and_balanced(cohort: Path) -> None:
    cases = scan_cases(cohort)
    centres = case_centres(cohort)
    first = assign_domains(cases, centres, seed=1)
    assert first == assign_domains(cases, centres, seed=1)
    per_domain: dict[str, int] = {}
    for domain in first.values():
        per_domain[domain] = per_domain.get(domain, 0) + 1
    # Greedy balancing: no domain gets two more patients than another that a patient could fill.
    assert max(per_domain.values()) - min(per_domain.values()) <= 2


def test_sampler_batches_and_flips(cohort: Path) -> None:
    slices, _ = load_unpaired(cohort, SIZE, seed=0, progress=False)
    sampler = UnpairedSampler(slices, 16, seed=0, latent_dim=16)
    batch = sampler.next()
    assert batch["x_src"].shape == (16, 1, SIZE, SIZE)
    assert batch["x_src"].min() >= -1.0
    assert batch["x_src"].max() <= 1.0
    assert batch["m_src"].dtype == torch.bool
    assert batch["z_trg"].shape == (16, 16)
    state = sampler.state_dict()
    again = sampler.next()
    sampler.load_state_dict(state)
    replay = sampler.next()
    for name in again:
        assert torch.equal(again[name], replay[name])
    # Every reference slice belongs to the target domain it was drawn for, as stored or mirrored
    # left-right: the cohort's files are L-P-S, so across the rows of an axial slice.
    assert torch.all(slices.left_right == 0)
    stored = (slices.images.float() / 127.5 - 1.0)[:, None]
    for x_ref, y_trg in zip(batch["x_ref"], batch["y_trg"], strict=True):
        rows = torch.nonzero(slices.domain_of == y_trg)[:, 0]
        candidates = torch.cat((stored[rows], stored[rows].flip(-2)))
        assert any(torch.equal(x_ref, c) for c in candidates)


#: Voxel-to-world affines (1 mm, centred on the plane) whose in-plane axes point L-P (BraTS),
#: R-A and P-L: the flip must find the left-right axis in each.
_CENTRED = {
    "LPS": [[-1, 0, 0, 15.5], [0, -1, 0, 15.5], [0, 0, 1, 0], [0, 0, 0, 1]],
    "RAS": [[1, 0, 0, -15.5], [0, 1, 0, -15.5], [0, 0, 1, 0], [0, 0, 0, 1]],
    "PLS": [[0, -1, 0, 15.5], [-1, 0, 0, 15.5], [0, 0, 1, 0], [0, 0, 0, 1]],
}


def _world_plane(affine: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """World x (+ right) and y (+ anterior) of each pixel of an axial slice, in mm."""
    i, j = np.meshgrid(np.arange(SIZE), np.arange(SIZE), indexing="ij")
    world = affine[:2, :2] @ np.stack((i.ravel(), j.ravel())) + affine[:2, 3:4]
    return world[0].reshape(SIZE, SIZE), world[1].reshape(SIZE, SIZE)


@pytest.mark.parametrize("orientation", sorted(_CENTRED))
def test_flip_mirrors_left_and_right_in_world_space(orientation: str, tmp_path: Path) -> None:
    """A bright blob on the patient's left, in front, ends on the right and still in front."""
    affine = np.asarray(_CENTRED[orientation], dtype=np.float64)
    x, y = _world_plane(affine)
    plane = np.where(x**2 + y**2 < 14**2, 50.0, 0.0)
    plane[(x + 8) ** 2 + (y - 4) ** 2 < 3**2] = 250.0
    volume = np.repeat(plane[:, :, None], 6, axis=2).astype(np.float32)
    for case_id, sequence in (("BraTS-GLI-00000-000", "t1n"), ("BraTS-GLI-00001-000", "t2w")):
        folder = tmp_path / case_id
        folder.mkdir()
        save_volume(new_volume(volume, affine), folder / brats2023_filename(case_id, sequence))
    slices, _ = load_unpaired(tmp_path, SIZE, seed=0, default_centre="c", progress=False)
    sampler = UnpairedSampler(slices, 8, seed=0, latent_dim=16)
    sides = []
    for _ in range(4):
        batch = sampler.next()
        for image in torch.cat((batch["x_src"], batch["x_ref"]))[:, 0].numpy():
            blob = image > 0.5
            assert blob.sum() > 10
            sides.append(float(np.sign(x[blob].mean())))
            # Anterior stays anterior: only left and right swap.
            assert y[blob].mean() == pytest.approx(4.0, abs=0.5)
            assert abs(x[blob].mean()) == pytest.approx(8.0, abs=0.5)
    assert set(sides) == {-1.0, 1.0}


def test_volumes_cut_along_their_left_right_axis_are_refused() -> None:
    """If voxel axis 2 runs left-right, "axial" slices are sagittal and cannot be mirrored."""
    sagittal = np.array([[0, 0, 1, 0], [0, -1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=float)
    with pytest.raises(MriIoError, match="sagittal planes"):
        left_right_axis(sagittal, "case-t1n.nii.gz")
    assert left_right_axis(np.asarray(_CENTRED["PLS"], dtype=np.float64), "x.nii.gz") == 1


def test_same_seed_same_weights(cohort: Path, config: UMMGATConfig, tmp_path: Path) -> None:
    first = train_ummgat(cohort, tmp_path / "a", _spec(config, 2), CPU, progress=False)
    second = train_ummgat(cohort, tmp_path / "b", _spec(config, 2), CPU, progress=False)
    a = UMMGATModel.from_pretrained(first)
    b = UMMGATModel.from_pretrained(second)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    assert json.loads((tmp_path / "a" / ASSIGNMENT_NAME).read_text())
    # The half-grid cohort's 2 mm voxels are recorded for inference to resample other grids.
    translator = Translator.from_pretrained(first)
    assert (translator.spacing, translator.orientation) == ((2.0, 2.0, 2.0), ("L", "P", "S"))
    other = UMMGATTrainer(config.with_domains(a.config.domains), TrainConfig(seed=5), CPU)
    assert any(
        not torch.equal(p, q) for p, q in zip(other.model.parameters(), a.parameters(), strict=True)
    )


@pytest.mark.parametrize("decay", [None, 0.0])
def test_resume_continues_bit_for_bit(
    cohort: Path, config: UMMGATConfig, tmp_path: Path, decay: float | None
) -> None:
    spec = _spec(config, 3, decay=decay)
    straight = train_ummgat(cohort, tmp_path / "straight", spec, CPU, progress=False)
    split = tmp_path / "split"
    train_ummgat(cohort, split, spec, CPU, progress=False, until=1)
    with pytest.raises(RunFolderError, match="holds a run already"):
        train_ummgat(cohort, split, spec, CPU, progress=False)
    train_ummgat(cohort, split, spec, CPU, progress=False, resume=True)
    a = UMMGATModel.from_pretrained(straight).state_dict()
    b = UMMGATModel.from_pretrained(split).state_dict()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert (split / "log.csv").read_text() == (straight / "log.csv").read_text()
    assert len((split / "log.csv").read_text().splitlines()) == 1 + 3
    with pytest.raises(RunFolderError, match=r"other settings \(train\)"):
        train_ummgat(cohort, split, _spec(config, 3, lr=1e-3), CPU, progress=False, resume=True)


def test_learning_rate_is_constant_or_falls_linearly_to_zero() -> None:
    assert [TrainConfig(steps=4, lr=2.0).learning_rate(k) for k in range(4)] == [2.0] * 4
    decaying = TrainConfig(steps=10, lr=2.0, lr_decay_from=0.6)
    rates = [decaying.learning_rate(k) for k in range(10)]
    assert rates == pytest.approx([2.0] * 7 + [1.5, 1.0, 0.5])
    for bad in (-0.1, 1.0):
        with pytest.raises(ConfigError, match="lr_decay_from"):
            TrainConfig(lr_decay_from=bad)
    # A constant-rate run's settings read as those of runs written before the option, so an
    # unfinished run of an earlier version still resumes.
    assert "lr_decay_from" not in TrainConfig().to_json()
    assert decaying.to_json()["lr_decay_from"] == 0.6


def test_every_optimiser_steps_at_the_scheduled_rate(cohort: Path, config: UMMGATConfig) -> None:
    slices, _ = load_unpaired(cohort, SIZE, seed=0, progress=False)
    train = TrainConfig(steps=4, batch_size=2, lr=1e-3, lr_decay_from=0.5)
    trainer = UMMGATTrainer(config.with_domains(slices.domains), train, CPU)
    sampler = UnpairedSampler(slices, 2, seed=0, latent_dim=16)
    logged = [trainer.step(sampler.next())["lr"] for _ in range(4)]
    assert logged == pytest.approx([1e-3, 1e-3, 1e-3, 5e-4])
    for optimizer in trainer.optimizers.values():
        assert [group["lr"] for group in optimizer.param_groups] == pytest.approx([5e-4])


def test_ema_follows_the_decay(cohort: Path, config: UMMGATConfig) -> None:
    slices, _ = load_unpaired(cohort, SIZE, seed=0, progress=False)
    model_config = config.with_domains(slices.domains)
    trainer = UMMGATTrainer(model_config, TrainConfig(batch_size=2, ema_decay=0.9), CPU)
    before = [p.detach().clone() for p in trainer.shared_model.parameters()]
    trainer.step(UnpairedSampler(slices, 2, seed=0, latent_dim=16).next())
    for old, live, shadow in zip(
        before, trainer.model.parameters(), trainer.shared_model.parameters(), strict=True
    ):
        torch.testing.assert_close(shadow, 0.9 * old + 0.1 * live.detach())
    d_weights = {n for n, _ in trainer.discriminator.named_parameters()}
    assert not d_weights & {n for n, _ in trainer.shared_model.named_parameters()}


@pytest.mark.parametrize("lesion_aware", [True, False])
def test_step_logs_the_lesion_term_only_with_lam(
    cohort: Path, config: UMMGATConfig, lesion_aware: bool
) -> None:
    slices, _ = load_unpaired(cohort, SIZE, seed=0, progress=False)
    model_config = replace(config.with_domains(slices.domains), lesion_aware=lesion_aware)
    trainer = UMMGATTrainer(model_config, TrainConfig(batch_size=4), CPU)
    logged = trainer.step(UnpairedSampler(slices, 4, seed=0, latent_dim=16).next())
    assert ("g_lesion_latent" in logged) == lesion_aware
    assert set(logged) <= set(UMMGATTrainer.log_columns())
    assert all(np.isfinite(v) for v in logged.values())


def test_lesion_style_term_alone_trains_every_lesion_head_of_the_style_encoder(
    config: UMMGATConfig,
) -> None:
    """The paper trains the encoder to extract lesion codes with the lesion style loss.

    No other term uses the lesion branches, so if this term did not reach them they would only
    ever decay under weight decay. One sample per target domain, so no two samples' gradients
    on a head can cancel.
    """
    domains = ("a:t1n", "a:t2w", "b:t1n")
    trainer = UMMGATTrainer(config.with_domains(domains), TrainConfig(batch_size=3, seed=5), CPU)
    generator = torch.Generator().manual_seed(6)
    masks = torch.zeros(3, 1, SIZE, SIZE, dtype=torch.bool)
    masks[:, :, 8:20, 10:22] = True
    batch = {
        "x_src": torch.rand(3, 1, SIZE, SIZE, generator=generator) * 2 - 1,
        "m_src": masks,
        "y_src": torch.tensor([1, 2, 0]),
        "y_trg": torch.tensor([0, 1, 2]),
        "x_ref": torch.rand(3, 1, SIZE, SIZE, generator=generator) * 2 - 1,
        "m_ref": masks.roll(3, dims=-1),
        "z_trg": torch.randn(3, 16, generator=generator),
    }
    fake = trainer.generator(batch["x_src"], trainer.mapping(batch["z_trg"], batch["y_trg"]))
    loss = trainer.lesion_style_loss(fake, batch)
    assert loss is not None
    loss.backward()  # type: ignore[no-untyped-call]
    heads = trainer.model.style_encoder.heads
    n, style = len(domains), config.style_dim
    assert heads.weight.grad is not None
    assert heads.bias.grad is not None
    weight = heads.weight.grad.view(2 * n, style, -1)
    bias = heads.bias.grad.view(2 * n, style)
    assert torch.all(weight[n:] != 0)
    assert torch.all(bias[n:] != 0)
    # The term is about lesions only: the whole-slice heads get nothing from it.
    assert torch.all(weight[:n] == 0)
    assert torch.all(bias[:n] == 0)
    # It still supervises the generator.
    assert any(p.grad is not None and p.grad.any() for p in trainer.model.generator.parameters())


def test_save_load_gives_identical_outputs(config: UMMGATConfig, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = UMMGATModel(replace(config, domains=("a:t1n", "b:t2w"))).eval()
    model.save_pretrained(tmp_path / "model")
    loaded = UMMGATModel.from_pretrained(tmp_path / "model")
    x = torch.rand(2, 1, SIZE, SIZE) * 2 - 1
    z = torch.randn(2, 16)
    domain = torch.tensor([0, 1])
    with torch.no_grad():
        for net in (model, loaded):
            net.eval()
        s1, s2 = model.mapping(z, domain), loaded.mapping(z, domain)
        assert torch.equal(s1, s2)
        assert torch.equal(model.generator(x, s1), loaded.generator(x, s2))
        assert torch.equal(model.style_encoder(x, domain), loaded.style_encoder(x, domain))
    assert loaded.config == model.config
    with pytest.raises(CheckpointError, match=r"no config\.json: not a saved model or run folder"):
        UMMGATModel.from_pretrained(tmp_path)


def test_ddp_under_torchrun_with_gloo(cohort: Path, tmp_path: Path) -> None:
    """Two CPU processes: both ranks train (R1 double backward included), rank 0 saves."""
    run = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2"]
    command += ["--standalone", "-m", "mri_gen", "train", "ummgat", "--data", str(cohort)]
    command += ["--out", str(run), "--steps", "2", "--batch-size", "2", "--device", "cpu"]
    command += ["--image-size", str(SIZE), "--threads", "1", "--checkpoint-every", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = list(csv.DictReader((run / "log.csv").open()))
    assert [row["step"] for row in rows] == ["1", "2"]
    assert all(float(row["g_total_latent"]) > 0 for row in rows)
    assert UMMGATModel.from_pretrained(run).config.image_size == SIZE


def test_cli_recipe_sets_the_training_config_and_options_override_it(
    cohort: Path, tmp_path: Path
) -> None:
    from mri_gen.cli import main

    base = ["train", "ummgat", "--data", str(cohort), "--batch-size", "2", "--device", "cpu"]
    base += ["--image-size", str(SIZE), "--threads", "1"]
    assert main([*base, "--out", str(tmp_path / "short"), "--recipe", "short", "--steps", "1"]) == 0
    short = json.loads((tmp_path / "short" / "run.json").read_text())["train"]
    assert (short["steps"], short["lr"], short["r1_every"], short["ema_warmup"]) == (
        1,
        4e-4,
        16,
        True,
    )
    assert main([*base, "--out", str(tmp_path / "paper"), "--steps", "1", "--lr", "2e-4"]) == 0
    paper = json.loads((tmp_path / "paper" / "run.json").read_text())["train"]
    assert (paper["steps"], paper["lr"], paper["r1_every"], paper["ema_warmup"]) == (
        1,
        2e-4,
        1,
        False,
    )
    assert paper["ema_decay"] == 0.999
