"""Train SynthTumour's junior and senior models in one run folder.

::

    RUN/
      run.json          the settings (SynthTumourConfig)
      split.json        which healthy brains train and which hold the validation tumours
      validation/       the distribution-shifted validation cases (hard masks, original texture)
      junior/           stage 1: a run folder (run.json, log.csv, state.pt, best/, last/)
      pseudo/           the junior model's label map of every unlabelled case
      senior/           stage 2: a run folder like junior/

Stage 1 trains the junior model on healthy brains with hand-crafted tumours drawn on the fly
(:mod:`.tumours`); the epoch with the best Dice on the validation cases is kept. Its best model
segments the unlabelled real cases (:mod:`.inference`), never reading their labels. Stage 2
trains the senior model (from scratch, or from the junior's weights with
``senior_init="junior"``) on healthy brains with those pseudo-labelled tumours
pasted in (:mod:`.mixing`) and on the pseudo-labelled cases themselves, and is selected on the
same validation cases. Each stage is the 3D U-Net's recipe (Adam, cosine schedule, Dice + BCE
per region, its crops and augmentation) through the suite's epoch loop, so a stopped run
resumes where it stopped (``resume=True``): inside a stage after its last finished epoch,
between stages from the pseudo labels already written. ``max_minutes`` budgets each stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path

from monai.data.dataset import Dataset
from monai.transforms.compose import Compose
from monai.transforms.transform import Transform

from mri_io.layouts import CaseFiles, scan_cases
from mri_io.orientation import axis_codes
from mri_io.training import (
    DistributedEnv,
    RunFolder,
    barrier,
    init_distributed,
    seed_everything,
    shutdown,
)
from mri_seg.checkpoint import TrainResult
from mri_seg.contract import InferenceSettings
from mri_seg.epochs import EpochPlan
from mri_seg.errors import TrainingDataError
from mri_seg.loader import load_segmenter
from mri_seg.split import load_split, write_split
from mri_seg.synthtumour.config import RESUMABLE, SynthTumourConfig
from mri_seg.synthtumour.data import (
    BrainStack,
    MixTumourd,
    SynthesiseTumourd,
    read_stack,
    sample_records,
    write_validation_cases,
)
from mri_seg.synthtumour.inference import PSEUDO_FOLDER, pseudo_label_cases
from mri_seg.synthtumour.losses import dice_ce_loss
from mri_seg.synthtumour.networks import Stage, SynthTumourUNet
from mri_seg.unet.data import training_transforms
from mri_seg.unet.training import CropSamplesOf, optimisation, train_on_crops, validation_dice

VALIDATION_FOLDER = "validation"


def train_synthtumour(
    healthy: str | PathLike[str],
    unlabelled: str | PathLike[str],
    out: str | PathLike[str],
    config: SynthTumourConfig | None = None,
    *,
    resume: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train the junior model on ``healthy`` brains with synthetic tumours, pseudo-label the
    ``unlabelled`` tumour cases with it, and train the senior model; or continue the run in
    ``out`` (``resume=True``).

    Returns the senior model's result, or the junior's when the time budget stopped stage 1.
    Raises :class:`TrainingDataError` for unusable folders (too few cases, missing sequences,
    grids that differ, no tumour found in any unlabelled case) and
    :class:`mri_io.RunFolderError` when ``out`` holds another run.
    """
    settings = config or SynthTumourConfig()
    env = init_distributed(settings.device)
    try:
        return _train(Path(healthy), Path(unlabelled), Path(out), settings, env, resume, progress)
    finally:
        shutdown(env)


def _usable(folder: Path, sequences: Sequence[str], minimum: int) -> list[CaseFiles]:
    cases = scan_cases(folder)
    usable = [case for case in cases if not set(sequences) & set(case.missing)]
    if len(usable) < minimum:
        raise TrainingDataError(
            folder,
            f"{len(usable)} of {len(cases)} case(s) have every sequence of "
            f"{', '.join(sequences)}; SynthTumour needs at least {minimum}",
        )
    return usable


