"""NIfTI-1 volumes that keep their geometry through every read and write.

A :class:`Volume` is one 3D image: the voxel array in nibabel's order, the affine that maps
voxel indices to millimetres, and the header it came from. Writing reuses that header, so
qform/sform codes, pixdim, units, intent and extensions survive a read-modify-write cycle,
and only what changed on purpose (the data type, the affine) is rewritten.

Guarantees (tested with random oblique affines and every storage type):

* ``save_volume(load_volume(p, dtype=None), q)`` writes the same data, affine, qform/sform codes,
  pixdim and scaling as ``p`` (a 4D file with one volume is written back as 4D with one volume).
* With ``dtype=None`` a write never loses information: the source's storage type (with its
  ``scl_slope``/``scl_inter``) is reused when it represents the array exactly, otherwise the
  array's own type is written.
* NIfTI stores affines in float32, so :func:`new_volume` rounds the affine to float32 at once:
  what a new volume holds is exactly what a reader of the saved file will get.
"""

from __future__ import annotations

import errno
import gzip
import io
import os
import zlib
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, BinaryIO, Final

import nibabel as nib
import numpy as np
import numpy.typing as npt
from nibabel.spatialimages import HeaderDataError

from mri_io.atomic import atomic_write
from mri_io.errors import (
    AffineError,
    CorruptFileError,
    DataTypeError,
    DimensionError,
    ImageTooLargeError,
    NonFiniteError,
    NotNiftiError,
)

#: Voxel grid of every BraTS 2021+ volume (SRI24 atlas space, 1 mm isotropic).
BRATS_SHAPE: Final = (240, 240, 155)

