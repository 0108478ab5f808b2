"""The benchmark under faults: unsafe strategy names, changed models on resume, two writers,
damaged stores, and SIGKILLed report, merge and demo. Each is refused with one line naming the
file, never a traceback or a table that silently mixes two computations; a killed writer
leaves no torn file and no report that looks finished, and its rerun completes the work."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from mri_bench.cli import main
from mri_bench.config import load_config
from mri_bench.errors import ConfigError, StoreError
from mri_bench.pipeline import run_benchmark
from mri_bench.store import STORE_NAME, ResultStore, Row, TaskResult, read_rows, writer_lock


def write_config(folder: Path, cohort: Path, **fields: object) -> Path:
    document = {
        "data": str(cohort),
        "reference": str(cohort),
        "scenarios": ["brasyn"],
        "strategies": ["zero"],
        **fields,
    }
    path = folder / "config.json"
    path.write_text(json.dumps(document))
    return path


def task(case: str, strategy: str = "copy", values: int = 30) -> TaskResult:
    rows = tuple(
        Row(case, "c", "s", strategy, "", "WT", f"m{i}", float(i), 0, "p") for i in range(values)
    )
    return TaskResult(case, "s", strategy, ("t1n",), 0.1, rows)


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1, err
    assert lines[0].startswith("mri-bench: error: ")
    return lines[0]


# --- names used as file names ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../../x", "a/b", ".hidden", "", "x\\y", "con fig"])
def test_a_strategy_name_that_is_not_a_safe_file_name_is_refused(
    tmp_path: Path, cohort: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    config = write_config(tmp_path, cohort, strategies=[{"name": name, "kind": "zero"}])
    with pytest.raises(ConfigError, match="not a safe file name"):
        load_config(config)
    out = tmp_path / "run"
    assert main(["run", str(config), "--out", str(out), "--quiet"]) == 2
    assert "safe file name" in error_line(capsys)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


# --- one writer, damaged stores ------------------------------------------------------------------


def test_a_second_writer_is_refused_naming_the_holder(
    tmp_path: Path, cohort: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, cohort)
    out = tmp_path / "run"
    with writer_lock(out / STORE_NAME):
        with pytest.raises(StoreError, match=r"another run is writing to this store \(pid \d+"):
            run_benchmark(load_config(config), out, resume=True, progress=False)
        assert main(["run", str(config), "--out", str(out), "--resume", "--quiet"]) == 2
        assert "another run is writing" in error_line(capsys)
    # Released: the run goes ahead.
    run_benchmark(load_config(config), out, resume=True, progress=False)
    assert read_rows(out / STORE_NAME)


def test_a_task_stored_twice_is_a_store_error_not_a_sqlite_traceback(tmp_path: Path) -> None:
    path = tmp_path / STORE_NAME
    with ResultStore(path) as first, ResultStore(path) as second:
        first.add(task("a"))
        with pytest.raises(StoreError, match=r"results\.sqlite: a result is stored twice"):
            second.add(task("a"))
        assert len(second.rows()) == 30


def _damaged_store(path: Path) -> None:
    with ResultStore(path) as store:
        store.set_meta("config_sha256", "x")
        for index in range(40):
            store.add(task(f"case{index:03d}"))
    content = bytearray(path.read_bytes())
    for page in (8, 12, 20):
        content[4096 * page : 4096 * page + 64] = b"\xff" * 64
    path.write_bytes(bytes(content))


def test_a_damaged_store_is_detected_on_open(tmp_path: Path) -> None:
    path = tmp_path / STORE_NAME
    _damaged_store(path)
    with pytest.raises(StoreError, match=r"results\.sqlite: the results store is damaged"):
        ResultStore(path)
    with pytest.raises(StoreError, match="damaged"):
        read_rows(path)


def test_report_merge_and_resume_of_a_damaged_store_are_one_line(
    tmp_path: Path, cohort: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, cohort)
    run = tmp_path / "run"
    run_benchmark(load_config(config), run, progress=False)
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    shutil.copy(run / "config.json", damaged / "config.json")
    _damaged_store(damaged / STORE_NAME)
    before = (damaged / STORE_NAME).read_bytes()
    assert main(["report", str(damaged)]) == 2
    assert "damaged" in error_line(capsys)
    assert main(["merge", str(tmp_path / "merged"), str(damaged)]) == 2
    assert "damaged" in error_line(capsys)
    assert main(["run", str(config), "--out", str(damaged), "--resume", "--quiet"]) == 2
    assert "damaged" in error_line(capsys)
    assert (damaged / STORE_NAME).read_bytes() == before


# --- resume with changed models ------------------------------------------------------------------


def test_resume_refuses_a_segmenter_whose_weights_changed(
    tmp_path: Path, cohort: Path, segmenter: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    from mri_seg import UNet3D

    weights = tmp_path / "segmenter"
    shutil.copytree(segmenter, weights)
    case = sorted(p.name for p in cohort.iterdir() if p.is_dir())[0]
    config = write_config(
        tmp_path, cohort, segmenter=str(weights), cases=[case], segmenter_window=[32, 32, 24]
    )
    out = tmp_path / "run"
    run_benchmark(load_config(config), out, progress=False)
    rows = read_rows(out / STORE_NAME)
    assert any(row.region == "WT" for row in rows)

    torch.manual_seed(1)  # other weights, same architecture and config
    UNet3D.from_preset("tiny", roi_size=(32, 32, 24)).save_pretrained(weights)
    with pytest.raises(StoreError, match=r"strategy 'zero' .*segmenter_sha256"):
        run_benchmark(load_config(config), out, resume=True, progress=False)
    assert main(["run", str(config), "--out", str(out), "--resume", "--quiet"]) == 2
    line = error_line(capsys)
    assert "segmenter_sha256" in line
    assert "--new-provenance" in line
    assert read_rows(out / STORE_NAME) == rows

    # Asked for, the run goes on; the stored rows keep their own provenance.
    run_benchmark(load_config(config), out, resume=True, progress=False, new_provenance=True)
    with sqlite3.connect(out / STORE_NAME) as db:
        assert db.execute("SELECT count(*) FROM provenance").fetchone()[0] == 2


# --- killed writers: report, merge, demo ---------------------------------------------------------

#: What a reader takes for a finished report (written last).
REPORT = ("report.md", "report.html")
#: Report files compared between an interrupted-then-rerun report and an uninterrupted one.
REPORT_TEXTS = ("report.md", "report.html", "summary.json", "results.csv", "provenance.json")


def killed(argv: list[str], patch: str) -> None:
    """Run ``mri-bench ARGV`` in a child process that ``patch`` (Python source) makes SIGKILL
    itself at a chosen point; the child must die there."""
    script = textwrap.dedent(
        """
        import os, shutil, signal
        def die():
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    script += textwrap.dedent(patch)
    script += f"\nfrom mri_bench.cli import main\nmain({argv!r})\n"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", script], check=False, env=env)
    assert result.returncode == -signal.SIGKILL, "the child must be killed at the patched point"


