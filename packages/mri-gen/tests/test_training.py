"""Training: it learns, it is reproducible, it resumes exactly, and its utilities are right."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from mri_gen.errors import ConfigError
from mri_gen.hfgan.config import HFGANConfig
from mri_gen.hfgan.losses import LossWeights
from mri_gen.hfgan.training import (
    HFGANTrainer,
    InputScheme,
    TrainConfig,
    all_others,
    pick_one,
    random_available,
)
from mri_io.training import init_distributed, load_state, save_state
from mri_io.training.ema import EMA
from mri_io.training.schedule import scaled_learning_rate, warmup_cosine_factor

ENV = init_distributed("cpu")


def _slices(count: int = 4, size: int = 32, seed: int = 0) -> dict[str, torch.Tensor]:
    """Phantom slices: a disc whose four "sequences" are monotonic functions of one another."""
    generator = torch.Generator().manual_seed(seed)
    grid = torch.linspace(-1, 1, size)
    yy, xx = torch.meshgrid(grid, grid, indexing="ij")
    images = []
    for _ in range(count):
        centre = torch.rand(2, generator=generator) * 0.4 - 0.2
        radius = ((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2).sqrt()
        brain = radius < 0.8
        base = torch.cos(3 * radius) + 0.5 * torch.sin(4 * xx)
        channels = [base, 0.2 - 0.8 * base, base + 0.5 * base**3, torch.tanh(2 * base)]
        images.append(torch.stack([torch.where(brain, c, torch.tensor(-1.0)) for c in channels]))
    labels = torch.zeros(count, size, size, dtype=torch.long)
    labels[:, 12:16, 12:16] = 2
    return {"image": torch.stack(images), "labels": labels, "view": torch.full((count,), 2)}


def test_every_term_is_computed_and_logged(small: HFGANConfig) -> None:
    trainer = HFGANTrainer(small, TrainConfig(steps=2, batch_size=2), ENV)
    logged = trainer.step(_slices(2))
    assert set(logged) == {"l1", "adv", "cls", "feat", "cycle", "ssim", "g_total", "d_total", "lr"}
    weights = LossWeights()
    total = sum(getattr(weights, name) * logged[name] for name in weights.terms() if name in logged)
    assert logged["g_total"] == pytest.approx(total, rel=1e-4)


def test_tiny_model_overfits_a_handful_of_slices(small: HFGANConfig) -> None:
    """L1 alone (the GAN terms make the curve noisy) must fall by a large factor in 60 steps."""
    weights = LossWeights(adv=0, cls=0, cycle=0, feat=0, ssim=0)
    train = TrainConfig(
        steps=1000, batch_size=4, base_lr=1e-3, base_batch=4, warmup_steps=2, weights=weights
    )
    trainer = HFGANTrainer(small, train, ENV)
    batch = _slices()
    first = trainer.step(batch)["l1"]
    history = [trainer.step(batch)["l1"] for _ in range(60)]
    assert min(history[-5:]) < first / 4


def test_same_seed_same_weights_after_steps(small: HFGANConfig) -> None:
    def run(seed: int) -> list[torch.Tensor]:
        trainer = HFGANTrainer(small, TrainConfig(steps=3, batch_size=2, seed=seed), ENV)
        for _ in range(2):
            trainer.step(_slices(2))
        return [p.detach().clone() for p in trainer.parameters()]

    a, b, c = run(0), run(0), run(1)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a, c, strict=True))


def test_state_round_trip_continues_bit_for_bit(small: HFGANConfig, tmp_path: Path) -> None:
    train = TrainConfig(steps=4, batch_size=2, ema_decay=0.9)
    straight = HFGANTrainer(small, train, ENV)
    for step in range(4):
        straight.step(_slices(2, seed=step))
    interrupted = HFGANTrainer(small, train, ENV)
    for step in range(2):
        interrupted.step(_slices(2, seed=step))
    save_state(interrupted.state_dict(), tmp_path / "state.pt")
    resumed = HFGANTrainer(small, train, ENV)
    resumed.load_state_dict(load_state(tmp_path / "state.pt"))
    for step in range(2, 4):
        resumed.step(_slices(2, seed=step))
    for x, y in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(x, y)
    assert resumed.ema is not None
    assert straight.ema is not None
    for x, y in zip(straight.ema.shadow.parameters(), resumed.ema.shadow.parameters(), strict=True):
        assert torch.equal(x, y)


def test_switched_off_terms_are_not_computed(small: HFGANConfig) -> None:
    weights = LossWeights(adv=0, cls=0, cycle=0, feat=0, ssim=0)
    trainer = HFGANTrainer(small, TrainConfig(steps=1, batch_size=2, weights=weights), ENV)
    logged = trainer.step(_slices(2))
    assert set(logged) == {"l1", "g_total", "lr"}
    assert logged["g_total"] == pytest.approx(10 * logged["l1"], rel=1e-5)


def test_bf16_and_channels_last_train(small: HFGANConfig) -> None:
    train = TrainConfig(steps=1, batch_size=2, bf16=True, channels_last=True)
    logged = HFGANTrainer(small, train, ENV).step(_slices(2))
    assert all(math.isfinite(v) for v in logged.values())


def test_random_subsets_cover_every_non_empty_subset_and_never_the_target() -> None:
    generator = torch.Generator().manual_seed(0)
    available = random_available(4000, 4, 2, generator)
    assert not available[:, 2].any()
    assert available.any(dim=1).all()
    codes = {tuple(row.tolist()) for row in available}
    assert len(codes) == 7
    picked = pick_one(available, generator)
    assert available[torch.arange(4000), picked].all()


def test_pick_one_answers_on_the_masks_device_with_the_cpu_generators_draws() -> None:
    """The trainer's masks live on its device (a GPU) while its generator is a CPU one; the
    pick must land on the masks' device and be the same draw as on the CPU. The ``meta``
    device stands in for a GPU here: it refuses to mix with CPU tensors just as CUDA does."""
    available = random_available(64, 4, 1, torch.Generator().manual_seed(3))
    cpu_generator, other_generator = (torch.Generator().manual_seed(5) for _ in range(2))
    on_cpu = pick_one(available, cpu_generator)
    elsewhere = pick_one(available.to("meta"), other_generator)
    assert elsewhere.device.type == "meta"
    assert elsewhere.shape == on_cpu.shape
    # The same numbers were drawn from the CPU generator: both end in the same state.
    assert torch.equal(cpu_generator.get_state(), other_generator.get_state())


def _first_pass_inputs(small: HFGANConfig, inputs: InputScheme) -> list[torch.Tensor]:
    """The ``available`` masks of every first (non-cycle) generator pass of one step."""
    weights = LossWeights(adv=0, cls=0, ssim=0)
    trainer = HFGANTrainer(small, TrainConfig(batch_size=6, weights=weights, inputs=inputs), ENV)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    forward = trainer.generator.forward

    def spy(x: torch.Tensor, available: torch.Tensor, target: torch.Tensor, view: object) -> object:
        seen.append((available.clone(), target.clone()))
        return forward(x, available, target, view)  # type: ignore[arg-type]

    trainer.g_call = spy
    trainer.step(_slices(6))
    first_passes = seen[::2]  # each target: first pass, then the cycle pass
    assert sorted(int(t[0]) for _, t in first_passes) == [0, 1, 2, 3]
    for available, target in first_passes:
        assert not available[torch.arange(6), target].any()
    return [available for available, _ in first_passes]


def test_others_scheme_gives_every_sample_all_other_sequences(small: HFGANConfig) -> None:
    for available in _first_pass_inputs(small, "others"):
        assert (available.sum(dim=1) == 3).all()
    assert all_others(2, 4, 1).tolist() == [[True, False, True, True]] * 2


def test_subsets_scheme_draws_smaller_input_sets_too(small: HFGANConfig) -> None:
    counts = torch.cat([a.sum(dim=1) for a in _first_pass_inputs(small, "subsets")])
    assert counts.min() >= 1
    assert counts.max() <= 3
    assert (counts < 3).any()


def test_unknown_input_scheme_is_refused() -> None:
    with pytest.raises(ConfigError, match="inputs must be"):
        TrainConfig(inputs="none")  # type: ignore[arg-type]


def test_linear_scaling_and_warmup_cosine() -> None:
    assert scaled_learning_rate(5e-4, 16) == pytest.approx(1.25e-4)
    factors = [warmup_cosine_factor(s, 4, 20) for s in range(25)]
    assert factors[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert factors[4] == pytest.approx(1.0)
    assert factors[12] == pytest.approx(0.5 * (1 + math.cos(math.pi * 8 / 16)))
    assert factors[20:] == pytest.approx([0.0] * 5)
    assert all(a >= b for a, b in itertools.pairwise(factors[4:]))


def test_ema_follows_the_formula() -> None:
    model = torch.nn.Linear(2, 1)
    ema = EMA(model, decay=0.75)
    before = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(4.0)
    ema.update(model)
    torch.testing.assert_close(ema.shadow.weight, 0.75 * before + 0.25 * (before + 4.0))
    with pytest.raises(ValueError, match="decay"):
        EMA(model, decay=1.0)


def test_batch_stream_workers_start_from_a_fork_server_once_cuda_is_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forking a process that runs CUDA's threads can deadlock a worker: once CUDA is up the
    slice workers come from a fork server, and the batches are those of forked workers."""
    from mri_gen.hfgan.data import BatchStream, SliceDataset, SliceSource
    from mri_io.intensity import IntensityStats
    from mri_io.layouts import scan_cases
    from mri_io.sequences import SEQUENCES
    from mri_io.synthetic import write_cohort

    write_cohort(tmp_path, 1, seed=3, grid="half", centres=("research-3t",), progress=False)
    stats = {name: IntensityStats(clip=1e9, mean=300.0, std=120.0) for name in SEQUENCES}
    source = SliceSource(tuple(scan_cases(tmp_path)), stats, SEQUENCES, ("axial",), 120)

    def first_batch() -> dict[str, torch.Tensor]:
        batch: dict[str, torch.Tensor] = next(
            iter(BatchStream(SliceDataset(source, seed=0), 4, workers=1))
        )
        return batch

    forked = first_batch()
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    started = []
    original = torch.utils.data.DataLoader.__init__

    def spy(self: torch.utils.data.DataLoader[Any], *args: Any, **kwargs: Any) -> None:
        started.append(kwargs.get("multiprocessing_context"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(torch.utils.data.DataLoader, "__init__", spy)
    served = first_batch()
    assert started == ["forkserver"]
    assert torch.equal(forked["image"], served["image"])
