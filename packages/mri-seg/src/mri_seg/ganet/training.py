"""Train GANet-Seg: stage 1 pre-trains the inpainting GAN on healthy slices, stage 2 trains the
segmentation U-Net against the frozen GAN.

Stage 1 (:func:`pretrain_gan`) is its own run folder (``RUN/pretrain`` under
:func:`train_ganet`): random holes (squares, discs, tumour shapes) are cut from healthy axial
slices, the generator fills them (BCE + 100 L1), and the discriminator learns real from filled
once per ``d_every`` generator steps (Adam 1e-4, betas 0.5/0.999 for both). ``last/`` (a
``ganet-gan`` model folder), ``state.pt`` and a ``log.csv`` row are written after every epoch,
so a stopped pre-training resumes where it stopped.

Stage 2 (:func:`train_ganet`) runs the suite's epoch loop (:func:`mri_seg.epochs.train_epochs`)
in ``RUN``: phase 1 (the first ``phase1_epochs``) minimises the segmentation loss alone; phase
2 adds sparsity, size consistency and the adversarial feedback of the frozen GAN
(:class:`GANetObjective`), balanced by dynamic weights. After each epoch the validation cases
are segmented slice by slice and scored (Dice per region); the best model goes to ``RUN/best``,
which :func:`mri_seg.load_segmenter` reads. The trainer runs in one process.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from os import PathLike
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from mri_io.labels import get_label_convention
from mri_io.layouts import CaseFiles, scan_cases
from mri_io.spacing import training_orientation, training_spacing
from mri_io.training import DistributedEnv, RunFolder, resolve_device, seed_everything
from mri_seg.checkpoint import TrainingParts, TrainResult
from mri_seg.epochs import Batch, EpochPlan, train_epochs
from mri_seg.errors import TrainingDataError
from mri_seg.evaluation import region_dice
from mri_seg.ganet.config import RESUMABLE, GANetConfig
from mri_seg.ganet.data import gan_batch, healthy_slices, labelled_slices, seg_batch
from mri_seg.ganet.inference import LABEL_CONVENTION, label_map
from mri_seg.ganet.losses import (
    adversarial_feedback_loss,
    discriminator_loss,
    edge_map,
    generator_loss,
    gradient_norm_weights,
    loss_value_weights,
    segmentation_loss,
    size_consistency_loss,
    sparsity_loss,
    whole_tumour,
)
from mri_seg.ganet.networks import GANetSeg, InpaintingGAN, load_gan
from mri_seg.inputs import load_training_case
from mri_seg.split import load_split, write_split
from mri_seg.targets import TargetSpec

#: Adam's betas for every GANet-Seg network (the paper's GAN setting, "similar to UNet's").
BETAS = (0.5, 0.999)
#: Folder of the stage-1 run inside a GANet-Seg run.
PRETRAIN = "pretrain"


def _complete_cases(folder: str | PathLike[str], *, labelled: bool) -> list[CaseFiles]:
    cases = [c for c in scan_cases(folder) if not c.missing and (c.seg or not labelled)]
    need = 2 if labelled else 1
    if len(cases) < need:
        what = "complete case(s) with a segmentation" if labelled else "complete case(s)"
        raise TrainingDataError(folder, f"{len(cases)} {what}; need {need}")
    return cases


def gan_step(
    gan: InpaintingGAN,
    optimisers: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    images: torch.Tensor,
    holes: torch.Tensor,
    step: int,
    config: GANetConfig,
) -> dict[str, float]:
    """One generator update, plus a discriminator update when ``step`` (counted from 1) is a
    multiple of ``d_every``; the losses, and ``d_updated`` 1 or 0."""
    g_optimiser, d_optimiser = optimisers
    filled = gan.generator(images, holes)
    g_optimiser.zero_grad(set_to_none=True)
    g_loss = generator_loss(gan.discriminator(filled), filled, images, config.l1_weight)
    g_loss.backward()  # type: ignore[no-untyped-call]
    g_optimiser.step()
    row = {"g_loss": float(g_loss.detach()), "d_updated": 0.0}
    if step % config.d_every == 0:
        d_optimiser.zero_grad(set_to_none=True)
        d_loss = discriminator_loss(gan.discriminator(images), gan.discriminator(filled.detach()))
        d_loss.backward()  # type: ignore[no-untyped-call]
        d_optimiser.step()
        row.update(d_loss=float(d_loss.detach()), d_updated=1.0)
    return row


def pretrain_gan(
    healthy: str | PathLike[str],
    run_dir: str | PathLike[str],
    config: GANetConfig | None = None,
    *,
    resume: bool = False,
    progress: bool = True,
) -> Path:
    """Pre-train the inpainting GAN on the healthy cases under ``healthy`` (slices of cases
    with a segmentation are used only where it has no tumour); the folder of the trained GAN
    (``run_dir/last``). Finished runs resume to the same folder without training again."""
    settings = config or GANetConfig()
    run = RunFolder(run_dir)
    device = resolve_device(settings.device)
    cases = _complete_cases(healthy, labelled=False)
    resuming = run.begin(settings.gan_json(), resume=resume)
    seed_everything(settings.seed)
    gan = InpaintingGAN(preset=settings.preset).to(device)
    images = healthy_slices(cases, gan.sequences, settings.min_brain_fraction)
    optimisers = (
        torch.optim.Adam(gan.generator.parameters(), settings.gan_learning_rate, betas=BETAS),
        torch.optim.Adam(gan.discriminator.parameters(), settings.gan_learning_rate, betas=BETAS),
    )
    done = 0
    if resuming:
        state = run.load_state(device)
        gan.load_state_dict(state["model"])
        for optimiser, key in zip(optimisers, ("g_optimiser", "d_optimiser"), strict=True):
            optimiser.load_state_dict(state[key])
        torch.set_rng_state(state["torch_rng"].cpu())
        done = int(state["epoch"])
    gan.train()
    with run.open_log(key="epoch", resume_after=done if resuming else None) as log:
        bar = tqdm(
            range(done + 1, settings.gan_epochs + 1),
            desc="pre-train ganet gan",
            unit="epoch",
            disable=not progress,
        )
        for epoch in bar:
            rows = []
            for step in range(settings.gan_steps_per_epoch):
                count = (epoch - 1) * settings.gan_steps_per_epoch + step + 1
                batch, holes = gan_batch(images, settings, epoch, step)
                rows.append(
                    gan_step(gan, optimisers, batch.to(device), holes.to(device), count, settings)
                )
            summary = _summary(rows)
            log.write(epoch, {"step": epoch * settings.gan_steps_per_epoch, **summary})
            bar.set_postfix(g=f"{summary['g_loss']:.3f}")
            gan.save_pretrained(run.last)
            run.save_state(
                {
                    "model": gan.state_dict(),
                    "g_optimiser": optimisers[0].state_dict(),
                    "d_optimiser": optimisers[1].state_dict(),
                    "torch_rng": torch.get_rng_state(),
                    "epoch": epoch,
                }
            )
    return run.last


def _summary(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    """Mean generator and discriminator losses of an epoch and its discriminator updates."""
    d_losses = [row["d_loss"] for row in rows if "d_loss" in row]
    return {
        "g_loss": float(np.mean([row["g_loss"] for row in rows])),
        "d_loss": float(np.mean(d_losses)) if d_losses else float("nan"),
        "d_updates": float(sum(row["d_updated"] for row in rows)),
    }


class GANetObjective:
    """Stage 2's loss of one batch ``(inputs, gan_images, classes)``.

    Phase 1: the segmentation loss. Phase 2: that plus sparsity, size consistency and (unless
    ``config.adversarial`` is off) the adversarial feedback, each times its dynamic weight
    (detached, so weights steer but are not optimised; see :meth:`weights`). The frozen GAN
    takes part in the graph: its parameters get no gradient, but the U-Net's output does,
    through the occluded image, the generator, the discriminator and the edge map.
    """

    def __init__(self, model: GANetSeg, gan: InpaintingGAN, config: GANetConfig) -> None:
        self.model, self.gan, self.config = model, gan, config
        self.segmentation = segmentation_loss()

    def terms(self, batch: Batch, *, phase2: bool) -> dict[str, torch.Tensor]:
        """The unweighted loss terms of the phase."""
        inputs, gan_images, classes = batch
        logits = self.model(inputs)
        terms = {"segmentation": self.segmentation(logits.float(), classes[:, None])}
        if not phase2:
            return terms
        mask = whole_tumour(logits)
        terms["sparsity"] = sparsity_loss(mask)
        terms["size"] = size_consistency_loss(mask, (classes > 0).sum(dim=(1, 2)))
        if self.config.adversarial:
            terms["adversarial"] = self.adversarial(mask, gan_images)
        return terms

    def adversarial(self, mask: torch.Tensor, gan_images: torch.Tensor) -> torch.Tensor:
        """The adversarial feedback of the predicted whole-tumour ``mask`` on its slices."""
        filled = self.gan.generator(gan_images.float(), mask)
        d_logits = self.gan.discriminator(filled)
        return adversarial_feedback_loss(d_logits, edge_map(mask, d_logits.shape[-2:]))

    def weights(self, terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The segmentation loss weighs 1; the terms phase 2 adds share a weight of 1 by their
        dynamic weights. Equalising all four instead (segmentation included) cut the
        segmentation loss's weight ~1000-fold against the tiny size term and undid phase 1 in
        our runs; the paper's Eq. 9 keeps the segmentation loss as the base term."""
        added = {name: value for name, value in terms.items() if name != "segmentation"}
        weights = {"segmentation": torch.ones(())}
        if not added:
            return weights
        if self.config.weighting == "loss":
            return {**weights, **loss_value_weights(added)}
        parameters = list(self.model.net.final_conv.parameters())
        return {**weights, **gradient_norm_weights(added, parameters)}

    def __call__(self, batch: Batch, *, phase2: bool) -> torch.Tensor:
        """The weighted sum of the phase's terms."""
        terms = self.terms(batch, phase2=phase2)
        weights = self.weights(terms)
        total: torch.Tensor = sum(  # type: ignore[assignment]
            weights[name].to(value) * value for name, value in terms.items()
        )
        return total


