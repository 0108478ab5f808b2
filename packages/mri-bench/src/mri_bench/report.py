"""The benchmark report of a run folder: Markdown, HTML, figures and machine-readable exports.

Everything is read back from the folder (``results.sqlite``, ``config.json``, ``panels/``), so
``mri-bench report DIR`` can be rerun on a finished, resumed or merged run. Files written:
``report.md`` and ``report.html`` (the paper-style table: scenario rows, strategy x region
columns, median (IQR) with significance marks against the baseline; findings with p-values;
Friedman with Dunn-Bonferroni; image quality of the syntheses), ``boxplot.png``,
``slices.png``, ``results.csv`` (the tidy long table with provenance ids),
``provenance.json`` and ``summary.json`` (every statistic of every table).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import astuple
from pathlib import Path
from typing import Any

import numpy as np

from mri_bench.analysis import LOWER_IS_BETTER, Analysis, analyse, per_case
from mri_bench.document import Document
from mri_bench.errors import StoreError
from mri_bench.figures import box_plots, slice_panel
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
    analyses = {
        m: analyse(rows, m, comparisons, scenarios, strategies)
        for m in metrics
        if any(r.metric == m for r in rows)
    }
    baseline = comparisons[0][1] if comparisons else None
    cases = sorted({r.case_id for r in rows})
    centres = sorted({r.centre for r in rows})

    document = Document(TITLE)
    document.paragraph(
        f"Config `{config['name']}`: {len(cases)} cases (centres: {', '.join(centres)}), "
        f"{len(scenarios)} scenarios, strategies {', '.join(f'`{s}`' for s in strategies)}. "
        + (
            "A fixed segmenter trained on complete cases segments every completed case; "
            f"scores use the `{config['profile']}` profile of mri-metrics."
            if has_seg
            else "No segmenter was configured: only the image quality of completions is scored."
        )
    )
    legend = (
        "Cells: median (IQR) over the cases whose value is defined; `[k undef.]` counts the "
        "cases left out because their value is undefined (HD95 or NSD with an empty "
        "prediction or reference), so a median over the few defined ones is not read as the "
        "whole group's."
    )
    if baseline is not None:
        legend += (
            " Marks: Wilcoxon signed-rank test (two-sided, paired cases) of the strategy "
            f"against `{baseline}`: `+` better, `-` worse; * p < 0.05, ** p < 0.01, "
            "*** p < 0.001 (uncorrected; the findings say which survive Bonferroni)."
        )
    document.paragraph(legend)
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

    document.heading("Figures")
    values = per_case(rows, primary)
    region = analyses[primary].regions[0]
    box_values = {
        (s, t): list(values.get((s, t, region), {}).values()) for s in scenarios for t in strategies
    }
    box_plots(box_values, scenarios, strategies, f"{primary} ({region})", folder / "boxplot.png")
    document.image("boxplot.png", f"{primary} ({region}) per scenario and strategy")
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
    atomic_write_text(folder / "summary.json", json.dumps(summary, indent=1) + "\n")
    atomic_write_text(folder / "provenance.json", json.dumps(provenance, indent=1) + "\n")
    atomic_write_text(folder / "report.html", document.html())
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
