"""One UMMGAT training step: StarGAN v2's four updates, with the lesion-aware module.

Per batch (sources ``x`` of domains ``y``, target domains ``t``):

1. discriminator, latent-guided: real ``x`` (branch ``y``) vs ``G(x, M(z, t))`` (branch ``t``),
   plus R1 on the real images;
2. discriminator, reference-guided: the same with the style ``E(x_ref, t)`` of a real slice of
   domain ``t``;
3. generator, latent-guided: adversarial + style reconstruction ``|E(G(x, s), t) - s|`` + cycle
   ``|G(G(x, s), E(x, y)) - x|`` (+ lesion style); updates G, M and E;
4. generator, reference-guided: the same terms; updates G only (as StarGAN v2);

then the EMA copies of G, M and E move (``decay`` 0.999). Adam, lr 1e-4, betas (0, 0.99), weight
decay 1e-4 for every network (paper).

Three options serve short runs (CPU budgets of minutes) and are off by default, so the paper's
recipe is unchanged:

- ``r1_every = k`` computes R1 only every ``k``-th step with ``gamma`` multiplied by ``k``: the
  "lazy regularisation" of StyleGAN2 (Karras et al. 2020, section 3.1), which keeps the average
  penalty while skipping the double back-propagation through the discriminator on the other
  steps. ``k = 1`` is the paper's R1 at every step.
- ``lr_decay_from = f`` keeps every learning rate constant for the first fraction ``f`` of the
  steps, then lowers it linearly to zero at the last step: CycleGAN's schedule (Zhu et al.
  2017, section 4), so a short run ends on small updates instead of the paper's constant rate.
  The rate follows from the step count alone, so a resumed run continues on the same schedule.
- ``ema_warmup`` caps the EMA decay at step ``n`` by ``(1 + n) / (10 + n)``, the ``num_updates``
  warm-up of TensorFlow's ``ExponentialMovingAverage``: with a fixed 0.999 a run of a few
  hundred steps would publish weights that are still mostly the random initialisation
  (``0.999 ** 300 = 0.74``).

Lesion-aware module: the lesion of a slice (its whole-tumour mask; the generated slice keeps
the source's anatomy, so its lesion is the source's mask) is cut out by
:func:`~mri_gen.ummgat.losses.lesion_crop` and sent to the lesion branch ``N + domain`` of the
discriminator (real vs fake lesions, with R1) and of the style encoder. The lesion style loss
``|E_les(G(x, s) lesion, t) - sg(E_les(x_ref lesion, t))|`` asks the generated lesion to carry the
lesion code of a real lesion of the target domain. It is the only term that reaches the
encoder's lesion heads, so, as the paper has it, it trains both the generator and the encoder
(in the latent-guided update, the one that steps E). The real lesion's code is a stop-gradient
target (``sg``): the encoder learns to place generated lesions where it places real ones, not to
move both codes toward each other, which would leave each head's bias with exactly zero
gradient and reward shrinking every lesion code to one point. The generator always sees the
whole slice. Samples whose source or reference slice has no lesion skip the lesion terms.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from mri_gen.errors import ConfigError
from mri_gen.ummgat.config import UMMGATConfig
from mri_gen.ummgat.critic import Discriminator
from mri_gen.ummgat.losses import LossWeights, adversarial, lesion_crop, r1_penalty
from mri_gen.ummgat.networks import UMMGATModel
from mri_io.training import EMA, DistributedEnv, wrap


@dataclass(frozen=True)
class TrainConfig:
    """How to train (paper values by default); ``batch_size`` is per process."""

    steps: int = 20_000
    batch_size: int = 8
    lr: float = 1e-4
    betas: tuple[float, float] = (0.0, 0.99)
    weight_decay: float = 1e-4
    ema_decay: float = 0.999
    weights: LossWeights = field(default_factory=LossWeights)
    seed: int = 0
    r1_every: int = 1
    ema_warmup: bool = False
    lr_decay_from: float | None = None

    def __post_init__(self) -> None:
        if self.r1_every < 1:
            raise ConfigError(None, f"r1_every must be at least 1, got {self.r1_every}")
        if self.lr_decay_from is not None and not 0.0 <= self.lr_decay_from < 1.0:
            raise ConfigError(
                None,
                f"lr_decay_from must be in [0, 1) (a fraction of the steps), got "
                f"{self.lr_decay_from}",
            )

    def learning_rate(self, step: int) -> float:
        """The rate of every optimiser at ``step`` (0-based): ``lr``, or on the linear decay
        to zero once ``lr_decay_from`` of the steps are done."""
        if self.lr_decay_from is None:
            return self.lr
        start = self.lr_decay_from * self.steps
        if step < start:
            return self.lr
        return self.lr * max(0.0, (self.steps - step) / (self.steps - start))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.lr_decay_from is None:
            # A constant-rate run records what runs written before the option recorded, so
            # those still resume (a resume refuses a run.json whose settings differ).
            del data["lr_decay_from"]
        return data


#: Training recipes by name. ``paper`` is the paper's (20,000 steps at lr 1e-4). ``short`` is for
#: CPU budgets of minutes, a few hundred steps: the same losses, weights, optimiser and batch, with
#: lazy R1 and the EMA warm-up (see the module docstring) and a higher learning rate, chosen from
#: short learning-curve runs (the quality page, docs/quality/index.md, compares half and double
#: the rate at the quality budget). It is not the paper's recipe and is never used unless asked
#: for.
TRAIN_RECIPES: dict[str, TrainConfig] = {
    "paper": TrainConfig(),
    "short": TrainConfig(steps=400, lr=4e-4, r1_every=16, ema_warmup=True),
}


def _adam(module: nn.Module, train: TrainConfig) -> torch.optim.Adam:
    return torch.optim.Adam(
        module.parameters(), lr=train.lr, betas=train.betas, weight_decay=train.weight_decay
    )


class UMMGATTrainer:
    """Networks, optimisers and EMA of one run, and its :meth:`step`."""

    def __init__(self, config: UMMGATConfig, train: TrainConfig, env: DistributedEnv) -> None:
        self.config = config
        self.train_config = train
        self.env = env
        torch.manual_seed(train.seed)
        self.model = UMMGATModel(config).to(env.device)
        self.discriminator = Discriminator(config).to(env.device)
        self.ema = EMA(self.model, train.ema_decay)
        self.generator = wrap(self.model.generator, env)
        self.mapping = wrap(self.model.mapping, env)
        self.encoder = wrap(self.model.style_encoder, env)
        self.critic = wrap(self.discriminator, env)
        self.optimizers = {
            "generator": _adam(self.model.generator, train),
            "mapping": _adam(self.model.mapping, train),
            "style_encoder": _adam(self.model.style_encoder, train),
            "discriminator": _adam(self.discriminator, train),
        }
        self.step_count = 0

    def _lesion_pairs(
        self, images: torch.Tensor, masks: torch.Tensor, domains: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Lesion crops of the samples that have a lesion, their lesion branches, and which."""
        has = masks.flatten(1).any(dim=1)
        crops = lesion_crop(images[has], masks[has])
        return crops, domains[has] + self.config.num_domains, has

    def _with_lesions(
        self, images: torch.Tensor, masks: torch.Tensor, domains: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Whole slices followed by the lesion crops, with the branch of each (LAM on)."""
        if not self.config.lesion_aware:
            return images, domains
        crops, branches, _ = self._lesion_pairs(images, masks, domains)
        return torch.cat((images, crops)), torch.cat((domains, branches))

    def _style(self, batch: dict[str, torch.Tensor], guide: str) -> torch.Tensor:
        if guide == "latent":
            style: torch.Tensor = self.mapping(batch["z_trg"], batch["y_trg"])
        else:
            style = self.encoder(batch["x_ref"], batch["y_trg"])
        return style

    def _discriminator_loss(
        self, batch: dict[str, torch.Tensor], guide: str
    ) -> dict[str, torch.Tensor]:
        x, m, y, t = batch["x_src"], batch["m_src"], batch["y_src"], batch["y_trg"]
        every = self.train_config.r1_every
        with_r1 = self.step_count % every == 0
        real, real_branch = self._with_lesions(x, m, y)
        real = real.detach().requires_grad_(with_r1)
        real_logits = self.critic(real, real_branch)
        with torch.no_grad():
            fake = self.generator(x, self._style(batch, guide))
        fake_all, fake_branch = self._with_lesions(fake, m, t)
        fake_logits = self.critic(fake_all, fake_branch)
        gamma = self.train_config.weights.r1 * every
        return {
            "d_real": adversarial(real_logits, real=True),
            "d_fake": adversarial(fake_logits, real=False),
            # Logged as 0 on the steps lazy regularisation skips.
            "d_r1": r1_penalty(real_logits, real, gamma) if with_r1 else x.new_zeros(()),
        }

    def lesion_style_loss(
        self, fake: torch.Tensor, batch: dict[str, torch.Tensor]
    ) -> torch.Tensor | None:
        """Lesion style loss of ``fake = G(x_src, s)`` (see module doc), None if no pair has one.

        Only samples whose source and reference both show a lesion count. The loss reaches the
        generator through ``fake`` and the style encoder's trunk and lesion heads through the
        generated lesion's code; the real lesion's code is the fixed target.
        """
        both = batch["m_src"].flatten(1).any(1) & batch["m_ref"].flatten(1).any(1)
        if not bool(both.any()):
            return None
        branch = batch["y_trg"][both] + self.config.num_domains
        with torch.no_grad():
            target = self.encoder(lesion_crop(batch["x_ref"][both], batch["m_ref"][both]), branch)
        predicted = self.encoder(lesion_crop(fake[both], batch["m_src"][both]), branch)
        loss: torch.Tensor = (predicted - target).abs().mean()
        return loss

    def _generator_loss(
        self, batch: dict[str, torch.Tensor], guide: str
    ) -> dict[str, torch.Tensor]:
        x, m, y, t = batch["x_src"], batch["m_src"], batch["y_src"], batch["y_trg"]
        style = self._style(batch, guide)
        fake = self.generator(x, style)
        fake_all, fake_branch = self._with_lesions(fake, m, t)
        terms = {
            "g_adv": adversarial(self.critic(fake_all, fake_branch), real=True),
            "g_sty": (self.encoder(fake, t) - style).abs().mean(),
        }
        if self.config.lesion_aware:
            lesion = self.lesion_style_loss(fake, batch)
            # Logged as 0 when no sample has a lesion, so every step (and rank) logs the same.
            terms["g_lesion"] = lesion if lesion is not None else fake.new_zeros(())
        original = self.encoder(x, y)
        terms["g_cyc"] = (self.generator(fake, original) - x).abs().mean()
        return terms

    def _update(self, terms: dict[str, torch.Tensor], names: tuple[str, ...]) -> torch.Tensor:
        weights = self.train_config.weights
        scale = {
            "d_real": 1.0,
            "d_fake": 1.0,
            "d_r1": 1.0,
            "g_adv": weights.adv,
            "g_sty": weights.sty,
            "g_lesion": weights.lesion,
            "g_cyc": weights.cyc,
        }
        total = torch.stack([scale[name] * value for name, value in terms.items()]).sum()
        for name in names:
            self.optimizers[name].zero_grad(set_to_none=True)
        total.backward()  # type: ignore[no-untyped-call]
        for name in names:
            self.optimizers[name].step()
        return total.detach()

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One batch: two discriminator and two generator updates, then the EMA."""
        device = self.env.device
        batch = {name: value.to(device, non_blocking=True) for name, value in batch.items()}
        self.model.train()
        self.discriminator.train()
        rate = self.train_config.learning_rate(self.step_count)
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] = rate
        logged: dict[str, float] = {"lr": rate}
        for guide in ("latent", "reference"):
            terms = self._discriminator_loss(batch, guide)
            total = self._update(terms, ("discriminator",))
            for name, value in terms.items():
                logged[f"{name}_{guide}"] = float(value.detach())
            logged[f"d_total_{guide}"] = float(total)
        for guide, names in (
            ("latent", ("generator", "mapping", "style_encoder")),
            ("reference", ("generator",)),
        ):
            terms = self._generator_loss(batch, guide)
            total = self._update(terms, names)
            for name, value in terms.items():
                logged[f"{name}_{guide}"] = float(value.detach())
            logged[f"g_total_{guide}"] = float(total)
        if self.train_config.ema_warmup:
            n = self.step_count
            self.ema.decay = min(self.train_config.ema_decay, (1 + n) / (10 + n))
        self.ema.update(self.model)
        self.step_count += 1
        return logged

    @staticmethod
    def log_columns() -> list[str]:
        """Every name :meth:`step` may log, in a fixed order (``g_lesion`` only with the LAM)."""
        names = ["d_real", "d_fake", "d_r1", "d_total", "g_adv", "g_sty", "g_lesion", "g_cyc"]
        names.append("g_total")
        return ["lr", *(f"{name}_{guide}" for guide in ("latent", "reference") for name in names)]

    @property
    def shared_model(self) -> UMMGATModel:
        """The weights to evaluate and publish: the EMA copy (paper)."""
        shadow = self.ema.shadow
        assert isinstance(shadow, UMMGATModel)
        return shadow

    def state_dict(self) -> dict[str, Any]:
        """Everything :meth:`load_state_dict` needs to continue bit for bit."""
        state: dict[str, Any] = {
            "step": self.step_count,
            "model": self.model.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "ema": self.ema.state_dict(),
            "torch_random": torch.get_rng_state(),
        }
        for name, optimizer in self.optimizers.items():
            state[f"optimizer_{name}"] = optimizer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step_count = int(state["step"])
        self.model.load_state_dict(state["model"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.ema.load_state_dict(state["ema"])
        torch.set_rng_state(state["torch_random"].cpu())
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state[f"optimizer_{name}"])

    def parameters(self) -> Iterator[nn.Parameter]:
        """Every trained parameter (for tests comparing runs)."""
        yield from self.model.parameters()
        yield from self.discriminator.parameters()
