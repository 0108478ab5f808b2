"""The command line: run, report, scenarios, merge of shards, errors as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mri_bench.cli import main
from mri_bench.demo import DemoSettings
from mri_bench.store import read_rows


def config(tmp_path: Path, cohort: Path) -> Path:
    path = tmp_path / "bench.json"
    document = {
        "data": str(cohort),
        "reference": str(cohort),
        "scenarios": ["single-missing", "brasyn"],
        "strategies": ["copy", "copy-matched", "zero"],
        "comparisons": [["copy-matched", "copy"]],
    }
    path.write_text(json.dumps(document))
    return path


def test_scenarios_lists_the_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    assert "missing t1n+t1c+t2w" in out
    assert "group 'subsets': 15 scenarios" in out
    assert main(["scenarios", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 18


def test_sharded_runs_merge_into_the_unsharded_table(
    tmp_path: Path, cohort: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(tmp_path, cohort)
    whole = tmp_path / "whole"
    assert main(["run", str(path), "--out", str(whole), "--quiet"]) == 0
    assert (whole / "report.md").is_file()
    shards: list[str] = []
    for scenarios in ("missing t1n,missing t1c,missing t2w", "missing t2f,brasyn"):
        for strategy in ("copy", "copy-matched,zero"):
            shard = tmp_path / f"shard-{len(shards)}"
            argv = ["run", str(path), "--out", str(shard), "--quiet", "--no-report"]
            assert main([*argv, "--scenarios", scenarios, "--strategies", strategy]) == 0
            shards.append(str(shard))
    merged = tmp_path / "merged"
    assert main(["merge", str(merged), *shards]) == 0
    assert read_rows(merged / "results.sqlite") == read_rows(whole / "results.sqlite")
    assert "## Main table: ssim" in (merged / "report.md").read_text()
    capsys.readouterr()
    assert main(["report", str(merged)]) == 0
    assert capsys.readouterr().out.strip() == f"report: {merged / 'report.md'}"


def test_bad_config_is_one_line_naming_the_file(
    tmp_path: Path, cohort: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(
            {
                "data": str(cohort),
                "reference": str(cohort),
                "scenarios": ["complete"],
                "strategies": ["clone"],
            }
        )
    )
    assert main(["run", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"mri-bench: error: {path}: strategy 'clone': unknown kind 'clone'; "
        "choose copy, copy-matched, zero, mean, generator, segmenter"
    )
    path.write_text("{not json")
    assert main(["run", str(path), "--out", str(tmp_path / "o")]) == 2
    assert f"{path}: not valid JSON" in capsys.readouterr().err
    good = config(tmp_path, cohort)
    assert main(["run", str(good), "--out", str(tmp_path / "o"), "--strategies", "nope"]) == 2
    assert "no scenario or strategy ['nope']" in capsys.readouterr().err


@pytest.mark.parametrize("shard", ["4/3", "0/2", "2", "one/two"])
def test_a_bad_shard_is_one_line_and_writes_nothing(
    tmp_path: Path, cohort: Path, capsys: pytest.CaptureFixture[str], shard: str
) -> None:
    path = config(tmp_path, cohort)
    out = tmp_path / "o"
    with pytest.raises(SystemExit) as exit_info:  # argparse's exit on a bad option value
        main(["run", str(path), "--out", str(out), "--shard", shard])
    assert exit_info.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1
    assert "--shard: " in errors[0]
    assert "K/N" in errors[0]
    assert not out.exists()


def test_demo_trains_hfgan_on_whole_brain_reconstruction_unless_another_recipe_is_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[DemoSettings] = []

    def run_demo(out: Path, settings: DemoSettings) -> Path:
        seen.append(settings)
        return out / "report.md"

    monkeypatch.setattr("mri_bench.commands.demo.run_demo", run_demo)
    assert main(["demo", "--out", str(tmp_path)]) == 0
    for recipe in ("thesis", "reconstruction"):
        assert main(["demo", "--out", str(tmp_path), "--generator-recipe", recipe]) == 0
    assert [s.generator_recipe for s in seen] == ["whole-brain", "thesis", "reconstruction"]
    with pytest.raises(ValueError, match="unknown generator recipe 'gan'"):
        DemoSettings(generator_recipe="gan")  # type: ignore[arg-type]
