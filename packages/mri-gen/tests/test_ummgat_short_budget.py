"""The short-budget training options: lazy R1 and the EMA warm-up (off in the paper recipe)."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from mri_gen.errors import ConfigError
from mri_gen.ummgat.config import PRESETS, UMMGATConfig
from mri_gen.ummgat.data import UnpairedSampler, UnpairedSlices, load_unpaired
from mri_gen.ummgat.losses import LossWeights, lesion_crop, r1_penalty
from mri_gen.ummgat.training import TRAIN_RECIPES, TrainConfig, UMMGATTrainer
from mri_io.synthetic.cohort import write_cohort
from mri_io.training import DistributedEnv

CPU = DistributedEnv(0, 1, 0, torch.device("cpu"))
SIZE = 32


@pytest.fixture(scope="module")
def slices(tmp_path_factory: pytest.TempPathFactory) -> UnpairedSlices:
    folder = tmp_path_factory.mktemp("ummgat-short")
    write_cohort(folder, 6, seed=5, centres=("research-3t", "local-t1-t2"), progress=False)
    loaded, _ = load_unpaired(Path(folder), SIZE, seed=0, progress=False)
    return loaded


@pytest.fixture
def config(slices: UnpairedSlices) -> UMMGATConfig:
    return PRESETS["tiny"].with_image_size(SIZE).with_domains(slices.domains)


def _batch_with_lesions(slices: UnpairedSlices, seed: int = 0) -> dict[str, torch.Tensor]:
    """A batch of 4 in which at least one source shows a lesion (the R1 then covers crops)."""
    sampler = UnpairedSampler(slices, 4, seed=seed, latent_dim=16)
    for _ in range(50):
        batch = sampler.next()
        if bool(batch["m_src"].any()):
            return batch
    raise AssertionError("the cohort has no lesion slice")


def _expected_r1(
    trainer: UMMGATTrainer, batch: dict[str, torch.Tensor], gamma: float
) -> torch.Tensor:
    """R1 of the current discriminator on the whole real slices and their lesion crops."""
    x, m, y = batch["x_src"], batch["m_src"], batch["y_src"]
    has = m.flatten(1).any(dim=1)
    real = torch.cat((x, lesion_crop(x[has], m[has]))).requires_grad_(True)
    branches = torch.cat((y, y[has] + trainer.config.num_domains))
    return r1_penalty(trainer.discriminator(real, branches), real, gamma).detach()


def test_r1_every_step_is_the_full_penalty(slices: UnpairedSlices, config: UMMGATConfig) -> None:
    batch = _batch_with_lesions(slices)
    trainer = UMMGATTrainer(config, TrainConfig(batch_size=4, r1_every=1), CPU)
    expected = _expected_r1(trainer, batch, gamma=1.0)
    assert float(expected) > 0
    for _ in range(2):
        expected = _expected_r1(trainer, batch, gamma=1.0)
        logged = trainer.step(batch)
        assert logged["d_r1_latent"] == pytest.approx(float(expected), rel=1e-5)


def test_lazy_r1_scales_gamma_and_skips_the_other_steps(
    slices: UnpairedSlices, config: UMMGATConfig
) -> None:
    batch = _batch_with_lesions(slices)
    train = TrainConfig(batch_size=4, r1_every=4, weights=LossWeights(r1=2.0))
    lazy = UMMGATTrainer(config, train, CPU)
    expected = _expected_r1(lazy, batch, gamma=2.0 * 4)
    assert lazy.step(batch)["d_r1_latent"] == pytest.approx(float(expected), rel=1e-5)
    # Steps 1..3: no penalty, so the discriminator moves exactly as without R1.
    without = copy.deepcopy(lazy)
    without.train_config = replace(train, r1_every=1, weights=LossWeights(r1=0.0))
    for _ in range(3):
        logged = lazy.step(batch)
        without.step(batch)
        assert logged["d_r1_latent"] == 0.0
        assert logged["d_r1_reference"] == 0.0
    for mine, plain in zip(
        lazy.discriminator.parameters(), without.discriminator.parameters(), strict=True
    ):
        torch.testing.assert_close(mine, plain, rtol=0.0, atol=0.0)
    # Step 4 penalises again.
    assert lazy.step(batch)["d_r1_latent"] > 0


def test_r1_every_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="r1_every"):
        TrainConfig(r1_every=0)


def test_ema_warmup_follows_the_capped_decay(slices: UnpairedSlices, config: UMMGATConfig) -> None:
    train = TrainConfig(batch_size=2, ema_decay=0.5, ema_warmup=True)
    trainer = UMMGATTrainer(config, train, CPU)
    sampler = UnpairedSampler(slices, 2, seed=1, latent_dim=16)
    # Step n uses min(0.5, (1 + n) / (10 + n)): 0.1, 2/11, 3/12, then 0.5 from n = 8 on.
    for n in range(10):
        before = [p.detach().clone() for p in trainer.shared_model.parameters()]
        trainer.step(sampler.next())
        decay = min(0.5, (1 + n) / (10 + n))
        for old, live, shadow in zip(
            before, trainer.model.parameters(), trainer.shared_model.parameters(), strict=True
        ):
            torch.testing.assert_close(shadow, decay * old + (1 - decay) * live.detach())


def test_paper_recipe_is_the_default_and_short_recipe_differs_only_where_documented() -> None:
    assert TRAIN_RECIPES["paper"] == TrainConfig()
    paper, short = TrainConfig().to_json(), TRAIN_RECIPES["short"].to_json()
    changed = {name for name in paper if paper[name] != short[name]}
    assert changed <= {"steps", "lr", "r1_every", "ema_warmup"}
    assert short["betas"] == paper["betas"]
    assert short["weights"] == paper["weights"]
