"""Draw docs/images/architecture.png: the packages, what each owns, and their contracts.

Run from the repository root: ``python docs/figures/architecture.py`` (needs matplotlib).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

OUT = Path(__file__).resolve().parents[1] / "images" / "architecture.png"

#: name -> (x, y, owns, contract)
BOXES = {
    "mri-io": (
        0.5,
        0.12,
        "NIfTI, layouts, normalisation, slicing,\nsynthetic cohort, labels, errors",
        "mri_io.training: device, torchrun, seeding,\nRunFolder, MetricLog, state\n"
        "mri_io.model_folder: kind, config, sha256",
    ),
    "mri-metrics": (
        0.14,
        0.45,
        "Dice, HD95, NSD, lesion-wise,\nSSIM, PSNR, FID",
        "mri_metrics,\nmri_metrics.torch",
    ),
    "mri-seg": (
        0.5,
        0.45,
        "3D U-Net (+KLE, robust), 2D segmenter,\nGANet-Seg, SynthTumour",
        "load_segmenter(folder)",
    ),
    "mri-gen": (
        0.86,
        0.45,
        "HF-GAN, UMMGAT",
        "load_generator(folder),\nmri_gen.hfgan, mri_gen.ummgat",
    ),
    "mri-bench": (
        0.5,
        0.8,
        "scenarios, completion, seg-and-score,\nstatistics, reports",
        "mri-bench run / report",
    ),
}
EDGES = [  # (user, used, label)
    ("mri-metrics", "mri-io", ""),
    ("mri-seg", "mri-io", ""),
    ("mri-seg", "mri-metrics", ""),
    ("mri-gen", "mri-io", ""),
    ("mri-gen", "mri-seg", "[seg] extra"),
    ("mri-bench", "mri-metrics", ""),
    ("mri-bench", "mri-seg", "[seg]"),
    ("mri-bench", "mri-gen", "[gen]"),
]
WIDTH, HEIGHT = 0.27, 0.2


def main() -> None:
    figure, axes = plt.subplots(figsize=(11, 7.5))
    axes.set_axis_off()
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 0.98)
    for user, used, label in EDGES:
        (x0, y0, *_), (x1, y1, *_) = BOXES[user], BOXES[used]
        sign = 1 if y1 < y0 else 0
        start = (x0, y0 - HEIGHT / 2 * sign) if y0 != y1 else (x0 - WIDTH / 2, y0)
        end = (x1, y1 + HEIGHT / 2 * sign) if y0 != y1 else (x1 + WIDTH / 2, y1)
        arrow = FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14, color="0.45")
        axes.add_patch(arrow)
        if label:
            axes.text(
                (start[0] + end[0]) / 2,
                (start[1] + end[1]) / 2 + 0.01,
                label,
                fontsize=8,
                color="0.3",
                ha="center",
            )
    for name, (x, y, owns, contract) in BOXES.items():
        box = FancyBboxPatch(
            (x - WIDTH / 2, y - HEIGHT / 2),
            WIDTH,
            HEIGHT,
            boxstyle="round,pad=0.01",
            facecolor="#eef3fa",
            edgecolor="#3a6ea5",
        )
        axes.add_patch(box)
        axes.text(
            x, y + HEIGHT / 2 - 0.03, name, ha="center", va="center", fontsize=12, weight="bold"
        )
        axes.text(x, y + 0.015, owns, ha="center", va="center", fontsize=8)
        axes.text(
            x,
            y - HEIGHT / 2 + 0.04,
            contract,
            ha="center",
            va="center",
            fontsize=7.5,
            family="monospace",
            color="#1d4f7c",
        )
    axes.set_title(
        "mri-suite: packages (what each owns; its contract in blue), arrows = uses", fontsize=11
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(OUT, dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    main()
