"""Report figures: paired per-case differences, critical-difference diagrams and slice panels
with segmentation overlays.

matplotlib runs headless (Agg) and every PNG is written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mri_bench.statistics import ALPHA, FriedmanResult, bootstrap_ci
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


def _strategy_colours(strategies: Sequence[str]) -> dict[str, Any]:
    plt = _pyplot()
    palette = plt.get_cmap("tab10")
    return {name: palette(i % 10) for i, name in enumerate(strategies)}


def paired_differences(
    values: Mapping[tuple[str, str, str], Mapping[str, float]],
    scenarios: Sequence[str],
    strategies: Sequence[str],
    regions: Sequence[str],
    baseline: str,
    label: str,
    lower_is_better: bool,
    path: Path,
) -> Path | None:
    """Per-case differences to ``baseline`` (one dot per case: the same case under both
    strategies), their median and its seeded bootstrap 95% interval; one row per region, the
    scenarios along the x axis. ``values[(scenario, strategy, region)]`` maps case -> value.

    Unpaired boxes hide what the tests measure: two strategies with overlapping boxes can
    still differ on every single case, which these differences show."""
    others = [t for t in strategies if t != baseline]
    shown = [
        s
        for s in scenarios
        if any((s, t, r) in values for t in others for r in regions)
        and any((s, baseline, r) in values for r in regions)
    ]
    if not others or not shown:
        return None
    plt = _pyplot()
    colours = _strategy_colours(strategies)
    width = max(6.0, 0.75 * len(shown) + 2.0)
    figure, axes = plt.subplots(
        len(regions), 1, figsize=(width, 2.4 * len(regions) + 1.0), sharex=True, squeeze=False
    )
    step = 0.8 / len(others)
    jitter = np.random.default_rng(0)
    for axis, region in zip(axes[:, 0], regions, strict=True):
        axis.axhline(0.0, color="0.5", linewidth=0.8)
        for index, strategy in enumerate(others):
            offset = -0.4 + step * (index + 0.5)
            dots_x: list[float] = []
            dots_y: list[float] = []
            centres: list[tuple[float, float, float, float]] = []
            for x, scenario in enumerate(shown):
                mine = values.get((scenario, strategy, region), {})
                theirs = values.get((scenario, baseline, region), {})
                diff = np.array([mine[c] - theirs[c] for c in sorted(set(mine) & set(theirs))])
                diff = diff[np.isfinite(diff)]
                if diff.size == 0:
                    continue
                spread = jitter.uniform(-0.3, 0.3, diff.size) * step
                dots_x += list(x + offset + spread)
                dots_y += list(diff)
                centres.append((x + offset, float(np.median(diff)), *bootstrap_ci(diff)))
            colour = colours[strategy]
            axis.scatter(dots_x, dots_y, s=7, color=colour, alpha=0.35, linewidths=0)
            if centres:
                xs, middles, lows, highs = np.array(centres).T
                axis.errorbar(
                    xs,
                    middles,
                    yerr=[middles - lows, highs - middles],
                    fmt="o",
                    color=colour,
                    markersize=4,
                    capsize=2,
                    label=f"{strategy} − {baseline}",
                )
        better = "below 0" if lower_is_better else "above 0"
        axis.set_ylabel(f"{region}: Δ {label}\n({better}: better)", fontsize=8)
        axis.grid(axis="y", color="0.9")
    bottom = axes[-1, 0]
    bottom.set_xticks(range(len(shown)))
    bottom.set_xticklabels(shown, rotation=35, ha="right", fontsize=8)
    bottom.set_xlim(-0.6, len(shown) - 0.4)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    figure.legend(
        handles,
        labels,
        loc="upper center",
        ncol=len(others),
        fontsize=8,
        title="per-case difference (dots), median and bootstrap 95% CI",
        title_fontsize=8,
    )
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.5 / (2.4 * len(regions) + 1.0)))
    _save(figure, path)
    return path


def _cliques(order: Sequence[str], different: Mapping[frozenset[str], bool]) -> list[range]:
    """Maximal runs of the rank-ordered strategies in which no pair differs significantly."""
    runs: list[range] = []
    for start in range(len(order)):
        stop = start
        while stop + 1 < len(order) and not any(
            different[frozenset((order[i], order[stop + 1]))] for i in range(start, stop + 1)
        ):
            stop += 1
        if stop > start and not any(start >= r.start and stop < r.stop for r in runs):
            runs.append(range(start, stop + 1))
    return runs


def _cd_panel(
    axis: Any,
    result: FriedmanResult,
    lower_is_better: bool,
    title: str,
    origin: tuple[float, float],
) -> None:
    """One diagram drawn at ``origin`` (its rank-1 end) in data units of one shared axis:
    drawing every panel into one axis keeps a many-panel figure fast to lay out."""
    x0, y0 = origin
    k = len(result.mean_ranks)
    # Rank 1 is the best strategy: Friedman ranks values in ascending order.
    ranks = {
        name: rank if lower_is_better else k + 1 - rank for name, rank in result.mean_ranks.items()
    }
    order = sorted(ranks, key=ranks.__getitem__)
    different = {frozenset(pair): p < ALPHA for pair, p in result.pairwise.items()}
    rows = (len(order) + 1) // 2
    axis.plot([x0, x0 + k - 1], [y0, y0], color="black", linewidth=1)
    for tick in range(1, k + 1):
        axis.plot([x0 + tick - 1] * 2, [y0, y0 + 0.15], color="black", linewidth=1)
        axis.text(x0 + tick - 1, y0 + 0.22, str(tick), ha="center", va="bottom", fontsize=7)
    for position, name in enumerate(order):
        left = position < rows
        level = y0 - 0.45 * (position + 1 if left else len(order) - position) - 0.3
        edge = x0 - 0.4 if left else x0 + k - 1 + 0.4
        x = x0 + ranks[name] - 1
        axis.plot([x, x, edge], [y0, level, level], color="0.3", linewidth=0.8)
        axis.text(
            edge + (-0.08 if left else 0.08),
            level,
            f"{name} {ranks[name]:.2f}",
            ha="right" if left else "left",
            va="center",
            fontsize=7,
        )
    for depth, run in enumerate(_cliques(order, different)):
        y = y0 - 0.12 - 0.1 * depth
        low, high = ranks[order[run.start]], ranks[order[run.stop - 1]]
        axis.plot([x0 + low - 1.04, x0 + high - 0.96], [y, y], color="tab:red", linewidth=2.5)
    axis.text(x0 + (k - 1) / 2, y0 + 0.75, title, ha="center", va="bottom", fontsize=8)


def critical_differences(
    results: Mapping[tuple[str, str], FriedmanResult],
    scenarios: Sequence[str],
    regions: Sequence[str],
    lower_is_better: bool,
    path: Path,
) -> Path | None:
    """Critical-difference diagrams of the Friedman tests, one per scenario (rows) and region
    (columns): each strategy's mean within-case rank on an axis (1 = best), and a red bar
    joining strategies that Dunn's Bonferroni-adjusted test does not separate (p >= 0.05)."""
    shown = [s for s in scenarios if any((s, r) in results for r in regions)]
    if not shown:
        return None
    plt = _pyplot()
    k = max(len(result.mean_ranks) for result in results.values())
    # Panel size in data units (one rank apart = 0.55 inch): the rank axis plus room for the
    # longest "name rank" label on both sides.
    longest = max(len(f"{name} 0.00") for result in results.values() for name in result.mean_ranks)
    side = 0.8 + 0.11 * longest
    width, height = k - 1 + 2 * side, 0.45 * ((k + 1) // 2) + 2.0
    inches = 0.55
    figure = plt.figure(figsize=(inches * width * len(regions), inches * height * len(shown)))
    axis = figure.add_axes((0, 0, 1, 1))
    axis.set_xlim(0, width * len(regions))
    axis.set_ylim(-height * len(shown), 0)
    axis.axis("off")
    for row, scenario in enumerate(shown):
        for column, region in enumerate(regions):
            result = results.get((scenario, region))
            if result is None:
                continue
            title = f"{scenario}, {region} (Friedman p = {result.p_value:.2g}, n = {result.n})"
            origin = (column * width + side, -row * height - 1.2)
            _cd_panel(axis, result, lower_is_better, title, origin)
    _save(figure, path)
    return path


def _contours(axis: Any, labels: npt.NDArray[Any]) -> None:
    for label, colour in LABEL_COLOURS.items():
        mask = np.rot90(labels == label)
        if mask.any():
            axis.contour(mask, levels=[0.5], colors=colour, linewidths=0.7)


def _brain_box(image: npt.NDArray[Any] | None, margin: int = 2) -> tuple[slice, ...]:
    """The slice's bounding box of non-zero voxels plus a margin: the brain fills the panel
    instead of a third of it."""
    if image is None or not np.any(image > 0):
        return (slice(None), slice(None))
    box = []
    for axis in range(2):
        where = np.flatnonzero(np.any(image > 0, axis=1 - axis))
        box.append(slice(max(0, where[0] - margin), where[-1] + 1 + margin))
    return tuple(box)


def _show(
    axis: Any,
    image: npt.NDArray[Any] | None,
    labels: npt.NDArray[Any] | None,
    box: tuple[slice, ...],
) -> None:
    if image is not None:
        axis.imshow(np.rot90(image[box]), cmap="gray", vmin=0, vmax=1)
    if labels is not None:
        _contours(axis, labels[box])
    axis.set_xticks([])
    axis.set_yticks([])


def slice_panel(
    panels: Mapping[tuple[str, str], Mapping[str, npt.NDArray[Any]]],
    scenarios: Sequence[str],
    strategies: Sequence[str],
    path: Path,
    *,
    rows: int = 4,
) -> Path | None:
    """Real vs completed sequence per scenario (rows) and strategy (columns), with the
    reference segmentation on the real image and each strategy's predicted segmentation on its
    completion (a strategy that completes nothing, its own segmenter taking the incomplete
    case, on the real image). ``panels[(scenario, strategy)]`` holds the arrays the pipeline
    saved.

    At most ``rows`` scenarios are drawn, those missing a single sequence first (each then
    shows the completion of another sequence), so the figure stays readable on a screen."""

    def completes(key: tuple[str, str]) -> bool:
        return key in panels and any(name.startswith("completed_") for name in panels[key])

    def completed(scenario: str) -> int:
        arrays = next(panels[scenario, t] for t in strategies if completes((scenario, t)))
        return sum(name.startswith("completed_") for name in arrays)

    candidates = [s for s in scenarios if any(completes((s, t)) for t in strategies)]
    if not candidates:
        return None
    shown = sorted(candidates, key=completed)[:rows]
    shown.sort(key=candidates.index)
    plt = _pyplot()
    columns = 1 + len(strategies)
    figure, axes = plt.subplots(
        len(shown), columns, figsize=(2.1 * columns, 2.2 * len(shown)), squeeze=False
    )
    for row, scenario in enumerate(shown):
        first = next(panels[scenario, t] for t in strategies if completes((scenario, t)))
        targets = sorted(k.removeprefix("completed_") for k in first if k.startswith("completed_"))
        target = targets[0]
        real = first.get(f"real_{target}")
        box = _brain_box(real)
        _show(axes[row, 0], real, first.get("reference_seg"), box)
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
            _show(axis, image, arrays.get("predicted_seg"), box)
            if row == 0:
                axis.set_title(f"{strategy} + predicted", fontsize=9)
    figure.tight_layout()
    _save(figure, path)
    return path
