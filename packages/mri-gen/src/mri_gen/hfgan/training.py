"""One HF-GAN training step as the thesis describes it (§4.4-4.5, Algorithm 1).

For every batch the target rotates over all sequences, in a random order. For each target:

1. every sample gets its inputs: all other sequences (``inputs="others"``, BraSyn's scenario and
   Algorithm 1's "drop one modality per sample"), or its own random non-empty subset of them
   (``inputs="subsets"``, every missing-sequence scenario, as the original HF-GAN trains);
2. the generator synthesises the target (first pass); L1, SSIM, adversarial and class terms,
   and the focal Tversky term on the completed slices when a segmenter is given (the real
   sequences and the synthesis normalised as mri-seg trained the segmenter, with each case's
   tumour type: :mod:`mri_gen.hfgan.segmenter`);
3. cycle pass: the synthesis is put in the target's slot, one of the sample's inputs is hidden
   and regenerated; its L1 against the real slice is the cycle term, and 1 - cosine of the two
   passes' bottlenecks the feature term;
4. one generator update (Adam, gradient norm clipped at 0.1, warm-up + cosine schedule, EMA);
5. one discriminator update: BCE real vs fake patches plus CE of the sequence classifier on
   the real slices.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from mri_gen.errors import ConfigError
from mri_gen.hfgan.config import HFGANConfig
from mri_gen.hfgan.discriminator import HFGANDiscriminator
from mri_gen.hfgan.generator import HFGANGenerator
from mri_gen.hfgan.losses import LossWeights, adversarial_target, feature_loss, ssim_loss
from mri_gen.hfgan.segmenter import FrozenSegmenter, segmenter_inputs
from mri_io import NORMALISED_BACKGROUND
from mri_io.training import EMA, DistributedEnv, scaled_learning_rate, warmup_cosine, wrap

InputScheme = Literal["others", "subsets"]


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimisation, loss weights and performance switches.

    ``batch_size`` is per process; the learning rate is ``base_lr`` scaled linearly from
    ``base_batch`` to the global batch (``batch_size * world_size``). ``inputs`` chooses what a
    sample sees besides its target: ``"others"`` (all other sequences, the thesis' Algorithm 1
    and the BraSyn task) or ``"subsets"`` (a random non-empty subset of them per sample, for a
    model that must also complete cases missing two or three sequences). With ``"subsets"``
    several channels are missing at once: the generator's ``target_fill`` marks which of them
    is wanted (:class:`~mri_gen.hfgan.config.GeneratorConfig`).
    """

    steps: int = 1000
    batch_size: int = 8
    base_lr: float = 5e-4
    base_batch: int = 64
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 100
    grad_clip: float = 0.1
    inputs: InputScheme = "others"
    weights: LossWeights = field(default_factory=LossWeights)
    ema_decay: float | None = None
    bf16: bool = False
    channels_last: bool = False
    compile: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.inputs not in ("others", "subsets"):
            raise ConfigError(None, f"inputs must be 'others' or 'subsets', not {self.inputs!r}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def all_others(batch: int, streams: int, target: int) -> torch.Tensor:
    """Every sequence but ``target`` available, for every sample."""
    available = torch.ones(batch, streams, dtype=torch.bool)
    available[:, target] = False
    return available


def random_available(
    batch: int, streams: int, target: int, generator: torch.Generator
) -> torch.Tensor:
    """Per sample, a uniformly drawn non-empty subset of the sequences other than ``target``."""
    others = [s for s in range(streams) if s != target]
    codes = torch.randint(1, 2 ** len(others), (batch,), generator=generator)
    available = torch.zeros(batch, streams, dtype=torch.bool)
    for bit, stream in enumerate(others):
        available[:, stream] = (codes >> bit) & 1 == 1
    return available


def pick_one(available: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Per row, the index of one True entry, uniformly among them, on ``available``'s device.

    The draw comes from ``generator`` (a CPU generator) whatever the device, so a seed picks the
    same entries on a CPU and a GPU.
    """
    scores = torch.rand(available.shape, generator=generator).to(available.device)
    return scores.masked_fill(~available, -1.0).argmax(dim=1)


@dataclass(frozen=True)
class SegmenterBatch:
    """What the focal Tversky term needs of a batch besides the generator's slices."""

    images: torch.Tensor
    maps: torch.Tensor
    case_ids: Sequence[str]


class HFGANTrainer:
    """Generator, discriminator, optimisers, schedules and EMA of one run, and its step."""

    def __init__(
        self,
        config: HFGANConfig,
        train: TrainConfig,
        env: DistributedEnv,
        segmenter: FrozenSegmenter | None = None,
    ) -> None:
        self.config = config
        self.train_config = train
        self.env = env
        device = env.device
        torch.manual_seed(train.seed)
        self.generator = HFGANGenerator(config.generator).to(device)
        self.discriminator = HFGANDiscriminator(config.discriminator).to(device)
        if train.channels_last:
            for module in (self.generator, self.discriminator):
                module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.ema = EMA(self.generator, train.ema_decay) if train.ema_decay is not None else None
        if train.weights.tversky > 0 and segmenter is None:
            raise ValueError("the Tversky loss weight is > 0 but no segmenter was given")
        if segmenter is not None:
            segmenter.channel_order(config.generator.sequences)
        self.segmenter = segmenter.to(device) if segmenter is not None else None
        self.g_model = wrap(self.generator, env)
        self.d_model = wrap(self.discriminator, env)
        self.g_call: nn.Module | Any = (
            torch.compile(self.g_model) if train.compile else self.g_model
        )
        lr = scaled_learning_rate(
            train.base_lr, train.batch_size * env.world_size, train.base_batch
        )
        self.g_optimizer = torch.optim.Adam(self.generator.parameters(), lr=lr, betas=train.betas)
        self.d_optimizer = torch.optim.Adam(
            self.discriminator.parameters(), lr=lr, betas=train.betas
        )
        updates = train.steps * len(config.generator.sequences)
        warmup = train.warmup_steps * len(config.generator.sequences)
        self.g_scheduler = warmup_cosine(self.g_optimizer, warmup, updates)
        self.d_scheduler = warmup_cosine(self.d_optimizer, warmup, updates)
        self.random = torch.Generator().manual_seed(train.seed + 7919 * env.rank)
        self.step_count = 0

    @property
    def uses_discriminator(self) -> bool:
        weights = self.train_config.weights
        return weights.adv > 0 or weights.cls > 0

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if not self.train_config.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.env.device.type, dtype=torch.bfloat16)

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.env.device, non_blocking=True)
        if self.train_config.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _segmenter_batch(self, batch: dict[str, Any]) -> SegmenterBatch | None:
        if self.segmenter is None or not self.train_config.weights.tversky:
            return None
        missing = [key for key in ("seg_image", "seg_map", "case_id") if key not in batch]
        if missing:
            raise ValueError(
                f"the Tversky term needs {', '.join(missing)} in each batch (SliceDataset's)"
            )
        return SegmenterBatch(
            self._prepare(batch["seg_image"].float()),
            batch["seg_map"].to(self.env.device),
            list(batch["case_id"]),
        )

    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        """One batch: a generator and a discriminator update per target sequence."""
        self.generator.train()
        self.discriminator.train()
        images = self._prepare(batch["image"].float())
        labels = batch["labels"].to(self.env.device)
        views = batch["view"].to(self.env.device)
        segmenter_batch = self._segmenter_batch(batch)
        streams = images.shape[1]
        totals: dict[str, float] = {}
        for target in torch.randperm(streams, generator=self.random).tolist():
            logged = self._target_step(images, labels, views, target, segmenter_batch)
            for name, value in logged.items():
                totals[name] = totals.get(name, 0.0) + value / streams
        self.step_count += 1
        totals["lr"] = float(self.g_scheduler.get_last_lr()[0])
        return totals

    def _target_step(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        views: torch.Tensor,
        target: int,
        segmenter_batch: SegmenterBatch | None,
    ) -> dict[str, float]:
        train = self.train_config
        weights = train.weights
        batch, streams = images.shape[:2]
        device = self.env.device
        if train.inputs == "others":
            available = all_others(batch, streams, target).to(device)
        else:
            available = random_available(batch, streams, target, self.random).to(device)
        target_index = torch.full((batch,), target, device=device, dtype=torch.long)
        view = views if self.config.generator.view_embedding else None
        real = images[:, target : target + 1]
        terms: dict[str, torch.Tensor] = {}
        self.discriminator.requires_grad_(False)
        with self._autocast():
            first = self.g_call(images, available, target_index, view)
        fake = first.image.float()
        if weights.l1:
            terms["l1"] = (fake - real).abs().mean()
        if weights.ssim:
            brain = real != NORMALISED_BACKGROUND
            tumour = (labels > 0)[:, None] if bool((labels > 0).any()) else None
            terms["ssim"] = ssim_loss(fake, real, brain, tumour, weights.ssim_regions)
        if self.uses_discriminator:
            with self._autocast():
                patches, classes = self.discriminator(fake)
            if weights.adv:
                terms["adv"] = adversarial_target(patches.float(), real=True)
            if weights.cls:
                terms["cls"] = F.cross_entropy(classes.float(), target_index)
        completed = torch.cat((images[:, :target], fake, images[:, target + 1 :]), dim=1)
        if self.segmenter is not None and segmenter_batch is not None:
            seen = segmenter_inputs(fake, segmenter_batch.images, segmenter_batch.maps, target)
            terms["tversky"] = self.segmenter.loss(
                seen, labels, views, segmenter_batch.case_ids, self.config.generator.sequences
            )
        if weights.cycle or weights.feat:
            hidden = pick_one(available, self.random)
            second_available = available.clone()
            second_available[torch.arange(batch, device=device), hidden] = False
            second_available[:, target] = True
            with self._autocast():
                second = self.g_call(completed, second_available, hidden, view)
            if weights.cycle:
                regenerated = images[torch.arange(batch, device=device), hidden][:, None]
                terms["cycle"] = (second.image.float() - regenerated).abs().mean()
            if weights.feat:
                terms["feat"] = feature_loss(first.bottleneck.float(), second.bottleneck.float())
        total = torch.stack([getattr(weights, name) * value for name, value in terms.items()]).sum()
        self.g_optimizer.zero_grad(set_to_none=True)
        total.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(self.generator.parameters(), train.grad_clip)
        self.g_optimizer.step()
        self.g_scheduler.step()
        if self.ema is not None:
            self.ema.update(self.generator)
        logged = {name: float(value.detach()) for name, value in terms.items()}
        logged["g_total"] = float(total.detach())
        if self.uses_discriminator:
            logged["d_total"] = self._discriminator_step(real, fake.detach(), target_index)
        return logged

    def _discriminator_step(
        self, real: torch.Tensor, fake: torch.Tensor, target_index: torch.Tensor
    ) -> float:
        self.discriminator.requires_grad_(True)
        with self._autocast():
            real_patches, real_classes = self.d_model(real)
            fake_patches, _ = self.d_model(fake)
        loss = (
            0.5 * adversarial_target(real_patches.float(), real=True)
            + 0.5 * adversarial_target(fake_patches.float(), real=False)
            + F.cross_entropy(real_classes.float(), target_index)
        )
        self.d_optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(self.discriminator.parameters(), self.train_config.grad_clip)
        self.d_optimizer.step()
        self.d_scheduler.step()
        return float(loss.detach())

    @property
    def shared_generator(self) -> HFGANGenerator:
        """The weights to publish: the EMA copy when enabled, else the live generator."""
        if self.ema is not None:
            shadow = self.ema.shadow
            assert isinstance(shadow, HFGANGenerator)
            return shadow
        return self.generator

    def state_dict(self) -> dict[str, Any]:
        """Everything :meth:`load_state_dict` needs to continue bit for bit."""
        state: dict[str, Any] = {
            "step": self.step_count,
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "g_optimizer": self.g_optimizer.state_dict(),
            "d_optimizer": self.d_optimizer.state_dict(),
            "g_scheduler": self.g_scheduler.state_dict(),
            "d_scheduler": self.d_scheduler.state_dict(),
            "random": self.random.get_state(),
            "torch_random": torch.get_rng_state(),
        }
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step_count = int(state["step"])
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.g_optimizer.load_state_dict(state["g_optimizer"])
        self.d_optimizer.load_state_dict(state["d_optimizer"])
        self.g_scheduler.load_state_dict(state["g_scheduler"])
        self.d_scheduler.load_state_dict(state["d_scheduler"])
        self.random.set_state(state["random"].cpu())
        torch.set_rng_state(state["torch_random"].cpu())
        if self.ema is not None:
            if "ema" not in state:
                raise ValueError("the saved run has no EMA weights but this run asks for EMA")
            self.ema.load_state_dict(state["ema"])

    def parameters(self) -> Iterator[nn.Parameter]:
        """The generator's parameters (for tests comparing runs)."""
        return self.generator.parameters()