def freeze(gan: InpaintingGAN) -> InpaintingGAN:
    """``gan`` in eval mode with no parameter requiring a gradient."""
    gan.eval()
    for parameter in gan.parameters():
        parameter.requires_grad_(False)
    return gan


def train_ganet(
    data: str | PathLike[str],
    run_dir: str | PathLike[str],
    config: GANetConfig | None = None,
    *,
    healthy: str | PathLike[str] | None = None,
    gan: str | PathLike[str] | None = None,
    resume: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train GANet-Seg on the labelled cases under ``data`` in ``run_dir``, pre-training its
    GAN on the cases under ``healthy`` first (in ``run_dir/pretrain``), or taking the
    pre-trained GAN in ``gan`` (exactly one of the two). ``resume=True`` continues a stopped
    run, in whichever stage it stopped.

    Raises :class:`TrainingDataError` for an unusable cohort, :class:`ModelFileError` for an
    unusable ``gan`` and :class:`mri_io.RunFolderError` when the folder holds another run or
    was started with other settings.
    """
    settings = config or GANetConfig()
    if (healthy is None) == (gan is None):
        raise ValueError("give either healthy cases to pre-train the GAN on or a trained GAN")
    run = RunFolder(run_dir)
    device = resolve_device(settings.device)
    cases = _complete_cases(data, labelled=True)
    if healthy is not None:
        _complete_cases(healthy, labelled=False)
    given = None if gan is None else str(Path(gan).resolve())
    resuming = run.begin({**settings.to_json(), "gan": given}, resume=resume, resumable=RESUMABLE)
    if healthy is not None:
        stage1 = run.path / PRETRAIN
        again = resume and RunFolder(stage1).run_file.is_file()
        gan = pretrain_gan(healthy, stage1, settings, resume=again, progress=progress)
    assert gan is not None
    frozen = freeze(load_gan(gan, device=device))
    return _train_segmenter(run, cases, frozen, settings, device, resuming, progress)


def _train_segmenter(
    run: RunFolder,
    cases: list[CaseFiles],
    gan: InpaintingGAN,
    settings: GANetConfig,
    device: torch.device,
    resuming: bool,
    progress: bool,
) -> TrainResult:
    train_files, val_files = load_split(run, cases, settings.val_fraction, settings.seed)
    seed_everything(settings.seed)
    model = GANetSeg(
        preset=settings.preset,
        classes=settings.classes,
        enhance=settings.enhance,
        sequences=gan.sequences,
        spacing=training_spacing(train_files),
        orientation=training_orientation(train_files),
    ).to(device)
    slices = labelled_slices(train_files, model.sequences, settings)
    spec = TargetSpec("labels")
    val_cases = [load_training_case(f, model.sequences, spec) for f in val_files]
    write_split(run, train_files, val_files)
    optimiser = torch.optim.Adam(
        model.parameters(), settings.learning_rate, betas=BETAS, weight_decay=settings.weight_decay
    )
    total = settings.epochs * settings.steps_per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: max(0.0, 1 - step / total) ** settings.poly_power
    )
    scaler = torch.amp.GradScaler("cuda", enabled=settings.amp and device.type == "cuda")
    parts = TrainingParts(model, optimiser, schedule, scaler, device)
    objective = GANetObjective(model, gan, settings)
    current = {"epoch": 0}
    convention = get_label_convention(LABEL_CONVENTION)
    regions = ("WT",) if settings.classes == "whole" else ("WT", "TC", "ET")

    def batches(epoch: int) -> Iterator[Batch]:
        current["epoch"] = epoch
        for step in range(settings.steps_per_epoch):
            yield seg_batch(slices, settings, epoch, step)

    def loss(batch: Batch) -> torch.Tensor:
        return objective(batch, phase2=current["epoch"] > settings.phase1_epochs)

    def validation(epoch: int) -> dict[str, float]:
        scores: dict[str, list[float]] = {region: [] for region in regions}
        for case in val_cases:
            predicted = label_map(model, case.images, device)
            for region, value in region_dice(predicted, case.labels, convention, regions).items():
                scores[region].append(value)
        return {region: float(np.mean(values)) for region, values in scores.items() if values}

    plan = EpochPlan(
        epochs=settings.epochs,
        steps_per_epoch=settings.steps_per_epoch,
        max_minutes=settings.max_minutes,
        amp=settings.amp,
        description="train ganet",
    )
    env = DistributedEnv(rank=0, world_size=1, local_rank=0, device=device)
    return train_epochs(
        run,
        parts,
        env,
        plan,
        resuming=resuming,
        batches=batches,
        loss=loss,
        validate=validation,
        progress=progress,
    )