def dying_at(method: str, call: int) -> str:
    """A patch for :func:`killed`: the ``call``-th call of ``ResultStore.<method>`` dies."""
    return f"""
        from mri_bench.store import ResultStore
        real, calls = ResultStore.{method}, []
        def dying(self, *args):
            calls.append(args)
            if len(calls) == {call}:
                die()
            return real(self, *args)
        ResultStore.{method} = dying
        """


def assert_same_report(folder: Path, reference: Path) -> None:
    for name in REPORT_TEXTS:
        assert (folder / name).read_text() == (reference / name).read_text(), name


def visible(folder: Path) -> set[str]:
    """The names a reader sees (hidden temporaries of a killed atomic write left aside)."""
    return {p.name for p in folder.iterdir() if not p.name.startswith(".")}


def test_report_killed_while_writing_leaves_no_report_and_a_rerun_completes_it(
    tmp_path: Path, cohort: Path
) -> None:
    config = write_config(tmp_path, cohort, scenarios=["single-missing"], strategies=["copy"])
    run = tmp_path / "run"
    run_benchmark(load_config(config), run, progress=False)
    whole = tmp_path / "whole"
    shutil.copytree(run, whole)
    assert main(["report", str(whole)]) == 0
    # Killed with report.html fully written under its temporary name, not yet renamed.
    killed(
        ["report", str(run)],
        """
        real = os.replace
        def replace(source, target, *args, **kwargs):
            if os.path.basename(target) == "report.html":
                die()
            return real(source, target, *args, **kwargs)
        os.replace = replace
        """,
    )
    assert not visible(run) & set(REPORT), "a killed report must not look finished"
    for name in ("summary.json", "results.csv"):  # written before the kill, whole
        assert (run / name).read_text() == (whole / name).read_text()
    assert main(["report", str(run)]) == 0
    assert_same_report(run, whole)


