"""The benchmark report of a run folder: Markdown, HTML, figures and machine-readable exports.

Everything is read back from the folder (``results.sqlite``, ``config.json``, ``panels/``), so
``mri-bench report DIR`` can be rerun on a finished, resumed or merged run. Files written:
``report.md`` and ``report.html`` (the paper-style table: scenario rows, strategy x region
columns, median (IQR) over the tumour cases with significance marks against the baseline;
findings with p-values; Friedman with Dunn-Bonferroni; healthy cases as false-positive counts;
image quality of the syntheses; the HTML file embeds its figures), ``paired.png`` (per-case
differences to the baseline), ``ranks.png`` (critical-difference diagrams), ``slices.png``,
``results.csv`` (the tidy long table with provenance ids), ``provenance.json`` and
``summary.json`` (every statistic of every table).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import astuple
from pathlib import Path
from typing import Any

import numpy as np

from mri_bench.analysis import (
    LOWER_IS_BETTER,
    Analysis,
    analyse,
    detections,
    empty_mask_penalty,
    healthy_cases,
    per_case,
)
from mri_bench.document import Document
from mri_bench.errors import StoreError
from mri_bench.figures import critical_differences, paired_differences, slice_panel
from mri_bench.pipeline import CONFIG_NAME, PANELS, panel_path
from mri_bench.scenarios import Scenario, missing_distribution
from mri_bench.statistics import significance_mark
from mri_bench.store import COLUMNS, STORE_NAME, ResultStore, Row, read_rows
from mri_io.atomic import atomic_write, atomic_write_text

TITLE = "mri-bench report"
#: Tables of a report, the first being the main one.
SEGMENTATION_TABLES = ("dice", "hd95", "nsd@1", "lesion_dice", "ssim", "psnr")
IMAGE_TABLES = ("ssim", "psnr", "mae")


def _cell(analysis: Analysis, scenario: str, strategy: str, region: str, mark: str) -> str:
    summary = analysis.summaries.get((scenario, strategy, region))
    if summary is None or summary.n + summary.undefined == 0:
        return "–"
    undefined = f" [{summary.undefined} undef.]" if summary.undefined else ""
    if summary.penalised:
        undefined += f" [{summary.penalised} empty → {analysis.penalty:g}]"
    if summary.n == 0:
        return f"undefined{undefined}"
    digits = 3 if abs(summary.median) < 10 else 1
    text = f"{summary.median:.{digits}f} ({summary.q1:.{digits}f}–{summary.q3:.{digits}f})"
    return text + mark + undefined


def paper_table(analysis: Analysis, baseline: str | None) -> tuple[list[str], list[list[str]]]:
    """Scenario rows, region x strategy columns; a strategy's cell carries the significance
    mark of its Wilcoxon test against ``baseline`` (``+`` better, ``-`` worse)."""
    tests = {
        (c.scenario, c.region, c.strategy): c
        for c in analysis.comparisons
        if c.baseline == baseline
    }
    header = ["scenario"] + [
        f"{region} {strategy}" for region in analysis.regions for strategy in analysis.strategies
    ]
    rows = []
    for scenario in analysis.scenarios:
        cells = [scenario]
        for region in analysis.regions:
            for strategy in analysis.strategies:
                test = tests.get((scenario, region, strategy))
                mark = ""
                if test is not None:
                    stars = significance_mark(test.test.p_value)
                    if stars:
                        mark = f" {'+' if test.better(analysis.metric) else '-'}{stars}"
                cells.append(_cell(analysis, scenario, strategy, region, mark))
        if any(c != "–" for c in cells[1:]):
            rows.append(cells)
    return header, rows


def _finding(analysis: Analysis, comparison: Any) -> str:
    test = comparison.test
    verb = "beats" if comparison.better(analysis.metric) else "loses to"
    robust = (
        "survives Bonferroni over "
        if analysis.survives_bonferroni(comparison)
        else "not significant after Bonferroni over "
    )
    return (
        f"{comparison.scenario}, {comparison.region}: `{comparison.strategy}` {verb} "
        f"`{comparison.baseline}` on {analysis.metric} (median paired difference "
        f"{test.median_difference:+.3g}, Wilcoxon p = {test.p_value:.3g}, Cohen's d = "
        f"{test.cohens_d:+.2f}, n = {test.n}; {robust}{analysis.n_tests} tests)"
    )


def _findings(document: Document, analysis: Analysis) -> None:
    found = analysis.findings()
    tested = analysis.n_tests
    if tested == 0:
        document.paragraph("No generated-vs-baseline comparison was configured or possible.")
        return
    wins = [c for c in found if c.better(analysis.metric)]
    losses = [c for c in found if not c.better(analysis.metric)]
    document.paragraph(
        f"{len(wins)} of {tested} Wilcoxon tests on {analysis.metric} show the first strategy "
        f"significantly better than its baseline (p < 0.05), {len(losses)} significantly worse, "
        f"and {tested - len(found)} show no significant difference."
    )
    if found:
        document.bullets([_finding(analysis, c) for c in found])
    smallest = min(c.test.n for c in analysis.comparisons)
    if smallest < 6:
        document.paragraph(
            f"Some comparisons pair only {smallest} cases: a two-sided Wilcoxon test on "
            f"{smallest} cases cannot reach p < {2 / 2**smallest:.3g}, so no difference there "
            "can be significant at 0.05 whatever the scores; score at least 6 cases."
        )


def _friedman(document: Document, analysis: Analysis) -> None:
    if not analysis.friedman:
        return
    rows = []
    for (scenario, region), result in analysis.friedman.items():
        ranks = ", ".join(f"{k} {v:.2f}" for k, v in result.mean_ranks.items())
        pairs = "; ".join(
            f"{a} vs {b} p={p:.3g}{significance_mark(p)}" for (a, b), p in result.pairwise.items()
        )
        statistic, p_value = f"{result.statistic:.2f}", f"{result.p_value:.3g}"
        rows.append([scenario, region, statistic, p_value, ranks, pairs])
    document.heading(
        f"Friedman across strategies, Dunn post hoc with Bonferroni ({analysis.metric})"
    )
    document.table(["scenario", "region", "chi²", "p", "mean ranks", "Dunn (adjusted p)"], rows)


def _legend(
    profile: str,
    penalty: tuple[float, bool] | None,
    baseline: str | None,
    healthy: set[str] | None,
    has_seg: bool,
) -> str:
    legend = "Cells: median (IQR)"
    if healthy:
        legend += (
            " over the cases with a tumour (healthy cases score only Dice 0 or 1 and would "
            "dominate the medians: they are counted under *Healthy cases*)"
        )
    legend += (
        "; `[k undef.]` counts the cases left out because their value is undefined (a "
        "distance to an empty mask where the profile names no penalty), so a median over the "
        "few defined ones is not read as the whole group's."
    )
    if penalty is not None:
        value, scored = penalty
        source = (
            f"profile `{profile}` scores an HD95 with one empty mask (prediction or reference) "
            f"as {value:g} mm"
            if scored
            else f"profile `{profile}` leaves an HD95 with one empty mask (prediction or "
            f"reference) undefined; the tables and tests count it as {value:g} mm, the "
            "penalty its BraTS 2023 lesion-wise scores give a missed lesion"
        )
        legend += (
            f" HD95: {source}, so a strategy that segments nothing cannot score a better HD95 "
            f"than one that segments badly; `[k empty → {value:g}]` counts those cases, and "
            "`summary.json` also holds the medians with them left out "
            "(`summaries_undefined_dropped`)."
        )
    if has_seg and healthy is None:
        legend += (
            " The store holds no voxel counts (written by an older mri-bench), so healthy "
            "cases cannot be told apart: every case is in the tables."
        )
    if baseline is not None:
        legend += (
            " Marks: Wilcoxon signed-rank test (two-sided, paired cases) of the strategy "
            f"against `{baseline}`: `+` better, `-` worse; * p < 0.05, ** p < 0.01, "
            "*** p < 0.001 (uncorrected; the findings say which survive Bonferroni)."
        )
    return legend


def _healthy(
    document: Document,
    rows: Sequence[Row],
    healthy: set[str] | None,
    scenarios: Sequence[str],
    strategies: Sequence[str],
) -> list[dict[str, Any]]:
    """The false-positive table of the healthy cases; returns it for ``summary.json``."""
    if not healthy:
        return []
    counts = detections(rows, healthy)
    document.heading("Healthy cases: false positives")
    document.paragraph(
        f"{len(healthy)} held-out {'case has' if len(healthy) == 1 else 'cases have'} no "
        "tumour in the reference. A cell counts "
        "those given any predicted tumour (WT) by the segmenter after the strategy's "
        "completion, out of the healthy cases scored (false-positive rate)."
    )
    table = []
    for scenario in scenarios:
        cells = [scenario]
        for strategy in strategies:
            found, total = counts.get((scenario, strategy), (0, 0))
            cells.append(f"{found}/{total} ({found / total:.0%})" if total else "–")
        if any(c != "–" for c in cells[1:]):
            table.append(cells)
    document.table(["scenario", *strategies], table)
    return [
        {"scenario": s, "strategy": t, "with_prediction": found, "cases": total}
        for (s, t), (found, total) in counts.items()
    ]


def _figures(
    document: Document,
    folder: Path,
    analysis: Analysis,
    rows: Sequence[Row],
    baseline: str | None,
) -> None:
    """The paired differences and the critical-difference diagrams of the main metric."""
    metric, strategies = analysis.metric, analysis.strategies
    lower = metric in LOWER_IS_BETTER
    reference = baseline or strategies[0]
    paired = paired_differences(
        per_case(rows, metric),
        analysis.scenarios,
        strategies,
        analysis.regions,
        reference,
        metric,
        lower,
        folder / "paired.png",
    )
    if paired is not None:
        document.image(
            paired.name,
            f"{metric}: each strategy minus `{reference}` on the same case (dots), the median "
            "difference and its bootstrap 95% confidence interval, per scenario and region",
        )
    ranks = critical_differences(
        analysis.friedman, analysis.scenarios, analysis.regions, lower, folder / "ranks.png"
    )
    if ranks is not None:
        document.image(
            ranks.name,
            f"{metric}: mean rank of each strategy over the cases (1 = best); red bars join "
            "strategies that Dunn's test (Bonferroni) does not separate at p < 0.05",
        )


def _load_config(out: Path) -> dict[str, Any]:
    path = out / CONFIG_NAME
    if not path.is_file():
        raise StoreError(f"{out}: no {CONFIG_NAME}; is this a mri-bench run folder?")
    config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return config


def write_csv(rows: Sequence[Row], path: Path) -> Path:
    """The tidy long table as CSV (one row per number)."""
    with atomic_write(path) as temporary, temporary.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(astuple(row) for row in rows)
    return path


def _panels(out: Path, scenarios: Sequence[str], strategies: Sequence[str]) -> dict[Any, Any]:
    found = {}
    for scenario in scenarios:
        for strategy in strategies:
            path = panel_path(out / PANELS, scenario, strategy)
            if path.is_file():
                with np.load(path) as data:
                    found[scenario, strategy] = {key: data[key] for key in data.files}
    return found


def write_report(out: str | Path) -> Path:
    """Write the report files into the run folder ``out``; returns ``report.md``."""
    folder = Path(out)
    config = _load_config(folder)
    rows = read_rows(folder / STORE_NAME)
    if not rows:
        raise StoreError(f"{folder / STORE_NAME}: holds no results yet")
    with ResultStore(folder / STORE_NAME) as store:
        provenance = store.provenance()
    scenario_defs = [Scenario.from_json(s) for s in config["scenarios"]]
    present = {r.scenario for r in rows}
    scenarios = [s.name for s in scenario_defs if s.name in present]
    scored = {r.strategy for r in rows}
    strategies = [s["name"] for s in config["strategies"] if s["name"] in scored]
    comparisons = [tuple(pair) for pair in config["comparisons"]]
    has_seg = any(r.metric == "dice" for r in rows)
    primary = "dice" if has_seg else "ssim"
    metrics = SEGMENTATION_TABLES if has_seg else IMAGE_TABLES
    cases = sorted({r.case_id for r in rows})
    healthy = healthy_cases(rows) if has_seg else None
    scored_rows = rows if not healthy else [r for r in rows if r.case_id not in healthy]
    penalty = empty_mask_penalty(config["profile"]) if has_seg else None
    analyses = {
        m: analyse(
            scored_rows,
            m,
            comparisons,
            scenarios,
            strategies,
            penalty=penalty[0] if penalty is not None and m == "hd95" else None,
        )
        for m in metrics
        if any(r.metric == m for r in scored_rows)
    }
    baseline = comparisons[0][1] if comparisons else None
    centres = sorted({r.centre for r in rows})

    document = Document(TITLE)
    split = (
        ""
        if healthy is None
        else f", {len(cases) - len(healthy)} with a tumour and {len(healthy)} healthy"
    )
    document.paragraph(
        f"Config `{config['name']}`: {len(cases)} cases{split} (centres: {', '.join(centres)}), "
        f"{len(scenarios)} scenarios, strategies {', '.join(f'`{s}`' for s in strategies)}. "
        + (
            "A fixed segmenter trained on complete cases segments every completed case; "
            f"scores use the `{config['profile']}` profile of mri-metrics."
            if has_seg
            else "No segmenter was configured: only the image quality of completions is scored."
        )
    )
    document.paragraph(_legend(config["profile"], penalty, baseline, healthy, has_seg))
    document.heading(f"Main table: {primary}")
    document.table(*paper_table(analyses[primary], baseline))
    document.heading("Findings")
    _findings(document, analyses[primary])
    for metric, analysis in analyses.items():
        if metric == primary:
            continue
        better = "lower" if metric in LOWER_IS_BETTER else "higher"
        document.heading(f"{metric} ({better} is better)")
        document.table(*paper_table(analysis, baseline))
    _friedman(document, analyses[primary])
    false_positives = _healthy(document, rows, healthy, scenarios, strategies)

    document.heading("Figures")
    _figures(document, folder, analyses[primary], scored_rows, baseline)
    panel = slice_panel(
        _panels(folder, scenarios, strategies), scenarios, strategies, folder / "slices.png"
    )
    if panel is not None:
        document.image(
            "slices.png",
            f"case {config.get('panel_case') or cases[0]}: real vs completed sequence, "
            "reference and predicted segmentation contours (red NETC, green SNFH, orange ET)",
        )

    document.heading("Scenarios")
    scenario_rows = []
    for scenario in scenario_defs:
        if scenario.name not in present:
            continue
        if scenario.kind == "subset":
            kept = ", ".join(scenario.available)
        else:
            drawn = missing_distribution(scenario, cases)
            kept = f"{scenario.kind} (seed {scenario.seed}); missing: " + ", ".join(
                f"{k} x{v}" for k, v in drawn.items()
            )
        shift = "" if scenario.shift is None else json.dumps(scenario.shift.to_json())
        scenario_rows.append([scenario.name, kept, shift, ", ".join(scenario.centres) or "all"])
    document.table(["scenario", "available / missing", "shift", "centres"], scenario_rows)
    document.heading("Provenance")
    document.bullets(
        [f"`{key}`: {json.dumps(record, sort_keys=True)}" for key, record in provenance.items()]
    )
    document.paragraph(
        "Machine-readable: `results.csv` (tidy long table), `summary.json` (every statistic), "
        "`provenance.json`, `results.sqlite` (the store), `config.json` (the resolved config)."
    )

    write_csv(rows, folder / "results.csv")
    summary = _finite({m: a.to_json() for m, a in analyses.items()})
    summary["healthy_cases"] = None if healthy is None else sorted(healthy)
    summary["false_positives"] = false_positives
    atomic_write_text(folder / "summary.json", json.dumps(summary, indent=1) + "\n")
    atomic_write_text(folder / "provenance.json", json.dumps(provenance, indent=1) + "\n")
    atomic_write_text(folder / "report.html", document.html(folder))
    return atomic_write_text(folder / "report.md", document.markdown())


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
