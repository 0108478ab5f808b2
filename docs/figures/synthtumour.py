"""Draw docs/images/synthtumour.png: what SynthTumour trains on, beside a test tumour.

One healthy brain of the synthetic cohort (half grid, 2 mm), axial slice through the tumour:
the brain as it is; a stage-1 tumour as the junior model sees it (soft blend, texture); the
same tumour as the validation set has it (hard mask, original texture); a stage-2 CarveMix
that pastes a glioblastoma of mri-io's generator (its reference labels standing in for a pseudo
label) into the healthy brain; and that glioblastoma case itself. Outlines: whole tumour (white)
and core (red). Run from the repository root: ``python docs/figures/synthtumour.py``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from mri_io.synthetic import generate_case
from mri_seg.synthtumour import carve_mix, draw_factors, draw_tumour, paint_tumour

OUT = Path(__file__).resolve().parents[1] / "images" / "synthtumour.png"
SEQUENCES = ("t1n", "t1c", "t2w", "t2f")
SPACING = (2.0, 2.0, 2.0)


def main() -> None:
    healthy_case = generate_case(0, seed=3, grid="half", tumour="none", centre="research-3t")
    tumour_case = generate_case(1, seed=4, grid="half", tumour="gbm", centre="research-3t")
    healthy = np.stack([healthy_case.images[k] for k in SEQUENCES]).astype(np.float32)
    donor = np.stack([tumour_case.images[k] for k in SEQUENCES]).astype(np.float32)
    brain = (healthy > 0).any(axis=0)
    rng = np.random.default_rng(7)
    labels = draw_tumour(brain, SPACING, rng)
    factors = draw_factors(SEQUENCES, rng)
    soft = np.stack(
        [
            paint_tumour(healthy[i], labels, factors[k], SPACING, rng)
            for i, k in enumerate(SEQUENCES)
        ]
    )
    hard = np.stack(
        [
            paint_tumour(healthy[i], labels, factors[k], SPACING, rng, hard=True)
            for i, k in enumerate(SEQUENCES)
        ]
    )
    mixed, mixed_labels = carve_mix(healthy, donor, tumour_case.labels.astype(np.uint8))
    columns = [
        ("healthy brain", healthy, None),
        ("stage 1 (training)", soft, labels),
        ("stage 1 (validation)", hard, labels),
        ("stage 2 CarveMix", mixed, mixed_labels),
        ("test case (mri-io)", donor, tumour_case.labels),
    ]
    figure, axes = plt.subplots(2, len(columns), figsize=(2.4 * len(columns), 5.2))
    for column, (title, images, label_map) in enumerate(columns):
        reference = labels if label_map is None else label_map
        z = int(np.argmax((reference > 0).sum(axis=(0, 1))))
        for row, key in enumerate(("t2f", "t1c")):
            axis = axes[row, column]
            image = images[SEQUENCES.index(key)][:, :, z]
            axis.imshow(np.rot90(image), cmap="gray", vmin=0, vmax=np.percentile(image, 99.5))
            if label_map is not None:
                for mask, colour in ((label_map > 0, "white"), (np.isin(label_map, (1, 3)), "red")):
                    axis.contour(np.rot90(mask[:, :, z]), levels=[0.5], colors=colour,
                                 linewidths=0.6)  # fmt: skip
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(title, fontsize=9)
            if column == 0:
                axis.set_ylabel(key, fontsize=9)
    figure.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(OUT, dpi=110)


if __name__ == "__main__":
    main()