def _stored_tasks(store: Path) -> int:
    with sqlite3.connect(store) as db:
        return int(db.execute("SELECT count(*) FROM tasks").fetchone()[0])


def test_a_run_killed_mid_benchmark_resumes_to_the_uninterrupted_table(
    tmp_path: Path, cohort: Path
) -> None:
    """A real SIGKILL after the 20th of 84 results; the resumed table equals an uninterrupted
    one, which runs in two worker processes (so parallel also equals serial)."""
    config_path = write_config(
        tmp_path,
        cohort,
        scenarios=["single-missing", "brasyn", "random missing", "centre shift"],
        strategies=["copy-matched", "zero"],
    )
    total = 6 * 7 * 2
    killed_run = tmp_path / "killed"
    argv = ["run", str(config_path), "--quiet", "--no-report", "--out", str(killed_run)]
    killed(argv, dying_at("add", 21))
    store = killed_run / STORE_NAME
    assert _stored_tasks(store) == 20
    config = load_config(config_path)
    run_benchmark(config, killed_run, resume=True, progress=False)
    uninterrupted = run_benchmark(config, tmp_path / "whole", progress=False, workers=2)
    resumed_rows = read_rows(store)
    assert resumed_rows == read_rows(uninterrupted)
    assert len({(r.case_id, r.scenario, r.strategy) for r in resumed_rows}) == total
    assert _stored_tasks(store) == total
    # Resuming a finished run computes nothing more.
    run_benchmark(config, killed_run, resume=True, progress=False)
    assert read_rows(store) == resumed_rows


def test_a_killed_case_shard_resumes_with_its_own_cases(tmp_path: Path, cohort: Path) -> None:
    """The partition ignores what is stored: a shard killed after 6 of its 24 results keeps
    its cases when resumed and ends equal to the same shard run without interruption."""
    config_path = write_config(
        tmp_path,
        cohort,
        scenarios=["single-missing", "brasyn", "random missing"],
        strategies=["copy-matched", "zero"],
    )
    base = ["run", str(config_path), "--quiet", "--no-report", "--shard", "2/3"]
    killed_run = tmp_path / "killed"
    killed([*base, "--out", str(killed_run)], dying_at("add", 7))
    store = killed_run / STORE_NAME
    assert _stored_tasks(store) == 6
    total = 2 * 6 * 2  # two of the six cases, six scenarios, two strategies
    assert main([*base, "--out", str(killed_run), "--resume"]) == 0
    uninterrupted = tmp_path / "whole-shard"
    assert main([*base, "--out", str(uninterrupted)]) == 0
    rows = read_rows(store)
    assert rows == read_rows(uninterrupted / STORE_NAME)
    assert len({(r.case_id, r.scenario, r.strategy) for r in rows}) == total


def _case_shards(tmp_path: Path, cohort: Path) -> tuple[Path, list[Path]]:
    """A config's whole run (reported) and its two case shards (not reported)."""
    config = write_config(
        tmp_path, cohort, scenarios=["single-missing"], strategies=["copy", "zero"]
    )
    whole = tmp_path / "whole"
    assert main(["run", str(config), "--out", str(whole), "--quiet"]) == 0
    shards = [tmp_path / "shard1", tmp_path / "shard2"]
    for index, shard in enumerate(shards, start=1):
        argv = ["run", str(config), "--out", str(shard), "--quiet", "--no-report"]
        assert main([*argv, "--shard", f"{index}/2"]) == 0
    return whole, shards


