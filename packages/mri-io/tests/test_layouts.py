"""Case discovery on generated folders of every naming scheme the datasets use."""

from __future__ import annotations

from pathlib import Path

import pytest

from mri_io.errors import LayoutError, OutputCollisionError, UnknownNameError
from mri_io.layouts import (
    CaseFiles,
    brats2021_filename,
    brats2023_filename,
    link_cases,
    scan_cases,
)

STRAYS = ("README.md", ".DS_Store", "dataset.json", "notes.txt")


def touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")


def by_id(cases: list[CaseFiles]) -> dict[str, CaseFiles]:
    return {case.case_id: case for case in cases}


@pytest.mark.parametrize(
    "case_id",
    [
        "BraTS-GLI-00000-000",  # 2023 adult glioma
        "BraTS-GLI-02105-100",  # 2024 post-treatment
        "BraTS-MEN-00004-000",
        "BraTS-MET-00086-000",
        "BraTS-PED-00030-000",
        "BraTS-SSA-00126-000",
        "BraTS-GoAT-00000",
        "BraTS-MEN-RT-0001-1",
    ],
)
def test_brats2023_case_folders(tmp_path: Path, case_id: str) -> None:
    keys = ("t1n", "t1c", "t2w", "t2f", "seg")
    touch(tmp_path / case_id, *(f"{case_id}-{key}.nii.gz" for key in keys), *STRAYS)
    (case,) = scan_cases(tmp_path)
    assert case.case_id == case_id
    assert case.layout == "brats2023"
    assert case.folder == tmp_path / case_id
    assert case.sequences == {
        key: tmp_path / case_id / f"{case_id}-{key}.nii.gz" for key in keys[:4]
    }
    assert case.seg == tmp_path / case_id / f"{case_id}-seg.nii.gz"
    assert case.missing == ()


def test_brasyn_validation_reports_the_absent_sequence(tmp_path: Path) -> None:
    for number, absent in enumerate(["t1c", "t2f", "t1n"]):
        case_id = f"BraTS-GLI-{number:05d}-000"
        present = [key for key in ("t1n", "t1c", "t2w", "t2f") if key != absent]
        touch(tmp_path / case_id, *(f"{case_id}-{key}.nii.gz" for key in present))
    cases = scan_cases(tmp_path)
    assert [case.missing for case in cases] == [("t1c",), ("t2f",), ("t1n",)]
    assert all(case.seg is None and len(case.sequences) == 3 for case in cases)


def test_brats2021_and_older_names(tmp_path: Path) -> None:
    touch(
        tmp_path / "BraTS20_Training_001",
        *(f"BraTS20_Training_001_{key}.nii.gz" for key in ("t1", "t1ce", "t2", "flair", "seg")),
    )
    touch(tmp_path / "BraTS2021_00000", *(f"BraTS2021_00000_{k}.nii.gz" for k in ("t1", "t2")))
    touch(tmp_path / "HGG" / "BraTS19_CBICA_AAB_1", "BraTS19_CBICA_AAB_1_flair.nii")
    cases = by_id(scan_cases(tmp_path))
    assert sorted(cases) == ["BraTS19_CBICA_AAB_1", "BraTS2021_00000", "BraTS20_Training_001"]
    full = cases["BraTS20_Training_001"]
    assert full.layout == "brats2021"
    assert {key: path.name for key, path in full.sequences.items()} == {
        "t1n": "BraTS20_Training_001_t1.nii.gz",
        "t1c": "BraTS20_Training_001_t1ce.nii.gz",
        "t2w": "BraTS20_Training_001_t2.nii.gz",
        "t2f": "BraTS20_Training_001_flair.nii.gz",
    }
    assert full.seg is not None
    assert full.seg.name == "BraTS20_Training_001_seg.nii.gz"
    assert cases["BraTS2021_00000"].missing == ("t1c", "t2f")
    assert cases["BraTS19_CBICA_AAB_1"].missing == ("t1n", "t1c", "t2w")


