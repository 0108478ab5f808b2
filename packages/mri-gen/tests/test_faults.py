"""Completing cases under faults: a failed or killed case leaves no folder that a scan (or the
benchmark) would read as a case, and two cases with one id are refused, naming both."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from numpy.typing import NDArray

from mri_gen import completion
from mri_gen.cli import main
from mri_gen.completion import complete_case, complete_cohort
from mri_gen.errors import NonFiniteOutputError
from mri_gen.loader import load_generator
from mri_gen.ummgat.config import PRESETS as UMMGAT_PRESETS
from mri_gen.ummgat.networks import UMMGATModel
from mri_io import LayoutError, new_volume, save_volume, scan_cases
from mri_io.case import Case
from mri_io.layouts import brats2023_filename
from mri_io.model_folder import read_model_folder
from mri_io.synthetic import FULL_GRID
from mri_io.synthetic.cohort import write_cohort
from mri_io.testing import kill_at_call, kill_at_rename, kill_in_model_save, run_killed, visible

SHAPE = (10, 12, 8)


class ZeroGenerator:
    """Completes every missing sequence with zeros: the file handling is under test."""

    kind: ClassVar[str] = "zero"

    @property
    def sequences(self) -> tuple[str, ...]:
        return ("t1n", "t1c", "t2w", "t2f")

    def complete(
        self,
        case: Case,
        missing: Sequence[str] | None = None,
        *,
        centre: str | None = None,
        target_centre: str | None = None,
        seed: int = 0,
    ) -> dict[str, NDArray[np.float32]]:
        lacking = [name for name in self.sequences if name not in case.images]
        return {name: np.zeros(SHAPE, np.float32) for name in lacking}


def write_case(folder: Path, case_id: str) -> None:
    """A BraSyn-style case: t2f absent, segmentation present."""
    for name in ("t1n", "t1c", "t2w"):
        data = np.full(SHAPE, 100, np.int16)
        save_volume(new_volume(data, np.eye(4)), folder / brats2023_filename(case_id, name))
    seg = np.zeros(SHAPE, np.uint8)
    save_volume(new_volume(seg, np.eye(4)), folder / brats2023_filename(case_id, "seg"))


def test_a_case_that_fails_half_way_leaves_no_case_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_case(tmp_path / "in" / "BraTS-GLI-00001-000", "BraTS-GLI-00001-000")
    files = scan_cases(tmp_path / "in")[0]
    real_copy, calls = completion._copy, []

    def failing_copy(source: Path, target: Path) -> None:
        calls.append(source)
        if len(calls) == 2:
            raise OSError(28, "No space left on device", str(target))
        real_copy(source, target)

    monkeypatch.setattr(completion, "_copy", failing_copy)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="No space"):
        complete_case(ZeroGenerator(), files, out)
    assert list(out.iterdir()) == []
    with pytest.raises(LayoutError, match="no case files"):
        scan_cases(out)


def test_a_completed_case_is_whole_and_replaces_an_earlier_one(tmp_path: Path) -> None:
    case_id = "BraTS-GLI-00001-000"
    write_case(tmp_path / "in" / case_id, case_id)
    files = scan_cases(tmp_path / "in")[0]
    stale = tmp_path / "out" / case_id / "stale.nii.gz"
    save_volume(new_volume(np.zeros(SHAPE, np.uint8), np.eye(4)), stale)
    written = complete_case(ZeroGenerator(), files, tmp_path / "out")
    assert written == [tmp_path / "out" / case_id / brats2023_filename(case_id, "t2f")]
    assert all(path.is_file() for path in written)
    assert not stale.exists()
    (case,) = scan_cases(tmp_path / "out")
    assert case.missing == ()
    assert case.seg is not None


def test_completion_killed_mid_case_leaves_no_case_that_scan_reads(tmp_path: Path) -> None:
    for index in range(2):
        case_id = f"BraTS-GLI-{index:05d}-000"
        write_case(tmp_path / "in" / case_id, case_id)
    out = tmp_path / "out"
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_faults import ZeroGenerator
        from mri_gen import completion
        from mri_io import scan_cases
        real, calls = completion._copy, []
        def dying(source, target):
            calls.append(1)
            if len(calls) == 6:  # inside the second case
                os.kill(os.getpid(), signal.SIGKILL)
            real(source, target)
        completion._copy = dying
        completion.complete_cohort(
            ZeroGenerator(), scan_cases({str(tmp_path / "in")!r}), {str(out)!r}, progress=False
        )
        """
    )
    result = subprocess.run([sys.executable, "-c", script], check=False)
    assert result.returncode == -signal.SIGKILL
    cases = scan_cases(out)
    assert [case.case_id for case in cases] == ["BraTS-GLI-00000-000"]
    assert cases[0].missing == ()


