"""Draw the synthetic-cohort montage: four sequences and the labels for a few cases.

Run from the repository root (matplotlib is needed here only, not by mri-io)::

    python packages/mri-io/benchmarks/synthetic_montage.py docs/images/synthetic-montage.png

Each row is one case at its tumour's largest axial slice: T1, T1 post-contrast, T2, FLAIR
(each windowed at its own 0.5-99.5th percentile of the brain, as a viewer would), then FLAIR
with the labels over it (NETC red, edema green, ET yellow, as in BraTS figures).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from numpy.typing import NDArray

from mri_io.sequences import SEQUENCES
from mri_io.synthetic import SyntheticCase, generate_case
from mri_io.synthetic.case import AnatomyName, TumourChoice

#: (tumour, centre, anatomy) of each row.
ROWS: tuple[tuple[TumourChoice, str, AnatomyName], ...] = (
    ("gbm", "research-3t", "mni"),
    ("met", "research-3t", "mni"),
    ("men", "clinical-1.5t", "mni"),
    ("gbm", "clinical-1.5t", "procedural"),
    ("none", "research-3t", "procedural"),
)
LABEL_COLOURS = ListedColormap(
    [(0, 0, 0, 0), (0.9, 0.1, 0.1, 0.6), (0.1, 0.85, 0.2, 0.45), (1.0, 0.9, 0.0, 0.7)]
)


def axial_slice(case: SyntheticCase) -> int:
    """The axial slice with the most tumour, or the middle of the brain for a healthy case."""
    per_slice = (case.labels > 0).sum(axis=(0, 1))
    if per_slice.any():
        return int(np.argmax(per_slice))
    brain = (case.tissues > 0).sum(axis=(0, 1))
    return int(np.flatnonzero(brain)[len(np.flatnonzero(brain)) // 2])


def show(image: NDArray[Any]) -> NDArray[Any]:
    """Radiological display of a BraTS (L-P-S) axial slice: anterior up, patient left right.

    Array axis 1 runs from anterior to posterior and axis 0 from the patient's right to left,
    so the transpose puts anterior at the top and the patient's right on the viewer's left.
    """
    return image.T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="PNG file to write")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--grid", choices=("full", "half"), default="full")
    args = parser.parse_args()

    fig, axes = plt.subplots(len(ROWS), 5, figsize=(11, 2.9 * len(ROWS)), facecolor="black")
    for row, (tumour, centre, anatomy) in enumerate(ROWS):
        case = generate_case(
            row, seed=args.seed, grid=args.grid, tumour=tumour, centre=centre, anatomy=anatomy
        )
        k = axial_slice(case)
        head = np.argwhere(case.tissues[:, :, k] > 0)
        lo = np.maximum(head.min(axis=0) - 4, 0)
        hi = head.max(axis=0) + 5
        crop = (slice(lo[0], hi[0]), slice(lo[1], hi[1]), k)
        for col, sequence in enumerate((*SEQUENCES, "t2f")):
            ax = axes[row, col]
            ax.set_axis_off()
            if sequence not in case.images:
                continue
            volume = case.images[sequence]
            low, high = np.percentile(volume[volume > 0], (0.5, 99.5))
            ax.imshow(show(volume[crop]), cmap="gray", vmin=low, vmax=high)
            if col == 4:
                ax.imshow(
                    show(case.labels[crop]),
                    cmap=LABEL_COLOURS,
                    vmin=0,
                    vmax=3,
                    interpolation="nearest",
                )
            title = "labels on t2f" if col == 4 else sequence
            if row == 0 or col == 0:
                title = f"{title}\n{case.centre}, {tumour}, {anatomy}" if col == 0 else title
            ax.set_title(title, color="white", fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100, facecolor="black")


if __name__ == "__main__":
    main()
