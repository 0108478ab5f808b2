"""The Karhunen-Loeve expansion (KLE) of training cases and the anomaly channel it yields.

A brain is mostly what every brain looks like; a tumour is what a basis fitted on a handful of
cases cannot express. Following the BraTS abstract this family takes it from, each case's
z-scored four-sequence stack is resampled to ``grid``^3 voxels per channel, the cases are
flattened to vectors and their principal components (the KLE, by SVD of the centred case
matrix) are kept up to ``components`` coefficients. A case is projected on the basis and
reconstructed; the root-mean-square over sequences of the reconstruction residual, resampled
back to the case grid, is the anomaly map the U-Net takes as one more input channel.

``n`` training cases span at most ``n - 1`` directions around their mean, so a basis fitted on
fewer than ``components + 1`` cases keeps ``n - 1`` coefficients (recorded in
:attr:`KLEBasis.components`). Signs of the components are fixed (largest entry positive), so the
same cases give the same basis, bit for bit. A basis is saved as ``kle.json`` (what it is) plus
``kle.safetensors`` (the arrays, checked by their SHA-256 on load), never as a pickle.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from safetensors.numpy import load_file, save_file
from scipy.ndimage import zoom

from mri_io.atomic import atomic_write, atomic_write_text
from mri_io.intensity import BACKGROUND
from mri_seg.errors import ModelFileError

#: The abstract's sizes: 48^3 voxels per channel and 32 KL coefficients.
KLE_GRID = 48
KLE_COMPONENTS = 32
JSON_NAME = "kle.json"
ARRAYS_NAME = "kle.safetensors"

Stack = NDArray[np.float32]


def downsample(stack: Stack, grid: int) -> NDArray[np.float64]:
    """Each channel of a ``(channels, X, Y, Z)`` stack resampled (linear) to ``grid``^3."""
    factors = [grid / side for side in stack.shape[1:]]
    return np.stack([zoom(channel.astype(np.float64), factors, order=1) for channel in stack])


@dataclass(frozen=True, eq=False)
class KLEBasis:
    """A fitted KLE: the mean case and orthonormal components, ``grid``^3 per sequence.

    ``mean`` has shape ``(len(sequences) * grid**3,)``, ``basis`` ``(components, same)``;
    ``variances`` are the components' variances over the training cases (descending).
    """

    sequences: tuple[str, ...]
    grid: int
    cases: int
    mean: NDArray[np.float32]
    basis: NDArray[np.float32]
    variances: NDArray[np.float32]

    @property
    def components(self) -> int:
        """Number of KL coefficients kept."""
        return int(self.basis.shape[0])

    @classmethod
    def fit(
        cls,
        stacks: Iterable[Stack],
        sequences: Sequence[str],
        *,
        components: int = KLE_COMPONENTS,
        grid: int = KLE_GRID,
    ) -> KLEBasis:
        """The KLE of normalised ``(len(sequences), X, Y, Z)`` stacks (cases may differ in
        shape: each is resampled to ``grid``^3), truncated at ``components`` coefficients or
        ``cases - 1``, whichever is smaller."""
        if components < 1 or grid < 2:
            raise ValueError(f"components must be >= 1 and grid >= 2, got {components}, {grid}")
        rows = []
        for stack in stacks:
            if stack.ndim != 4 or stack.shape[0] != len(sequences):
                raise ValueError(
                    f"expected ({len(sequences)}, X, Y, Z) stacks, got {tuple(stack.shape)}"
                )
            rows.append(downsample(stack, grid).ravel())
        if len(rows) < 2:
            raise ValueError(f"a KLE needs at least 2 cases, got {len(rows)}")
        matrix = np.stack(rows)
        mean = matrix.mean(axis=0)
        _, singular, vectors = np.linalg.svd(matrix - mean, full_matrices=False)
        kept = min(components, len(rows) - 1)
        basis = vectors[:kept]
        # An SVD's signs are arbitrary; fixing them makes the basis a function of the data.
        largest = np.abs(basis).argmax(axis=1)
        basis = basis * np.sign(basis[np.arange(kept), largest])[:, None]
        variances = singular[:kept] ** 2 / (len(rows) - 1)
        return cls(
            tuple(sequences),
            grid,
            len(rows),
            mean.astype(np.float32),
            basis.astype(np.float32),
            variances.astype(np.float32),
        )

    def coefficients(self, stack: Stack) -> NDArray[np.float64]:
        """The KL coefficients of one case."""
        vector = self._vector(stack)
        return self.basis.astype(np.float64) @ (vector - self.mean)

    def reconstruct(self, stack: Stack) -> NDArray[np.float64]:
        """The case as the basis sees it: ``(sequences, grid, grid, grid)``."""
        vector = self._vector(stack)
        basis = self.basis.astype(np.float64)
        approximation = self.mean + basis.T @ (basis @ (vector - self.mean))
        return approximation.reshape(len(self.sequences), self.grid, self.grid, self.grid)

    def residual_energy(self, stack: Stack) -> float:
        """Mean squared reconstruction error of a case at ``grid``^3 (z-score units)."""
        original = downsample(stack, self.grid)
        return float(np.mean((original - self.reconstruct(stack)) ** 2))

    def anomaly(self, stack: Stack) -> NDArray[np.float32]:
        """The anomaly map on the case's own grid ``(X, Y, Z)``: root-mean-square over
        sequences of the reconstruction residual, resampled (linear) from ``grid``^3, and 0
        where every sequence is background."""
        residual = downsample(stack, self.grid) - self.reconstruct(stack)
        small = np.sqrt(np.mean(residual**2, axis=0))
        factors = [side / self.grid for side in stack.shape[1:]]
        full: NDArray[np.float64] = zoom(small, factors, order=1)
        full[np.all(stack == BACKGROUND, axis=0)] = 0.0
        return full.astype(np.float32)

    def _vector(self, stack: Stack) -> NDArray[np.float64]:
        if stack.ndim != 4 or stack.shape[0] != len(self.sequences):
            raise ValueError(
                f"expected ({len(self.sequences)}, X, Y, Z) stacks, got {tuple(stack.shape)}"
            )
        return downsample(stack, self.grid).ravel()

    def describe(self) -> dict[str, Any]:
        """JSON-ready description (without the arrays)."""
        return {
            "sequences": list(self.sequences),
            "grid": self.grid,
            "cases": self.cases,
            "components": self.components,
        }

    def arrays(self) -> dict[str, NDArray[np.float32]]:
        """The arrays by name, as saved."""
        return {"mean": self.mean, "basis": self.basis, "variances": self.variances}

    @classmethod
    def from_arrays(
        cls, description: dict[str, Any], arrays: dict[str, NDArray[np.float32]]
    ) -> KLEBasis:
        """The basis :meth:`describe` and :meth:`arrays` gave."""
        sequences = tuple(str(s) for s in description["sequences"])
        grid, components = int(description["grid"]), int(description["components"])
        size = len(sequences) * grid**3
        shapes = {"mean": (size,), "basis": (components, size), "variances": (components,)}
        for name, shape in shapes.items():
            if name not in arrays or tuple(arrays[name].shape) != shape:
                found = None if name not in arrays else tuple(arrays[name].shape)
                raise ValueError(f"KLE array {name!r} should have shape {shape}, found {found}")
        return cls(
            sequences,
            grid,
            int(description["cases"]),
            np.asarray(arrays["mean"], dtype=np.float32),
            np.asarray(arrays["basis"], dtype=np.float32),
            np.asarray(arrays["variances"], dtype=np.float32),
        )

    def save(self, folder: str | PathLike[str]) -> Path:
        """Write ``kle.safetensors`` then ``kle.json`` (with the arrays' SHA-256) into
        ``folder``, each atomically."""
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        with atomic_write(target / ARRAYS_NAME) as temporary:
            save_file(self.arrays(), str(temporary))
        digest = hashlib.sha256((target / ARRAYS_NAME).read_bytes()).hexdigest()
        text = json.dumps({**self.describe(), "arrays_sha256": digest}, indent=2) + "\n"
        atomic_write_text(target / JSON_NAME, text)
        return target

    @classmethod
    def load(cls, folder: str | PathLike[str]) -> KLEBasis:
        """The basis :meth:`save` wrote; a damaged or mismatched file raises
        :class:`ModelFileError` naming it."""
        source = Path(folder)
        try:
            description = json.loads((source / JSON_NAME).read_text(encoding="utf-8"))
            data = (source / ARRAYS_NAME).read_bytes()
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelFileError(source, f"cannot read the KLE basis ({exc})") from None
        if hashlib.sha256(data).hexdigest() != description.get("arrays_sha256"):
            raise ModelFileError(source / ARRAYS_NAME, "does not match the hash in kle.json")
        try:
            return cls.from_arrays(description, load_file(str(source / ARRAYS_NAME)))
        except (KeyError, ValueError) as exc:
            raise ModelFileError(source / JSON_NAME, f"invalid KLE basis: {exc}") from None