def test_one_case_id_in_two_folders_is_refused_naming_both(tmp_path: Path) -> None:
    case_id = "BraTS-GLI-00003-000"
    write_case(tmp_path / "in" / "a" / case_id, case_id)
    write_case(tmp_path / "in" / "b" / case_id, case_id)
    out = tmp_path / "out"
    with pytest.raises(LayoutError, match=rf"{case_id}.*also in .*a[/\\]{case_id}") as caught:
        complete_cohort(ZeroGenerator(), scan_cases(tmp_path / "in"), out, progress=False)
    assert str(Path("b") / case_id) in str(caught.value)
    assert not out.exists()


class NanGenerator(ZeroGenerator):
    """What damaged weights give: NaN everywhere."""

    def complete(
        self,
        case: Case,
        missing: Sequence[str] | None = None,
        *,
        centre: str | None = None,
        target_centre: str | None = None,
        seed: int = 0,
    ) -> dict[str, NDArray[np.float32]]:
        arrays = super().complete(case, missing, centre=centre, target_centre=target_centre)
        return {name: np.full_like(array, np.nan) for name, array in arrays.items()}


def test_a_generator_that_outputs_nan_writes_nothing(tmp_path: Path) -> None:
    case_id = "BraTS-GLI-00004-000"
    write_case(tmp_path / "in" / case_id, case_id)
    out = tmp_path / "out"
    written, failures = complete_cohort(
        NanGenerator(), scan_cases(tmp_path / "in"), out, progress=False
    )
    assert written == []
    (failure,) = failures
    assert isinstance(failure, NonFiniteOutputError)
    assert f"{case_id}: the zero generator produced" in str(failure)
    assert "t2f" in str(failure)
    assert not (out / case_id).exists()


