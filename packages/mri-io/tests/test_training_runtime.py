"""The shared training runtime: devices, run folders, state, metric log, torchrun reductions."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from mri_io.errors import RunFolderError, UnknownNameError
from mri_io.training import (
    DistributedEnv,
    MetricLog,
    RunFolder,
    any_rank,
    init_distributed,
    load_state,
    mean_over_ranks,
    resolve_device,
    save_state,
    seed_everything,
    torch_threads,
    worker_start_method,
)


def test_torch_threads_are_set_inside_the_block_and_restored_after() -> None:
    before = torch.get_num_threads()
    wanted = 1 if before != 1 else 2
    with torch_threads(wanted):
        assert torch.get_num_threads() == wanted
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError, match="inside"), torch_threads(wanted):
        raise RuntimeError("inside")
    assert torch.get_num_threads() == before


def test_workers_fork_unless_cuda_is_initialised(monkeypatch: pytest.MonkeyPatch) -> None:
    assert worker_start_method(0) is None
    assert worker_start_method(2) is None  # CPU: the platform's default start
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    assert worker_start_method(2) == "forkserver"
    assert worker_start_method(0) is None  # no workers, nothing to start


def test_device_names() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    expected = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    assert resolve_device(None) == resolve_device("auto") == expected
    with pytest.raises(UnknownNameError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(UnknownNameError, match="CUDA is not available"):
            resolve_device("cuda:1")


def test_one_process_needs_no_process_group() -> None:
    env = init_distributed("cpu")
    assert (env.rank, env.world_size, env.is_main, env.distributed) == (0, 1, True, False)
    assert mean_over_ranks({"a": 2.0}, env) == {"a": 2.0}
    assert any_rank(False, env) is False


def test_seeding_repeats_initialisation() -> None:
    seed_everything(5)
    first = torch.nn.Linear(4, 4).weight.detach().clone()
    seed_everything(5)
    assert torch.equal(torch.nn.Linear(4, 4).weight.detach(), first)


def test_a_new_run_writes_its_settings_and_refuses_a_second_start(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    assert run.begin({"lr": 0.1, "steps": 10}, resume=False) is False
    assert json.loads(run.run_file.read_text()) == {"lr": 0.1, "steps": 10}
    with pytest.raises(RunFolderError, match="holds a run already"):
        run.begin({"lr": 0.1, "steps": 10}, resume=False)


def test_resuming_checks_settings_except_resumable_ones(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    run.begin({"lr": 0.1, "steps": 10, "device": "cpu"}, resume=False)
    # Stopped before its first checkpoint: resuming starts it from the beginning.
    assert (
        run.begin({"lr": 0.1, "steps": 10, "device": "cuda"}, resume=True, resumable={"device"})
        is False
    )
    run.save_state({"step": 3, "w": torch.ones(2)})
    assert run.begin({"lr": 0.1, "steps": 10, "device": "cuda"}, resume=True, resumable={"device"})
    with pytest.raises(RunFolderError, match=r"other settings \(lr, steps\)") as info:
        run.begin({"lr": 0.2, "steps": 20, "device": "cpu"}, resume=True)
    assert "run.json" in str(info.value)
    state = run.load_state()
    assert state["step"] == 3
    assert torch.equal(state["w"], torch.ones(2))


def test_resuming_a_folder_without_a_run_is_named(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError, match=r"no run\.json: not a run folder"):
        RunFolder(tmp_path).begin({}, resume=True)


@pytest.mark.parametrize(
    ("files", "advice"),
    [
        (["train_config.json", "checkpoint.pt", "log.csv"], "mv train_config.json run.json"),
        (["run.json", "losses.csv", "state.pt", "config.json"], "mv losses.csv log.csv"),
    ],
)
def test_run_folders_of_earlier_versions_say_how_to_convert(
    tmp_path: Path, files: list[str], advice: str
) -> None:
    for name in files:
        (tmp_path / name).write_text("{}")
    with pytest.raises(RunFolderError, match="written by mri-") as info:
        RunFolder(tmp_path).begin({}, resume=True)
    assert advice in str(info.value)


def test_a_run_written_with_renamed_keys_resumes(tmp_path: Path) -> None:
    settings = {"label_convention": "brats2021", "steps": 10}
    (tmp_path / "run.json").write_text(json.dumps({"label_profile": "brats2021", "steps": 10}))
    run = RunFolder(tmp_path)
    assert run.settings() == settings
    assert run.begin(settings, resume=True) is False  # no state yet: it starts over
    with pytest.raises(RunFolderError, match="other settings \\(label_convention\\)"):
        run.begin({**settings, "label_convention": "brats2023"}, resume=True)


def test_state_refuses_pickled_code(tmp_path: Path) -> None:
    path = tmp_path / "state.pt"
    torch.save({"hook": print}, path)  # a pickle that would call a function
    with pytest.raises(RunFolderError, match="cannot read the training state") as info:
        load_state(path)
    assert str(path) in str(info.value)
    save_state({"step": 1, "rng": torch.get_rng_state()}, path)
    assert load_state(path)["step"] == 1
    with pytest.raises(RunFolderError, match="no training state"):
        load_state(tmp_path / "absent.pt")


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_log_grows_columns_and_drops_rows_after_the_resumed_step(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    with MetricLog(path) as log:
        log.write(1, {"loss": 1.0})
        log.write(2, {"loss": 0.5, "val_dice": 0.25})  # a new column rewrites the file
        log.write(3, {"loss": float("nan")})
        log.write(4, {"loss": 0.125})
    assert _rows(path) == [
        {"step": "1", "loss": "1", "val_dice": ""},
        {"step": "2", "loss": "0.5", "val_dice": "0.25"},
        {"step": "3", "loss": "", "val_dice": ""},
        {"step": "4", "loss": "0.125", "val_dice": ""},
    ]
    with MetricLog(path, resume_after=2) as log:  # state saved at step 2; 3 and 4 run again
        log.write(3, {"loss": 0.3})
    assert [row["step"] for row in _rows(path)] == ["1", "2", "3"]
    assert _rows(path)[2]["loss"] == "0.3"
    with MetricLog(path) as log:  # a new run starts a new log
        log.write(1, {"other": 2})
    assert _rows(path) == [{"step": "1", "other": "2"}]


def test_log_of_another_kind_is_named(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("epoch,loss\n1,0.5\n")
    with pytest.raises(RunFolderError, match="not a log keyed by 'step'"):
        MetricLog(path, resume_after=1)


_WORKER = textwrap.dedent(
    """
    import json, os, sys
    import torch
    from mri_io.training import any_rank, barrier, init_distributed, mean_over_ranks, shutdown

    torch.set_num_threads(1)
    env = init_distributed("cpu")
    values = mean_over_ranks({"loss": float(env.rank + 1), "n": 10.0 * env.rank}, env)
    flag = any_rank(env.rank == 1, env)
    barrier(env)
    with open(os.path.join(sys.argv[1], f"rank{env.rank}.json"), "w") as handle:
        json.dump({"world": env.world_size, "values": values, "flag": flag}, handle)
    shutdown(env)
    """
)


_RUN_WORKER = textwrap.dedent(
    """
    import sys
    import time
    import torch
    from mri_io.training import RunFolder, init_distributed, shutdown

    torch.set_num_threads(1)
    env = init_distributed("cpu")
    if env.rank == 1:
        time.sleep(1.0)  # without the wait in begin, rank 0 would write run.json first
    RunFolder(sys.argv[1]).begin({"lr": 0.1}, resume=False, env=env)
    shutdown(env)
    """
)


def test_a_new_run_under_torchrun_is_started_once(tmp_path: Path) -> None:
    """Every rank checks the empty folder before rank 0 writes run.json: none refuses."""
    script = tmp_path / "worker.py"
    script.write_text(_RUN_WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        "--standalone", str(script), str(tmp_path / "run"),
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((tmp_path / "run" / "run.json").read_text()) == {"lr": 0.1}


def test_torchrun_reductions_under_gloo(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        "--standalone", str(script), str(tmp_path),
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for rank in (0, 1):
        result = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert result == {"world": 2, "values": {"loss": 1.5, "n": 5.0}, "flag": True}


def test_environment_fields() -> None:
    env = DistributedEnv(rank=1, world_size=2, local_rank=1, device=torch.device("cpu"))
    assert env.distributed
    assert not env.is_main