def test_merge_killed_inside_its_transaction_merges_nothing_and_a_rerun_completes_it(
    tmp_path: Path, cohort: Path
) -> None:
    whole, shards = _case_shards(tmp_path, cohort)
    merged = tmp_path / "merged"
    with ResultStore(shards[0] / STORE_NAME) as first:
        records = len(first.provenance())
    # The second shard's first provenance record: the first shard's rows are inserted, and
    # the transaction is not committed.
    killed(["merge", str(merged), *map(str, shards)], dying_at("add_provenance", records + 1))
    assert read_rows(merged / STORE_NAME) == []
    assert not visible(merged) & set(REPORT)
    assert main(["merge", str(merged), *map(str, shards)]) == 0
    assert read_rows(merged / STORE_NAME) == read_rows(whole / STORE_NAME)
    assert_same_report(merged, whole)


def test_merge_killed_while_copying_the_config_leaves_no_torn_file(
    tmp_path: Path, cohort: Path
) -> None:
    whole, shards = _case_shards(tmp_path, cohort)
    merged = tmp_path / "merged"
    # Half of config.json written, then killed.
    killed(
        ["merge", str(merged), *map(str, shards)],
        """
        def copyfile(source, target, *args, **kwargs):
            data = open(source, "rb").read()
            if os.path.basename(source) == "config.json":
                with open(target, "wb") as handle:
                    handle.write(data[: len(data) // 2])
                    handle.flush()
                die()
            with open(target, "wb") as handle:
                handle.write(data)
            return target
        shutil.copyfile = copyfile
        """,
    )
    assert "config.json" not in visible(merged)
    assert not visible(merged) & set(REPORT)
    assert main(["merge", str(merged), *map(str, shards)]) == 0
    assert read_rows(merged / STORE_NAME) == read_rows(whole / STORE_NAME)
    assert_same_report(merged, whole)


def test_merge_killed_before_its_report_leaves_no_stale_report(
    tmp_path: Path, cohort: Path
) -> None:
    whole, shards = _case_shards(tmp_path, cohort)
    merged = tmp_path / "merged"
    assert main(["merge", str(merged), str(shards[0])]) == 0
    assert "report.md" in visible(merged)  # the first shard's cases only
    # Adding the second shard: killed once its rows are committed, before the new report.
    killed(
        ["merge", str(merged), str(shards[1])],
        """
        import mri_bench.report
        def write_report(out):
            die()
        mri_bench.report.write_report = write_report
        """,
    )
    assert read_rows(merged / STORE_NAME) == read_rows(whole / STORE_NAME)
    assert not visible(merged) & set(REPORT), "the first shard's report must not remain"
    assert main(["merge", str(merged), str(shards[1])]) == 0
    assert_same_report(merged, whole)


def test_demo_killed_in_its_benchmark_is_not_a_report_and_resumes(tmp_path: Path) -> None:
    """The cheapest whole demo (2 held-out cases, 12 mm voxels, one training step of each
    network): 15 scenarios x (copy, hfgan) = 60 tasks. The 30 copy tasks are stored beside the
    generator's training (in a worker process, which the patch leaves alone); the demo is
    killed after 24 of the 30 generator tasks were stored."""
    out = tmp_path / "demo"
    argv = [
        "demo", "--out", str(out), "--train-cases", "3", "--test-cases", "2",
        "--voxel-mm", "12", "--anatomy", "procedural", "--segmenter-epochs", "1",
        "--segmenter-steps", "1", "--generator-steps", "1", "--baselines", "copy",
        "--device", "cpu",
    ]  # fmt: skip
    killed(argv, dying_at("add", 25))
    assert not visible(out) & {*REPORT, "timings.json"}, "a killed demo must not look finished"
    stored = read_rows(out / STORE_NAME)
    with ResultStore(out / STORE_NAME) as store:
        first = store.done()
    assert Counter(strategy for _, _, strategy in first) == {"copy": 30, "hfgan": 24}
    # The second run resumes: the stored tasks are kept as they were, the rest computed.
    assert main(argv) == 0
    with ResultStore(out / STORE_NAME) as store:
        assert len(store.done()) == 60
        assert first <= store.done()
    rows = read_rows(out / STORE_NAME)
    assert [r for r in rows if (r.case_id, r.scenario, r.strategy) in first] == stored
    assert {"report.md", "report.html", "timings.json"} <= visible(out)