def test_complete_refuses_an_output_inside_its_input_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case_id = "BraTS-GLI-00004-000"
    write_case(tmp_path / "in" / case_id, case_id)
    out = tmp_path / "in" / "completed"
    # The model folder does not exist: the output check comes first, before loading anything.
    arguments = ["complete", "--model", str(tmp_path / "model"), "--cohort", str(tmp_path / "in")]
    assert main([*arguments, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mri-gen: error: ")
    assert "inside the input folder" in err
    assert not out.exists()
    assert [c.case_id for c in scan_cases(tmp_path / "in")] == [case_id]


# --- commands killed while they write --------------------------------------------------------


def logged_steps(run: Path) -> list[str]:
    with (run / "log.csv").open() as handle:
        return [row["step"] for row in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def coarse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two complete cases at 4 mm (60x60x39): one centre, every sequence."""
    folder = tmp_path_factory.mktemp("coarse")
    grid = FULL_GRID.coarsened(4)
    write_cohort(folder, 2, seed=11, centres=("research-3t",), grid=grid, progress=False)
    return folder


TRAINING = ["--steps", "2", "--batch-size", "2", "--image-size", "32", "--device", "cpu"]
TRAINING += ["--threads", "1", "--checkpoint-every", "1"]


#: Each family's command-line options besides TRAINING.
FAMILIES = [
    ["hfgan", "--preset", "tiny", "--views", "axial", "--stats", "brasyn25"],
    ["ummgat", "--preset", "tiny"],
]


@pytest.mark.parametrize("family", FAMILIES, ids=[options[0] for options in FAMILIES])
def test_training_killed_while_saving_its_model_keeps_the_last_one_and_resumes(
    coarse: Path, tmp_path: Path, family: list[str]
) -> None:
    run = tmp_path / "run"
    arguments = ["train", *family, "--data", str(coarse), "--out", str(run), *TRAINING]
    command = f"from mri_gen.cli import main\nmain({arguments!r})"
    run_killed(kill_in_model_save(2), command)  # killed inside the second step's model
    # last/ is the first step's model, whole: load_generator checks its weights' hash.
    assert read_model_folder(run / "last").config["step"] == 1
    load_generator(run / "last")
    assert visible(run / "last") == ["config.json", "model.safetensors"]
    assert main([*arguments, "--resume"]) == 0
    assert logged_steps(run) == ["1", "2"]
    assert read_model_folder(run / "last").config["step"] == 2
    load_generator(run)


#: What a run folder of each family holds once its run has finished.
RUN_FILES = {
    "hfgan": ["last", "log.csv", "run.json", "state.pt", "stats.json"],
    "ummgat": ["assignment.json", "last", "log.csv", "run.json", "state.pt"],
}


@pytest.mark.parametrize("family", FAMILIES, ids=[options[0] for options in FAMILIES])
def test_training_killed_just_after_starting_its_run_folder_resumes(
    coarse: Path, tmp_path: Path, family: list[str]
) -> None:
    run = tmp_path / "run"
    arguments = ["train", *family, "--data", str(coarse), "--out", str(run), *TRAINING]
    # Killed at the first rename after run.json's: a folder with a run.json is a run to
    # resume, so everything a resumed run reads must be there by then, or be written then.
    command = f"from mri_gen.cli import main\nmain({arguments!r})"
    run_killed(kill_at_rename(1, after="run.json"), command)
    assert (run / "run.json").is_file()
    assert main([*arguments, "--resume"]) == 0
    assert logged_steps(run) == ["1", "2"]
    assert read_model_folder(run / "last").config["step"] == 2
    assert visible(run) == RUN_FILES[family[0]]


DOMAINS = tuple(f"research-3t:{name}" for name in ("t1c", "t1n", "t2f", "t2w"))


def test_translate_killed_mid_case_leaves_no_case_that_scan_reads(
    coarse: Path, tmp_path: Path
) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = tmp_path / "model"
    UMMGATModel(replace(UMMGAT_PRESETS["tiny"], domains=DOMAINS, image_size=32)).save_pretrained(
        model
    )
    out = tmp_path / "out"
    arguments = ["translate", "--model", str(model), "--cohort", str(coarse), "--out", str(out)]
    arguments += ["--harmonise", "research-3t", "--device", "cpu"]
    # Four volumes per case: the sixth is the second case's second.
    run_killed(
        kill_at_call("mri_gen.commands.translate.save_volume", 6),
        f"""
        from mri_gen.cli import main
        main({arguments!r})
        """,
    )
    cases = scan_cases(out)
    assert [case.case_id for case in cases] == ["BraTS-GLI-00000-000"]
    assert cases[0].missing == ()
    # A rerun writes both cases whole; the killed run's leftover is hidden from scans.
    assert main(arguments) == 0
    assert [case.missing for case in scan_cases(out)] == [(), ()]
    assert visible(out) == ["BraTS-GLI-00000-000", "BraTS-GLI-00001-000"]


@pytest.mark.parametrize("inside", [True, False])
def test_translate_refuses_an_output_in_or_as_its_cohort_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], inside: bool
) -> None:
    case_id = "BraTS-GLI-00004-000"
    write_case(tmp_path / "in" / case_id, case_id)
    before = sorted(p.name for p in (tmp_path / "in" / case_id).iterdir())
    out = tmp_path / "in" / "translated" if inside else tmp_path / "in"
    # The model folder does not exist: the output check comes first, before loading anything.
    arguments = ["translate", "--model", str(tmp_path / "model"), "--cohort", str(tmp_path / "in")]
    assert main([*arguments, "--out", str(out), "--harmonise", "research-3t"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mri-gen: error: ")
    assert ("inside the input folder" if inside else "is the input folder") in err
    assert not (tmp_path / "in" / "translated").exists()
    assert sorted(p.name for p in (tmp_path / "in" / case_id).iterdir()) == before