#: Affine of BraTS volumes as stored in their files; nibabel reads their axes as L-P-S.
BRATS_AFFINE: Final[npt.NDArray[np.float64]] = np.array(
    [[-1.0, 0.0, 0.0, 0.0], [0.0, -1.0, 0.0, 239.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)
BRATS_AFFINE.flags.writeable = False

#: gzip level for ``.nii.gz`` output: level 1 is several times faster than 6 and only a few
#: per cent larger on MRI volumes (nibabel makes the same choice).
GZIP_LEVEL: Final = 1

_GZIP_MAGIC = b"\x1f\x8b"
_NIFTI1_MAGIC = b"n+1\x00"
_NIFTI1_PAIR_MAGIC = b"ni1\x00"
_NIFTI1_HEADER_SIZE = 348
_NIFTI2_HEADER_SIZE = 540
_EXTENSION_FLAG_SIZE = 4
_NIFTI_SUFFIXES = (".nii", ".nii.gz")
_CHUNK = 1 << 20

#: Largest image (in bytes of stored data, as the header declares it) that :func:`load_volume`
#: reads: 4 GiB, over a hundred times a BraTS float32 volume. A header declaring more is
#: refused before anything is decompressed, so a small ``.nii.gz`` that inflates to gigabytes
#: (a gzip bomb, or a damaged dim field) fails at once instead of exhausting memory. The
#: environment variable :data:`MAX_IMAGE_BYTES_ENV` overrides it.
MAX_IMAGE_BYTES: Final = 4 << 30

#: Environment variable that sets the image size limit in bytes (see :data:`MAX_IMAGE_BYTES`).
MAX_IMAGE_BYTES_ENV: Final = "MRI_IO_MAX_IMAGE_BYTES"

Array = npt.NDArray[Any]


@dataclass(eq=False)
class Volume:
    """One 3D image with its geometry.

    ``data`` keeps nibabel's voxel order (axial = last axis); ``affine`` (4x4 float64) maps
    voxel indices to scanner millimetres; ``header`` is the NIfTI-1 header that writes reuse;
    ``path`` is the file it was read from, if any, so errors can name it.
    """

    data: Array
    affine: npt.NDArray[np.float64]
    header: nib.Nifti1Header
    path: Path | None = None

    def __post_init__(self) -> None:
        affine = np.asarray(self.affine, dtype=np.float64)
        if affine.shape != (4, 4):
            raise AffineError(self.path, f"an affine must be a 4x4 matrix, got {affine.shape}")
        if not np.all(np.isfinite(affine)):
            raise AffineError(self.path, "the affine holds NaN or infinity")
        if abs(np.linalg.det(affine[:3, :3])) == 0:
            raise AffineError(self.path, "the affine is singular: voxels would have no extent")
        if self.data.ndim != 3:
            raise DimensionError(
                self.path, f"a volume must be 3D, got an array of shape {self.data.shape}"
            )
        if 0 in self.data.shape:
            raise DimensionError(self.path, f"the volume has no voxels (shape {self.data.shape})")
        self.affine = affine

    @property
    def shape(self) -> tuple[int, int, int]:
        """Voxels along each array axis."""
        x, y, z = self.data.shape
        return int(x), int(y), int(z)

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along each array axis, from the affine (the header may be stale)."""
        x, y, z = np.sqrt(np.sum(self.affine[:3, :3] ** 2, axis=0))
        return float(x), float(y), float(z)

    def with_data(self, data: Array) -> Volume:
        """The same geometry and header holding a new array of the same shape."""
        if data.shape != self.data.shape:
            raise ValueError(
                f"with_data keeps the geometry, so the shape must stay {self.data.shape}; "
                f"got {data.shape}"
            )
        return Volume(data, self.affine.copy(), self.header, self.path)


def load_volume(path: str | PathLike[str], *, dtype: npt.DTypeLike | None = np.float32) -> Volume:
    """Read a ``.nii`` or ``.nii.gz`` file (compression is detected from content, not name).

    ``dtype`` chooses the array type. The default float32 applies the header's
    ``scl_slope``/``scl_inter`` (computed in float64, then rounded once) and suits images.
    ``None`` keeps the stored type when there is no scaling, and gives float64 when there is.
    An integer type reads exactly or fails: non-integer or out-of-range values raise
    :class:`DataTypeError` rather than being truncated (see :func:`load_labels`).

    A 4D file holding one volume is read as 3D. Raises :class:`NotNiftiError`,
    :class:`CorruptFileError`, :class:`DimensionError` or :class:`DataTypeError` naming the file.
    """
    source = Path(path)
    header, stored = _read_nifti(source)
    shape = stored.shape
    if len(shape) < 3:
        raise DimensionError(source, f"image is {len(shape)}D (shape {shape}); expected 3D")
    if any(n != 1 for n in shape[3:]):
        volumes = int(np.prod(shape[3:]))
        raise DimensionError(
            source, f"image holds {volumes} volumes (shape {shape}); expected one 3D volume"
        )
    stored = stored[(...,) + (0,) * (len(shape) - 3)]
    values = _apply_scaling(stored, *_untyped(header).get_slope_inter())
    data = values if dtype is None else _convert(values, np.dtype(dtype), source)
    if not data.flags.writeable:
        data = data.copy(order="K")
    return Volume(data, _untyped(header).get_best_affine(), header, source)


def load_labels(path: str | PathLike[str], *, dtype: npt.DTypeLike = np.uint8) -> Volume:
    """Read a label map exactly as integers (uint8 by default); any non-integer value fails."""
    return load_volume(path, dtype=dtype)


def save_volume(
    volume: Volume, path: str | PathLike[str], *, dtype: npt.DTypeLike | None = None
) -> Path:
    """Write ``volume`` atomically to a ``.nii`` or ``.nii.gz`` file and return its path.

    The volume's header is reused; shape, storage type, scaling and (only if it changed) the
    affine are updated. ``dtype`` chooses the storage type:

    * ``None``: lossless. The header's storage type and scaling when they hold the array
      exactly (so an image read as float32 from an int16 file is written as int16 again),
      otherwise the array's own type (booleans as uint8).
    * an integer type (``uint8`` for labels): exact or :class:`DataTypeError`.
    * ``int16``: exact when the values are integers in range; otherwise ``scl_slope`` and
      ``scl_inter`` map the value range onto [-32767, 32767], so each voxel is off by at most
      half a step, ``(max - min) / 65534 / 2``.
    * a float type: a plain cast.

    Compressed output is written with a zero gzip timestamp, so equal volumes give equal bytes.
    """
    target = Path(path)
    if not target.name.lower().endswith(_NIFTI_SUFFIXES):
        raise NotNiftiError(target, "output file name must end in .nii or .nii.gz")
    header = _untyped(nib.Nifti1Header).from_header(volume.header)
    stored, slope, inter = _encode(volume.data, dtype, header, target)
    header.set_data_shape(stored.shape + _singleton_dims(volume.header))
    header.set_data_dtype(stored.dtype)
    _set_scaling(header, slope, inter)
    if not np.array_equal(volume.affine, _untyped(header).get_best_affine()):
        _set_affine(header, volume.affine)
    minimum_offset = _header_bytes(header)
    if header["vox_offset"] < minimum_offset:
        header["vox_offset"] = minimum_offset
    payload = stored.astype(_untyped(header).get_data_dtype(), copy=False).tobytes(order="F")
    with atomic_write(target) as temporary:
        if target.name.lower().endswith(".gz"):
            with (
                open(temporary, "wb") as raw_file,
                gzip.GzipFile(
                    filename="", mode="wb", fileobj=raw_file, compresslevel=GZIP_LEVEL, mtime=0
                ) as compressed,
            ):
                _write_nifti(compressed, header, payload)
        else:
            with open(temporary, "wb") as plain:
                _write_nifti(plain, header, payload)
    return target


def new_volume(
    data: Array, affine: npt.ArrayLike, *, header: nib.Nifti1Header | None = None
) -> Volume:
    """A volume for an array that has no source file (a synthetic or derived image).

    The affine is rounded to float32 (the precision NIfTI stores) and written to both qform and
    sform; the codes are those of ``header`` when it sets them, otherwise 1 (scanner). Zooms
    come from the affine and units are mm and seconds.
    """
    matrix = np.asarray(affine, dtype=np.float64)
    if matrix.shape != (4, 4):
        raise ValueError(f"an affine must be 4x4, got shape {matrix.shape}")
    rounded = matrix.astype(np.float32).astype(np.float64)
    new_header = (
        _untyped(nib.Nifti1Header)()
        if header is None
        else _untyped(nib.Nifti1Header).from_header(header)
    )
    array = data.astype(np.uint8) if data.dtype == np.bool_ else data
    new_header.set_data_shape(array.shape)
    new_header.set_data_dtype(array.dtype)
    new_header.set_xyzt_units("mm", "sec")
    _set_affine(new_header, rounded)
    return Volume(array, rounded, new_header)


def check_finite(volume: Volume) -> None:
    """Raise :class:`NonFiniteError` naming the file and how many voxels are NaN or infinite."""
    if volume.data.dtype.kind != "f":
        return
    finite = np.isfinite(volume.data)
    if not finite.all():
        bad = finite.size - int(np.count_nonzero(finite))
        nans = int(np.count_nonzero(np.isnan(volume.data)))
        raise NonFiniteError(
            volume.path,
            f"{bad} of {finite.size} voxels are not finite ({nans} NaN, {bad - nans} infinite)",
        )


def _untyped(nibabel_object: object) -> Any:
    """nibabel's methods carry no annotations; strict mypy checks our side of each call."""
    return nibabel_object


def _read_nifti(path: Path) -> tuple[nib.Nifti1Header, Array]:
    """The header and stored (unscaled) array, with a specific error for each kind of damage.

    The header is parsed on its own rather than through ``nibabel.Nifti1Image``, which moves
    ``scl_slope``/``scl_inter`` out of the header it exposes: keeping them is what lets a
    write reproduce the file.
    """
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, "no such file", str(path))
    with open(path, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if compressed:
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                content = _read_limited(stream, path)
        else:
            content = _read_limited(raw, path)
    if len(content) < _NIFTI1_HEADER_SIZE:
        raise NotNiftiError(
            path, f"{len(content)} bytes is too short for a NIfTI-1 header (348 bytes)"
        )
    sizes = {int.from_bytes(content[:4], order) for order in ("little", "big")}
    if _NIFTI2_HEADER_SIZE in sizes:
        raise NotNiftiError(path, "NIfTI-2 files are not supported; save it as NIfTI-1")
    if _NIFTI1_HEADER_SIZE not in sizes:
        raise NotNiftiError(path, "not a NIfTI file (header size field is not 348)")
    magic = content[344:348]
    if magic == _NIFTI1_PAIR_MAGIC:
        raise NotNiftiError(path, "header of a .hdr/.img pair; only single-file NIfTI is read")
    if magic != _NIFTI1_MAGIC:
        raise NotNiftiError(path, f"wrong NIfTI magic {magic!r}, expected b'n+1\\x00'")
    try:
        header = _untyped(nib.Nifti1Header).from_fileobj(io.BytesIO(content), check=True)
    except (HeaderDataError, ValueError) as exc:
        raise CorruptFileError(path, f"invalid NIfTI header ({exc})") from None
    fields = _untyped(header)
    shape = tuple(int(n) for n in fields.get_data_shape())
    stored_type = fields.get_data_dtype()
    if stored_type.kind not in "biuf":
        raise DataTypeError(path, f"storage type {stored_type} is not a real number type")
    expected = int(np.prod(shape)) * stored_type.itemsize
    offset = int(fields.get_data_offset())
    if len(content) - offset < expected:
        raise CorruptFileError(
            path,
            f"image data is {expected - max(0, len(content) - offset)} bytes short of the "
            f"{expected} "
            "bytes that the header declares (truncated file?)",
        )
    flat = np.frombuffer(content, dtype=stored_type, count=int(np.prod(shape)), offset=offset)
    stored = flat.reshape(shape, order="F")
    return header, stored.astype(stored_type.newbyteorder("="), copy=False)


def max_image_bytes() -> int:
    """The image size limit in bytes: :data:`MAX_IMAGE_BYTES_ENV` if set, else the default."""
    value = os.environ.get(MAX_IMAGE_BYTES_ENV)
    if value is None or not value.strip():
        return MAX_IMAGE_BYTES
    try:
        limit = int(value)
    except ValueError:
        problem = f"{MAX_IMAGE_BYTES_ENV}={value!r} is not a whole number of bytes"
        raise ValueError(problem) from None
    if limit <= 0:
        raise ValueError(f"{MAX_IMAGE_BYTES_ENV}={value!r} must be positive")
    return limit


def _read_checked(stream: BinaryIO | gzip.GzipFile, size: int, path: Path) -> bytes:
    try:
        return stream.read(size)
    except (EOFError, OSError, zlib.error) as exc:
        raise CorruptFileError(path, f"damaged or truncated gzip stream ({exc})") from None


def _read_limited(stream: BinaryIO | gzip.GzipFile, path: Path) -> bytes:
    """The header and the image data of a NIfTI stream, refusing an oversized image up front.

    The data size comes from the header's dims and storage type; a header declaring more than
    :func:`max_image_bytes` raises :class:`ImageTooLargeError` before the data is read. The
    rest of a gzip stream is read (and dropped) in chunks, so its checksum is still verified.
    """
    head = _read_checked(stream, _NIFTI1_HEADER_SIZE, path)
    declared = _declared_bytes(head)
    if declared is None:
        return head + _read_checked(stream, _CHUNK, path)
    limit = max_image_bytes()
    if declared > limit:
        raise ImageTooLargeError(
            path,
            f"the header declares {declared} bytes of image data, over the limit of {limit} "
            f"bytes (set {MAX_IMAGE_BYTES_ENV} to read larger images)",
        )
    content = head + _read_checked(stream, declared - len(head), path)
    trailing = 0
    while chunk := _read_checked(stream, _CHUNK, path):
        trailing += len(chunk)
        if trailing > limit:
            raise ImageTooLargeError(
                path, f"the file holds more than {limit} bytes beyond its declared image data"
            )
    return content


def _declared_bytes(head: bytes) -> int | None:
    """Offset plus data size that a NIfTI-1 header declares, or None if ``head`` is not one."""
    if len(head) < _NIFTI1_HEADER_SIZE:
        return None
    for order in ("<", ">"):
        if int(np.frombuffer(head, dtype=f"{order}i4", count=1)[0]) == _NIFTI1_HEADER_SIZE:
            break
    else:
        return None
    dims = np.frombuffer(head, dtype=f"{order}i2", count=8, offset=40).astype(np.int64)
    bitpix = int(np.frombuffer(head, dtype=f"{order}i2", count=1, offset=72)[0])
    offset = float(np.frombuffer(head, dtype=f"{order}f4", count=1, offset=108)[0])
    ndim = int(dims[0])
    if not 1 <= ndim <= 7 or np.any(dims[1 : ndim + 1] < 0) or bitpix <= 0:
        return None
    voxels = 1
    for n in dims[1 : ndim + 1]:
        voxels *= int(n)
    start = int(offset) if np.isfinite(offset) and offset >= _NIFTI1_HEADER_SIZE else 352
    return start + voxels * max(1, bitpix // 8)


def _apply_scaling(stored: Array, slope: float | None, inter: float | None) -> Array:
    """Stored values to real values, in float64 when the header scales them."""
    if slope is None or inter is None or (slope == 1.0 and inter == 0.0):
        return stored
    return stored.astype(np.float64) * slope + inter


def _exactness_problem(values: Array, target: np.dtype[Any]) -> str | None:
    """Why ``values`` cannot be cast to the integer type ``target`` exactly, or ``None``."""
    if values.size == 0 or values.dtype == np.bool_:
        return None
    if values.dtype.kind == "f":
        if not np.all(np.isfinite(values)):
            return "values include NaN or infinity"
        fractional = values[values != np.round(values)]
        if fractional.size:
            return f"values are not whole numbers (e.g. {float(fractional.flat[0])!r})"
    low, high = values.min(), values.max()
    limits = np.iinfo(target)
    if low < limits.min or high > limits.max:
        return (
            f"values span [{low}, {high}], outside the {target} range [{limits.min}, {limits.max}]"
        )
    return None


def _convert(values: Array, target: np.dtype[Any], path: Path | None) -> Array:
    if target.kind == "f":
        return values.astype(target, copy=False)
    if target.kind in "iub":
        problem = _exactness_problem(values, target) if target.kind != "b" else None
        if problem is not None:
            raise DataTypeError(path, f"cannot represent as {target} exactly: {problem}")
        return values.astype(target, copy=False)
    raise ValueError(f"unsupported array type {target}; use a float or integer type")


def _encode(
    data: Array, dtype: npt.DTypeLike | None, header: nib.Nifti1Header, path: Path
) -> tuple[Array, float | None, float | None]:
    """The array to store, and the scaling (``None`` for none) that recovers ``data`` from it."""
    values = data.astype(np.uint8) if data.dtype == np.bool_ else data
    if dtype is None:
        stored_type = _untyped(header).get_data_dtype().newbyteorder("=")
        slope, inter = _untyped(header).get_slope_inter()
        if stored_type.kind in "iu":
            if slope is not None and inter is not None and (slope, inter) != (1.0, 0.0):
                restored = _invert_scaling(values, stored_type, slope, inter)
                if restored is not None:
                    return restored, slope, inter
            elif _exactness_problem(values, stored_type) is None:
                return values.astype(stored_type), None, None
        if values.dtype.kind not in "iuf":
            raise DataTypeError(path, f"cannot store an array of type {values.dtype} in NIfTI")
        return values, None, None
    target = np.dtype(dtype)
    if target.kind == "f":
        return values.astype(target), None, None
    if target.kind not in "iu":
        raise ValueError(f"unsupported storage type {target}; use a float or integer type")
    problem = _exactness_problem(values, target)
    if problem is None:
        return values.astype(target), None, None
    if target == np.int16 and values.dtype.kind == "f":
        return _int16_with_scaling(values, path)
    raise DataTypeError(path, f"cannot store as {target} exactly: {problem}")


def _invert_scaling(
    values: Array, stored_type: np.dtype[Any], slope: float, inter: float
) -> Array | None:
    """Stored integers that reproduce ``values`` bit for bit through the scaling, if any."""
    if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
        return None
    candidate = np.rint((values.astype(np.float64) - inter) / slope)
    limits = np.iinfo(stored_type)
    if candidate.size and (candidate.min() < limits.min or candidate.max() > limits.max):
        return None
    stored = candidate.astype(stored_type)
    if np.array_equal(_apply_scaling(stored, slope, inter).astype(values.dtype), values):
        return stored
    return None


def _int16_with_scaling(values: Array, path: Path) -> tuple[Array, float, float]:
    if not np.all(np.isfinite(values)):
        raise NonFiniteError(path, "cannot store NaN or infinity as int16")
    low, high = float(values.min()), float(values.max())
    inter = float(np.float32((low + high) / 2))
    slope = float(np.float32((high - low) / 65534)) or 1.0
    stored = np.clip(np.rint((values.astype(np.float64) - inter) / slope), -32768, 32767)
    return stored.astype(np.int16), slope, inter


def _set_scaling(header: nib.Nifti1Header, slope: float | None, inter: float | None) -> None:
    if slope is not None and inter is not None:
        header["scl_slope"], header["scl_inter"] = slope, inter
        return
    current_slope, current_inter = _untyped(header).get_slope_inter()
    if current_slope is not None and (current_slope, current_inter) != (1.0, 0.0):
        header["scl_slope"], header["scl_inter"] = np.nan, np.nan


def _set_affine(header: nib.Nifti1Header, affine: npt.NDArray[np.float64]) -> None:
    """Store ``affine`` in sform (exact in float32) and qform, keeping codes that are set."""
    sform_code = int(header["sform_code"]) or int(header["qform_code"]) or 1
    qform_code = int(header["qform_code"]) or sform_code
    _untyped(header).set_sform(affine, code=sform_code)
    _untyped(header).set_qform(affine, code=qform_code)


def _singleton_dims(header: nib.Nifti1Header) -> tuple[int, ...]:
    """Trailing length-1 axes of the source file, so a 4D single-volume file stays 4D."""
    ndim = int(header["dim"][0])
    extra = tuple(int(n) for n in header["dim"][4 : ndim + 1])
    return extra if extra and all(n == 1 for n in extra) else ()


def _header_bytes(header: nib.Nifti1Header) -> int:
    """Bytes that ``header.write_to`` writes: the header, the extension flag, the extensions."""
    extensions = int(_untyped(header).extensions.get_sizeondisk())
    return _NIFTI1_HEADER_SIZE + _EXTENSION_FLAG_SIZE + extensions


def _write_nifti(
    stream: BinaryIO | gzip.GzipFile, header: nib.Nifti1Header, payload: bytes
) -> None:
    _untyped(header).write_to(stream)
    stream.write(b"\x00" * (int(header["vox_offset"]) - _header_bytes(header)))
    stream.write(payload)
