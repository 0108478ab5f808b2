"""Report figures: box plots per scenario and slice panels with segmentation overlays.

matplotlib runs headless (Agg) and every PNG is written atomically.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mri_io.atomic import atomic_write

#: Overlay colours of the labels 1 (NETC), 2 (SNFH) and 3 (ET).
LABEL_COLOURS = {1: "tab:red", 2: "tab:green", 3: "tab:orange"}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Any, path: Path) -> None:
    with atomic_write(path) as temporary:
        figure.savefig(temporary, dpi=100, format="png")
    _pyplot().close(figure)


def box_plots(
    values: Mapping[tuple[str, str], Sequence[float]],
    scenarios: Sequence[str],
    strategies: Sequence[str],
    label: str,
    path: Path,
) -> Path:
    """One box plot per scenario, one box per strategy; ``values[(scenario, strategy)]``."""
    plt = _pyplot()
    shown = [s for s in scenarios if any(values.get((s, t)) for t in strategies)]
    columns = min(5, max(1, len(shown)))
    rows = max(1, math.ceil(len(shown) / columns))
    figure, axes = plt.subplots(
        rows, columns, figsize=(2.6 * columns, 2.6 * rows), sharey=True, squeeze=False
    )
    for axis in axes.flat[len(shown) :]:
        axis.set_visible(False)
    for axis, scenario in zip(axes.flat, shown, strict=False):
        data = [[v for v in values.get((scenario, t), []) if np.isfinite(v)] for t in strategies]
        axis.boxplot(data, tick_labels=list(strategies))
        axis.set_title(scenario, fontsize=9)
        axis.tick_params(axis="x", rotation=45, labelsize=7)
    for axis in axes[:, 0]:
        axis.set_ylabel(label)
    figure.tight_layout()
    _save(figure, path)
    return path


def _contours(axis: Any, labels: npt.NDArray[Any]) -> None:
    for label, colour in LABEL_COLOURS.items():
        mask = np.rot90(labels == label)
        if mask.any():
            axis.contour(mask, levels=[0.5], colors=colour, linewidths=0.7)


def _show(axis: Any, image: npt.NDArray[Any] | None, labels: npt.NDArray[Any] | None) -> None:
    if image is not None:
        axis.imshow(np.rot90(image), cmap="gray", vmin=0, vmax=1)
    if labels is not None:
        _contours(axis, labels)
    axis.set_xticks([])
    axis.set_yticks([])


def slice_panel(
    panels: Mapping[tuple[str, str], Mapping[str, npt.NDArray[Any]]],
    scenarios: Sequence[str],
    strategies: Sequence[str],
    path: Path,
) -> Path | None:
    """Real vs completed sequence per scenario (rows) and strategy (columns), with the
    reference segmentation on the real image and each strategy's predicted segmentation on its
    completion (a strategy that completes nothing, its own segmenter taking the incomplete
    case, on the real image). ``panels[(scenario, strategy)]`` holds the arrays the pipeline
    saved."""

    def completes(key: tuple[str, str]) -> bool:
        return key in panels and any(name.startswith("completed_") for name in panels[key])

    shown = [s for s in scenarios if any(completes((s, t)) for t in strategies)]
    if not shown:
        return None
    plt = _pyplot()
    columns = 1 + len(strategies)
    figure, axes = plt.subplots(
        len(shown), columns, figsize=(2.3 * columns, 2.4 * len(shown)), squeeze=False
    )
    for row, scenario in enumerate(shown):
        first = next(panels[scenario, t] for t in strategies if completes((scenario, t)))
        targets = sorted(k.removeprefix("completed_") for k in first if k.startswith("completed_"))
        target = targets[0]
        real = first.get(f"real_{target}")
        _show(axes[row, 0], real, first.get("reference_seg"))
        axes[row, 0].set_ylabel(f"{scenario}\n({target} shown)", fontsize=8)
        if row == 0:
            axes[row, 0].set_title("real + reference", fontsize=9)
        for column, strategy in enumerate(strategies, start=1):
            arrays = panels.get((scenario, strategy))
            axis = axes[row, column]
            if arrays is None:
                axis.set_visible(False)
                continue
            image = arrays.get(f"completed_{target}", real)
            _show(axis, image, arrays.get("predicted_seg"))
            if row == 0:
                axis.set_title(f"{strategy} + predicted", fontsize=9)
    figure.tight_layout()
    _save(figure, path)
    return path