def test_ucsf_pdgm_with_bias_corrected_variants(tmp_path: Path) -> None:
    folder = tmp_path / "UCSF-PDGM-0004_nifti"
    names = ["T1", "T1c", "T2", "FLAIR", "T1_bias", "T1c_bias", "T2_bias", "FLAIR_bias",
             "tumor_segmentation", "brain_segmentation", "ADC", "DWI"]  # fmt: skip
    touch(folder, *(f"UCSF-PDGM-0004_{name}.nii.gz" for name in names))
    touch(tmp_path / "UCSF-PDGM-0005_nifti", "UCSF-PDGM-0005_FLAIR_bias.nii.gz")
    cases = by_id(scan_cases(tmp_path))
    first = cases["UCSF-PDGM-0004"]
    assert first.layout == "ucsf-pdgm"
    assert first.sequences["t1c"].name == "UCSF-PDGM-0004_T1c.nii.gz"
    assert first.sequences["t2f"].name == "UCSF-PDGM-0004_FLAIR.nii.gz"
    assert first.seg is not None
    assert first.seg.name == "UCSF-PDGM-0004_tumor_segmentation.nii.gz"
    assert sorted(first.extras) == [
        "ADC", "DWI", "brain_segmentation", "t1c_bias", "t1n_bias", "t2f_bias", "t2w_bias"
    ]  # fmt: skip
    only_bias = cases["UCSF-PDGM-0005"]
    assert only_bias.sequences["t2f"].name == "UCSF-PDGM-0005_FLAIR_bias.nii.gz"
    assert only_bias.missing == ("t1n", "t1c", "t2w")


def test_flat_folder_with_several_cases_and_strays(tmp_path: Path) -> None:
    touch(tmp_path, *STRAYS, "._BraTS-GLI-00001-000-t1n.nii.gz")
    for case_id in ("BraTS-GLI-00002-000", "BraTS-GLI-00001-000"):
        touch(tmp_path, *(f"{case_id}-{key}.nii.gz" for key in ("t1n", "t1c", "t2w", "t2f")))
    touch(tmp_path, "BraTS20_Training_009_t1.nii.gz", "BraTS20_Training_009_flair.nii.gz")
    touch(tmp_path, "patient7_T1.nii.gz", "patient7_FLAIR.nii.gz", "patient7_seg.nii")
    cases = scan_cases(tmp_path)
    assert [case.case_id for case in cases] == [
        "BraTS-GLI-00001-000", "BraTS-GLI-00002-000", "BraTS20_Training_009", "patient7"
    ]  # fmt: skip
    assert [case.layout for case in cases] == ["brats2023", "brats2023", "brats2021", "generic"]
    assert all(case.folder == tmp_path for case in cases)
    assert cases[0].sequences["t1n"].name == "BraTS-GLI-00001-000-t1n.nii.gz"
    assert cases[3].missing == ("t1c", "t2w")
    assert cases[3].seg == tmp_path / "patient7_seg.nii"


def test_duplicate_files_for_one_sequence_are_refused(tmp_path: Path) -> None:
    touch(tmp_path, "BraTS20_Training_001_t1.nii", "BraTS20_Training_001_t1.nii.gz")
    with pytest.raises(LayoutError, match=r"already holds t1n of BraTS20_Training_001"):
        scan_cases(tmp_path)


def test_folder_without_cases_is_a_layout_error(tmp_path: Path) -> None:
    touch(tmp_path, *STRAYS, "scan_0001.nii.gz")
    with pytest.raises(LayoutError, match=r"no case files found.*scan_0001\.nii\.gz"):
        scan_cases(tmp_path)
    with pytest.raises(NotADirectoryError):
        scan_cases(tmp_path / "README.md")


def test_file_names() -> None:
    assert brats2023_filename("BraTS-GLI-00000-000", "t1n") == "BraTS-GLI-00000-000-t1n.nii.gz"
    assert brats2023_filename("BraTS-MET-00001-000", "FLAIR") == "BraTS-MET-00001-000-t2f.nii.gz"
    assert brats2023_filename("BraTS-GLI-00000-000", "seg") == "BraTS-GLI-00000-000-seg.nii.gz"
    assert brats2021_filename("BraTS20_Training_001", "t1c") == "BraTS20_Training_001_t1ce.nii.gz"
    with pytest.raises(UnknownNameError, match="'dwi' is neither"):
        brats2023_filename("x", "dwi")


