"""Case centres from a cohort manifest, and the normalised background, shared by the suite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mri_io
from mri_io.errors import LayoutError
from mri_io.intensity import BACKGROUND, missing_placeholder
from mri_io.labels import BACKGROUND as BACKGROUND_LABEL
from mri_io.layouts import MANIFEST, case_centres
from mri_io.synthetic import MANIFEST as SYNTHETIC_MANIFEST
from mri_io.synthetic import write_cohort


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cohort")
    write_cohort(
        folder, 3, seed=2, grid="half", centres=("research-3t", "clinical-1.5t"), progress=False
    )
    return folder


def test_centres_come_from_the_manifest_write_cohort_writes(cohort: Path) -> None:
    assert SYNTHETIC_MANIFEST == MANIFEST
    records = json.loads((cohort / MANIFEST).read_text(encoding="utf-8"))["cases"]
    expected = {r["case_id"]: r["centre"] for r in records}
    assert mri_io.case_centres(cohort) == expected
    assert set(expected.values()) == {"research-3t", "clinical-1.5t"}


def test_cases_without_a_centre_need_a_default(cohort: Path, tmp_path: Path) -> None:
    case = mri_io.scan_cases(cohort)[0]
    (tmp_path / case.case_id).mkdir()
    for path in case.sequences.values():
        (tmp_path / case.case_id / path.name).symlink_to(path)
    with pytest.raises(LayoutError, match=r"no centre for 1 cases .*give a default centre"):
        case_centres(tmp_path)
    assert case_centres(tmp_path, "unknown") == {case.case_id: "unknown"}


def test_a_damaged_manifest_is_named(cohort: Path, tmp_path: Path) -> None:
    (tmp_path / MANIFEST).write_text('{"cases": [{"case_id": 1}]}', encoding="utf-8")
    with pytest.raises(LayoutError, match=rf"{MANIFEST}: cannot read the case centres"):
        case_centres(tmp_path, "unknown")


def test_normalised_background_is_the_placeholder_and_not_the_background_label() -> None:
    assert mri_io.NORMALISED_BACKGROUND == BACKGROUND == -1.0
    assert BACKGROUND_LABEL == 0
    assert float(missing_placeholder((2, 2)).max()) == mri_io.NORMALISED_BACKGROUND