def _train(
    healthy: Path,
    unlabelled: Path,
    out: Path,
    settings: SynthTumourConfig,
    env: DistributedEnv,
    resume: bool,
    progress: bool,
) -> TrainResult:
    sequences = settings.sequences
    healthy_files = _usable(healthy, sequences, 2)
    unlabelled_files = _usable(unlabelled, sequences, 1)
    run = RunFolder(out)
    run.begin(settings.to_json(), resume=resume, resumable=RESUMABLE, env=env)
    train_files, val_files = load_split(run, healthy_files, settings.val_fraction, settings.seed)
    if env.is_main:
        write_split(run, train_files, val_files)
    shape = settings.shape_model()
    brains = [read_stack(files, sequences) for files in train_files]
    if env.is_main:
        held_out = [read_stack(files, sequences) for files in val_files]
        write_validation_cases(
            out / VALIDATION_FOLDER, held_out, sequences, settings.val_cases, shape, settings.seed
        )
    barrier(env)
    validation = scan_cases(out / VALIDATION_FOLDER)

    junior = _train_stage(
        "junior",
        out,
        settings,
        env,
        brains,
        SynthesiseTumourd(sequences, shape),
        validation,
        resume=resume,
        progress=progress,
    )
    if junior.epochs_done < settings.junior_epochs:
        return junior
    donors = _pseudo_labels(out, settings, env, unlabelled, unlabelled_files, progress)
    grid = brains[0].images.shape
    if any(donor.images.shape != grid for donor in donors):
        raise TrainingDataError(
            unlabelled,
            f"the unlabelled cases are not on the healthy brains' grid {grid[1:]}: bring both "
            "to one grid (mri-io conform) to mix them",
        )
    return _train_stage(
        "senior",
        out,
        settings,
        env,
        brains,
        MixTumourd(donors, settings.real_share),
        validation,
        resume=resume,
        progress=progress,
    )


def _pseudo_labels(
    out: Path,
    settings: SynthTumourConfig,
    env: DistributedEnv,
    unlabelled: Path,
    cases: Sequence[CaseFiles],
    progress: bool,
) -> list[BrainStack]:
    """The pseudo-labelled cases: rank 0 segments and writes, the other ranks read."""
    junior = load_segmenter(out / "junior", device=env.device)
    inference = InferenceSettings(
        overlap=settings.overlap, device=str(env.device), output_device=str(env.device)
    )
    folder = out / PSEUDO_FOLDER
    donors = []
    if env.is_main:
        donors = pseudo_label_cases(junior, cases, folder, inference, progress=progress)
    barrier(env)
    if not env.is_main:
        donors = pseudo_label_cases(junior, cases, folder, inference, progress=False)
    if not donors:
        raise TrainingDataError(
            unlabelled,
            f"the junior model found no tumour in any of the {len(cases)} unlabelled case(s), "
            "so stage 2 has nothing to learn from: train stage 1 longer",
        )
    return donors


def warm_start(model: SynthTumourUNet, junior: Path) -> None:
    """Copy the junior run's selected weights (its best model, else its last) into ``model``.

    A resumed senior continues from its own checkpoint instead, so this runs only when the
    senior stage begins."""
    source = load_segmenter(junior)
    model.load_state_dict(source.state_dict())


def _train_stage(
    stage: Stage,
    out: Path,
    settings: SynthTumourConfig,
    env: DistributedEnv,
    brains: Sequence[BrainStack],
    synthesis: Transform,
    validation: Sequence[CaseFiles],
    *,
    resume: bool,
    progress: bool,
) -> TrainResult:
    """One stage: a model (fresh, or the junior's for a warm-started senior) trained on
    ``synthesis`` of ``brains`` in ``out/<stage>``."""
    run = RunFolder(out / stage)
    epochs = settings.junior_epochs if stage == "junior" else settings.senior_epochs
    resuming = run.begin(
        {"stage": stage, **settings.to_json()},
        resume=resume and run.run_file.is_file(),
        resumable=RESUMABLE,
        env=env,
    )
    device = env.device
    seed_everything(settings.seed)
    model = SynthTumourUNet.for_stage(
        stage,
        settings.preset,
        sequences=settings.sequences,
        spacing=brains[0].spacing,
        orientation=axis_codes(brains[0].reference.affine),
    ).to(device)
    if stage == "senior" and settings.senior_init == "junior" and not resuming:
        warm_start(model, out / "junior")
    parts = optimisation(
        model,
        learning_rate=settings.learning_rate,
        weight_decay=settings.weight_decay,
        total_steps=epochs * settings.steps_per_epoch,
        amp=settings.amp,
        device=device,
    )
    transform = Compose([synthesis, training_transforms(settings.augmentation(), model.target)])
    inference = InferenceSettings(
        overlap=settings.overlap, device=str(device), output_device=str(device)
    )

    def validate(epoch: int) -> dict[str, float]:
        return validation_dice(model, validation, inference)

    plan = EpochPlan(
        epochs=epochs,
        steps_per_epoch=settings.steps_per_epoch,
        max_minutes=settings.max_minutes,
        amp=settings.amp,
        description=f"train {stage}",
    )
    return train_on_crops(
        run,
        parts,
        env,
        plan,
        settings,
        CropSamplesOf(Dataset(sample_records(brains)), len(brains), transform),
        loss_function=dice_ce_loss(model.target),
        validate=validate,
        resuming=resuming,
        progress=progress,
    )