def test_written_names_are_found_again(tmp_path: Path) -> None:
    case_id = "BraTS-PED-00030-000"
    touch(tmp_path, *(brats2023_filename(case_id, key) for key in ("t1", "T1Gd", "T2", "flair")))
    (case,) = scan_cases(tmp_path)
    assert (case.case_id, case.missing) == (case_id, ())


def test_linked_case_folders_are_cases_and_a_link_loop_ends(tmp_path: Path) -> None:
    keys = ("t1n", "t1c", "t2w", "t2f", "seg")
    ids = ("BraTS-GLI-00000-000", "BraTS-GLI-00001-000")
    for case_id in ids:
        touch(tmp_path / "all" / case_id, *(f"{case_id}-{key}.nii.gz" for key in keys))
    split = tmp_path / "train"
    split.mkdir()
    (split / ids[1]).symlink_to(tmp_path / "all" / ids[1], target_is_directory=True)
    (split / "loop").symlink_to(split, target_is_directory=True)  # a link to its own parent
    (case,) = scan_cases(split)
    assert case.case_id == ids[1]
    assert case.folder == split / ids[1]
    assert case.missing == ()


# --- link_cases: a split, or the same cases with their labels withheld -------------------------


def brats2021_case(folder: Path, case_id: str) -> None:
    touch(folder / case_id, *(f"{case_id}_{k}.nii.gz" for k in ("t1", "t1ce", "t2", "flair")))
    (folder / case_id / f"{case_id}_seg.nii.gz").write_bytes(case_id.encode())


def test_link_cases_links_each_file_of_the_chosen_cases(tmp_path: Path) -> None:
    for case_id in ("BraTS20_Training_001", "BraTS20_Training_002", "BraTS20_Training_003"):
        brats2021_case(tmp_path / "all", case_id)
    touch(tmp_path / "all" / "BraTS20_Training_001", "notes.txt")  # not a case file: left out
    cases = scan_cases(tmp_path / "all")
    train = link_cases(cases[:2], tmp_path / "train")
    unlabelled = link_cases(cases[:2], tmp_path / "unlabelled", labels=False)
    assert train == tmp_path / "train"
    linked = by_id(scan_cases(train))
    assert sorted(linked) == ["BraTS20_Training_001", "BraTS20_Training_002"]
    for case in cases[:2]:
        again = linked[case.case_id]
        assert again.sequences.keys() == case.sequences.keys()
        for key, path in again.sequences.items():
            assert path.is_symlink()
            assert path.resolve() == case.sequences[key].resolve()
        assert again.seg is not None
        assert again.seg.read_bytes() == case.case_id.encode()
    assert sorted(p.name for p in (train / "BraTS20_Training_001").iterdir()) == sorted(
        f"BraTS20_Training_001_{k}.nii.gz" for k in ("t1", "t1ce", "t2", "flair", "seg")
    )
    withheld = by_id(scan_cases(unlabelled))
    assert all(case.seg is None for case in withheld.values())
    assert not list(unlabelled.glob("*/*seg*"))
    assert sorted(withheld) == sorted(linked)


def test_link_cases_refuses_an_existing_target_twins_and_dataset_json_layouts(
    tmp_path: Path,
) -> None:
    brats2021_case(tmp_path / "a", "BraTS20_Training_001")
    brats2021_case(tmp_path / "b", "BraTS20_Training_001")
    (tmp_path / "taken").mkdir()
    cases = scan_cases(tmp_path / "a")
    with pytest.raises(OutputCollisionError, match="exists already"):
        link_cases(cases, tmp_path / "taken")
    twins = [*cases, *scan_cases(tmp_path / "b")]
    with pytest.raises(LayoutError, match="also in"):
        link_cases(twins, tmp_path / "out")
    nnunet = [CaseFiles("BRATS_001", tmp_path, "nnunet", {}, None, ())]
    with pytest.raises(LayoutError, match="nnunet layout"):
        link_cases(nnunet, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "taken"]  # nothing left
