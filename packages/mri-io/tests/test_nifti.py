"""NIfTI reading and writing: exact round trips, storage types, and one error per kind of damage."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import nibabel
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mri_io.atomic import atomic_write, atomic_write_text
from mri_io.errors import (
    CorruptFileError,
    DataTypeError,
    DimensionError,
    NonFiniteError,
    NotNiftiError,
)
from mri_io.nifti import (
    BRATS_AFFINE,
    BRATS_SHAPE,
    Volume,
    check_finite,
    load_labels,
    load_volume,
    new_volume,
    save_volume,
)

#: nibabel has no annotations; it is the reference here, strict typing covers our side.
nib: Any = nibabel

STORAGE = ("uint8", "int16", "int16-scaled", "float32", "float64")
HEADER_FIELDS = (
    "dim", "pixdim", "datatype", "bitpix", "qform_code", "sform_code", "quatern_b", "quatern_c",
    "quatern_d", "qoffset_x", "qoffset_y", "qoffset_z", "srow_x", "srow_y", "srow_z",
    "xyzt_units", "intent_code", "intent_p1", "descrip", "scl_slope", "scl_inter",
)  # fmt: skip


def random_affine(rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """An oblique affine: random axis permutation and flips, rotation, shear and spacing."""
    permutation = np.eye(3)[rng.permutation(3)] * rng.choice([-1.0, 1.0], size=3)
    oblique = permutation @ (np.eye(3) + 0.2 * rng.normal(size=(3, 3)))
    affine = np.eye(4)
    affine[:3, :3] = oblique * rng.uniform(0.4, 3.0, size=3)
    affine[:3, 3] = rng.uniform(-150, 150, size=3)
    return affine


def peer_file(
    path: Path, rng: np.random.Generator, storage: str, four_d: bool, codes: tuple[int, int]
) -> None:
    """Write a test file with nibabel alone, so the reader is checked against another writer."""
    shape = tuple(int(n) for n in rng.integers(2, 7, size=3))
    if storage == "uint8":
        data: npt.NDArray[Any] = rng.integers(0, 5, size=shape).astype(np.uint8)
    elif storage == "int16":
        data = rng.integers(-3000, 3000, size=shape).astype(np.int16)
    else:  # a range int16 cannot hold without scl_slope, or plain floats
        data = rng.normal(0, 1e6, size=shape).astype(np.float32 if storage == "float32" else float)
    if four_d:
        data = data[..., np.newaxis]
    header = nib.Nifti1Header()
    header.set_data_dtype(np.int16 if storage == "int16-scaled" else data.dtype)
    header.set_data_shape(data.shape)
    affine = random_affine(rng)
    header.set_qform(affine, code=codes[0])
    header.set_sform(affine, code=codes[1])
    header.set_xyzt_units("mm", "sec")
    header["descrip"] = b"peer"
    header["intent_code"] = 1002 if storage == "uint8" else 0
    nib.Nifti1Image(data.astype(np.float64 if storage.endswith("scaled") else data.dtype), None,
                    header).to_filename(path)  # fmt: skip


def assert_same_file_contents(original: Path, rewritten: Path) -> None:
    first, second = nib.load(original), nib.load(rewritten)
    for name in HEADER_FIELDS:
        np.testing.assert_array_equal(first.header[name], second.header[name], err_msg=name)
    assert (first.dataobj.slope, first.dataobj.inter) == (
        second.dataobj.slope,
        second.dataobj.inter,
    )
    np.testing.assert_array_equal(first.dataobj.get_unscaled(), second.dataobj.get_unscaled())
    np.testing.assert_array_equal(first.affine, second.affine)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**32 - 1),
    storage=st.sampled_from(STORAGE),
    four_d=st.booleans(),
    codes=st.tuples(st.integers(0, 4), st.integers(0, 4)),
    suffix=st.sampled_from([".nii", ".nii.gz"]),
)
def test_round_trip_reproduces_data_affine_and_header(
    tmp_path: Path, seed: int, storage: str, four_d: bool, codes: tuple[int, int], suffix: str
) -> None:
    rng = np.random.default_rng(seed)
    original, rewritten = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    peer_file(original, rng, storage, four_d, codes)
    volume = load_volume(original, dtype=None)
    reference = nib.load(original)
    np.testing.assert_allclose(volume.data, np.squeeze(reference.get_fdata(), axis=3) if four_d
                               else reference.get_fdata(), rtol=1e-12)  # fmt: skip
    np.testing.assert_array_equal(volume.affine, reference.affine)
    save_volume(volume, rewritten)
    assert_same_file_contents(original, rewritten)
    again = load_volume(rewritten, dtype=None)
    np.testing.assert_array_equal(again.data, volume.data)
    assert again.data.dtype == volume.data.dtype
    np.testing.assert_array_equal(again.affine, volume.affine)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1), storage=st.sampled_from(STORAGE))
def test_image_read_as_float32_is_written_back_in_its_storage_type(
    tmp_path: Path, seed: int, storage: str
) -> None:
    original, rewritten = tmp_path / "a.nii.gz", tmp_path / "b.nii.gz"
    peer_file(original, np.random.default_rng(seed), storage, False, (1, 1))
    volume = load_volume(original)
    assert volume.data.dtype == np.float32
    save_volume(volume, rewritten)
    if storage != "float64":  # float64 read as float32 is rounded, so it is written as float32
        assert_same_file_contents(original, rewritten)
    np.testing.assert_array_equal(load_volume(rewritten).data, volume.data)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from(["float32", "float64", "int16"]))
def test_new_volume_holds_exactly_what_a_reader_gets(tmp_path: Path, seed: int, dtype: str) -> None:
    rng = np.random.default_rng(seed)
    data = (rng.normal(size=(3, 4, 5)) * 1000).astype(dtype)
    volume = new_volume(data, random_affine(rng))
    path = save_volume(volume, tmp_path / "new.nii.gz")
    loaded = load_volume(path, dtype=None)
    np.testing.assert_array_equal(loaded.data, data)
    assert loaded.data.dtype == data.dtype
    np.testing.assert_array_equal(loaded.affine, volume.affine)
    header = nib.load(path).header
    assert (int(header["qform_code"]), int(header["sform_code"])) == (1, 1)
    np.testing.assert_allclose(header.get_zooms(), np.array(volume.spacing), rtol=1e-6)


def test_brats_constants_read_as_lps() -> None:
    assert BRATS_SHAPE == (240, 240, 155)
    assert nib.aff2axcodes(BRATS_AFFINE) == ("L", "P", "S")
    assert BRATS_AFFINE.dtype == np.float64
    assert not BRATS_AFFINE.flags.writeable


def test_int16_scaling_spans_the_range_within_half_a_step(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    data = rng.uniform(-2.5e5, 7.1e5, size=(24, 24, 24))
    path = save_volume(new_volume(data, np.eye(4)), tmp_path / "scaled.nii", dtype=np.int16)
    stored = nib.load(path)
    assert stored.get_data_dtype() == np.int16
    step = float(stored.dataobj.slope)
    assert step == pytest.approx((data.max() - data.min()) / 65534, rel=1e-6)
    error = np.abs(load_volume(path, dtype=np.float64).data - data)
    assert error.max() <= step / 2 * (1 + 1e-5)
    assert error.max() > step / 4  # it really quantised


def test_whole_numbers_in_range_are_stored_exactly_as_integers(tmp_path: Path) -> None:
    data = np.arange(-100, 100, dtype=np.float64).reshape(5, 8, 5)
    path = save_volume(new_volume(data, np.eye(4)), tmp_path / "int.nii", dtype=np.int16)
    assert nib.load(path).dataobj.slope == 1.0
    np.testing.assert_array_equal(load_volume(path, dtype=np.int16).data, data)


def test_labels_read_exactly_and_non_integers_are_refused(tmp_path: Path) -> None:
    labels = np.zeros((4, 4, 4))
    labels[1, 1, 1], labels[2, 2, 2] = 4.0, 2.0
    path = save_volume(new_volume(labels, np.eye(4)), tmp_path / "seg.nii.gz")
    seg = load_labels(path)
    assert seg.data.dtype == np.uint8
    np.testing.assert_array_equal(seg.data, labels)
    labels[0, 0, 0] = 0.5
    broken = save_volume(new_volume(labels, np.eye(4)), tmp_path / "half.nii.gz")
    with pytest.raises(DataTypeError, match=r"half\.nii\.gz.*not whole numbers.*0\.5"):
        load_labels(broken)
    with pytest.raises(DataTypeError, match="uint8"):
        save_volume(new_volume(labels, np.eye(4)), tmp_path / "x.nii.gz", dtype=np.uint8)
    assert not (tmp_path / "x.nii.gz").exists()


def test_booleans_are_written_as_uint8(tmp_path: Path) -> None:
    mask = np.zeros((3, 3, 3), dtype=bool)
    mask[1] = True
    path = save_volume(new_volume(mask, np.eye(4)), tmp_path / "mask.nii")
    assert nib.load(path).get_data_dtype() == np.uint8
    np.testing.assert_array_equal(load_volume(path, dtype=None).data, mask.astype(np.uint8))


def test_changed_affine_is_written_and_codes_kept(tmp_path: Path) -> None:
    volume = new_volume(np.ones((3, 4, 5), dtype=np.float32), BRATS_AFFINE)
    moved = Volume(volume.data, volume.affine @ np.diag([2.0, 2.0, 2.0, 1.0]), volume.header)
    loaded = load_volume(save_volume(moved, tmp_path / "moved.nii.gz"))
    np.testing.assert_array_equal(loaded.affine, moved.affine)
    assert loaded.spacing == (2.0, 2.0, 2.0)
    assert nib.load(tmp_path / "moved.nii.gz").header.get_zooms() == (2.0, 2.0, 2.0)


def test_equal_volumes_give_equal_bytes(tmp_path: Path) -> None:
    volume = new_volume(np.random.default_rng(0).normal(size=(8, 8, 8)), BRATS_AFFINE)
    first = save_volume(volume, tmp_path / "a.nii.gz").read_bytes()
    assert save_volume(volume, tmp_path / "b.nii.gz").read_bytes() == first


def test_with_data_keeps_geometry_and_refuses_new_shapes() -> None:
    volume = new_volume(np.zeros((2, 3, 4), dtype=np.float32), BRATS_AFFINE)
    twin = volume.with_data(np.ones((2, 3, 4)))
    np.testing.assert_array_equal(twin.affine, volume.affine)
    assert twin.header is volume.header
    with pytest.raises(ValueError, match="shape"):
        volume.with_data(np.ones((2, 3, 5)))


def test_spacing_comes_from_the_affine() -> None:
    rotation = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag([0.5, 0.9, 3.0])
    assert new_volume(np.zeros((2, 2, 2)), affine).spacing == pytest.approx((0.5, 0.9, 3.0))


# Damaged input: each kind of damage has its own error naming the file.


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    data = np.random.default_rng(1).normal(size=(6, 6, 6)).astype(np.float32)
    return save_volume(new_volume(data, BRATS_AFFINE), tmp_path / "good.nii.gz")


def test_truncated_gzip_is_corrupt(good_file: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(good_file.read_bytes()[:-40])
    with pytest.raises(CorruptFileError, match=r"cut\.nii\.gz: .*gzip"):
        load_volume(cut)


def test_short_data_is_corrupt(good_file: Path, tmp_path: Path) -> None:
    short = tmp_path / "short.nii"
    short.write_bytes(gzip.decompress(good_file.read_bytes())[:-10])
    with pytest.raises(CorruptFileError, match=r"short\.nii: image data is 10 bytes short"):
        load_volume(short)


def test_wrong_magic_is_not_nifti(good_file: Path, tmp_path: Path) -> None:
    content = bytearray(gzip.decompress(good_file.read_bytes()))
    content[344:348] = b"abc\x00"
    bad = tmp_path / "magic.nii"
    bad.write_bytes(bytes(content))
    with pytest.raises(NotNiftiError, match=r"magic\.nii: wrong NIfTI magic"):
        load_volume(bad)
    content[344:348] = b"ni1\x00"
    bad.write_bytes(bytes(content))
    with pytest.raises(NotNiftiError, match=r"\.hdr/\.img pair"):
        load_volume(bad)


def test_text_file_is_not_nifti(tmp_path: Path) -> None:
    readme = tmp_path / "readme.nii.gz"
    readme.write_text("this is not an image\n" * 30)
    with pytest.raises(NotNiftiError, match=r"readme\.nii\.gz: not a NIfTI file"):
        load_volume(readme)
    with pytest.raises(FileNotFoundError):
        load_volume(tmp_path / "absent.nii.gz")


@pytest.mark.parametrize(
    ("shape", "message"),
    [((4, 4, 4, 2), "holds 2 volumes"), ((4, 4), "2D"), ((4, 4, 4, 1, 3), "holds 3 volumes")],
)
def test_not_one_3d_volume_is_a_dimension_error(
    tmp_path: Path, shape: tuple[int, ...], message: str
) -> None:
    path = tmp_path / "dims.nii.gz"
    nib.Nifti1Image(np.zeros(shape, dtype=np.float32), np.eye(4)).to_filename(path)
    with pytest.raises(DimensionError, match=rf"dims\.nii\.gz: .*{message}"):
        load_volume(path)


def test_non_finite_values_are_named(tmp_path: Path) -> None:
    data = np.zeros((3, 3, 3), dtype=np.float32)
    data[0, 0, 0], data[1, 1, 1], data[2, 2, 2] = np.nan, np.inf, np.nan
    path = save_volume(new_volume(data, np.eye(4)), tmp_path / "nan.nii")
    with pytest.raises(NonFiniteError, match=r"nan\.nii: 3 of 27 voxels .*2 NaN, 1 infinite"):
        check_finite(load_volume(path))
    with pytest.raises(NonFiniteError):
        save_volume(load_volume(path), tmp_path / "scaled.nii", dtype=np.int16)


def test_output_name_must_be_nifti(tmp_path: Path) -> None:
    volume = new_volume(np.zeros((2, 2, 2)), np.eye(4))
    with pytest.raises(NotNiftiError, match=r"out\.mha"):
        save_volume(volume, tmp_path / "out.mha")


def test_atomic_write_leaves_nothing_on_failure_and_keeps_the_suffix(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "x.nii.gz"
    seen: list[Path] = []

    def fail_midway() -> None:
        with atomic_write(target) as temporary:
            seen.append(temporary)
            temporary.write_bytes(b"partial")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        fail_midway()
    assert seen[0].parent == target.parent
    assert seen[0].name.endswith(".nii.gz")
    assert list(target.parent.iterdir()) == []
    atomic_write_text(target.with_name("notes.txt"), "done\n")
    assert target.with_name("notes.txt").read_text() == "done\n"
    plain = target.with_name("plain.txt")
    plain.write_text("done\n")  # the permissions any ordinary write gives under this umask
    assert target.with_name("notes.txt").stat().st_mode == plain.stat().st_mode


def test_failed_overwrite_keeps_the_previous_file(good_file: Path) -> None:
    before = good_file.read_bytes()
    with pytest.raises(DataTypeError):
        save_volume(load_volume(good_file), good_file, dtype=np.uint8)
    assert good_file.read_bytes() == before
    assert sorted(path.name for path in good_file.parent.iterdir()) == ["good.nii.gz"]
