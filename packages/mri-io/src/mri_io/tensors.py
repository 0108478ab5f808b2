"""The synthesis path's volume operations on torch tensors, on whatever device holds them.

A generator on a GPU is fast enough that the numpy work around it dominates a case: z-scoring
the inputs, the background vote, cutting padded slices batch by batch, copying every batch to
the device and every result back, re-stacking and de-normalising cost more than the network
itself. These functions do the same steps on the device, so a case crosses to it once (its
input volumes) and comes back once (the synthesised volume).

Each function is the tensor twin of a numpy function of mri-io and does the same arithmetic in
the same order and precision, so on a CPU the results are equal bit for bit for float32
volumes, the type volumes are loaded in (the tests compare them; numpy's forward map of a
float64 volume works in float64 and can differ by one float32 rounding). The twins:
:func:`normalise` is :meth:`mri_io.intensity.Normaliser.forward` with known parameters,
:func:`denormalise` is :meth:`~mri_io.intensity.Normaliser.inverse`, :func:`background_majority`
is :func:`mri_io.slicing.background_majority`, and :func:`slices` / :func:`restack` are
:meth:`mri_io.slicing.SliceLayout.slices` / :meth:`~mri_io.slicing.SliceLayout.restack` for all
slices of a stack. Divisions use a scalar tensor on the device, not a Python number: CUDA
replaces division by a host scalar with multiplication by its reciprocal, which can differ in
the last bit. MPS has no float64: there :func:`denormalise` runs on the CPU, where its result
is going anyway.

Needs torch: ``pip install "mri-io[torch]"``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

try:
    import torch
    import torch.nn.functional as F
except ImportError as exc:  # pragma: no cover - exercised by the isolation session
    raise ImportError(f'mri_io.tensors needs torch: pip install "mri-io[torch]" ({exc})') from exc

from mri_io.intensity import NormalisationParams
from mri_io.slicing import SliceLayout

__all__ = ["background_majority", "denormalise", "normalise", "restack", "slices", "to_device"]


def to_device(array: ArrayLike, device: torch.device) -> torch.Tensor:
    """A volume's array on ``device`` as float32, crossing once.

    A float32 array crosses as it is, in its own memory order (NIfTI volumes load in Fortran
    order; torch keeps the strides). Other types are cast to float32 on the host first, as
    numpy's normalisation would (so float64 never reaches a device that lacks it), and arrays
    torch cannot share (negative strides, a byte order other than the machine's, read-only
    memory) are copied. On a CPU the result may share ``array``'s memory: change it out of
    place.
    """
    values = np.asarray(array)
    shareable = (
        values.dtype == np.float32
        and values.dtype.isnative
        and values.flags.writeable
        and all(stride >= 0 for stride in values.strides)
    )
    if not shareable:
        values = np.array(values, dtype=np.float32, order="C")
    return torch.from_numpy(values).to(device)


def normalise(raw: torch.Tensor, params: NormalisationParams) -> torch.Tensor:
    """``(min(raw, clip) - offset) / scale`` on the foreground (``raw > 0``), ``background``
    elsewhere, in float32; ``raw`` is a volume (or stack) with negatives already clamped to 0.
    Non-finite intensities raise ``ValueError`` as the numpy path does."""
    values = raw.float()
    if not bool(torch.isfinite(values).all()):
        raise ValueError("intensities must be finite (found NaN or infinity)")
    data = values.clamp_max(params.clip)
    data -= params.offset
    data /= data.new_tensor(params.scale)
    return data.masked_fill_(values <= 0, params.background)


def denormalise(
    values: torch.Tensor, params: NormalisationParams, foreground: torch.Tensor
) -> torch.Tensor:
    """Scanner intensities of normalised ``values``: the affine map undone in float64, negatives
    clamped to 0, everything outside ``foreground`` set to 0, returned as float32."""
    if foreground.shape != values.shape:
        raise ValueError(
            f"foreground mask {tuple(foreground.shape)} does not match volume {tuple(values.shape)}"
        )
    if values.device.type == "mps":  # no float64 there; the result is going to the host
        values, foreground = values.cpu(), foreground.cpu()
    restored = values.double() * params.scale
    restored += params.offset
    restored.clamp_min_(0.0).masked_fill_(~foreground, 0.0)
    return restored.float()


def background_majority(
    stack: torch.Tensor, available: Sequence[bool], background: float = 0.0
) -> torch.Tensor:
    """Voxels of a ``(sequence, x, y, z)`` stack that a strict majority of the available
    sequences call background (a tie keeps the voxel: see the numpy function)."""
    if stack.ndim < 2:
        raise ValueError(f"expected a (sequence, ...) stack, got {tuple(stack.shape)}")
    if len(available) != stack.shape[0] or not any(available):
        raise ValueError(f"available must flag {stack.shape[0]} sequences, at least one True")
    chosen = [index for index, flag in enumerate(available) if flag]
    votes = torch.zeros(stack.shape[1:], dtype=torch.int32, device=stack.device)
    for index in chosen:
        votes += stack[index] == background
    return votes > len(chosen) // 2


def _pads(layout: SliceLayout) -> list[int]:
    """``F.pad`` widths (last axis first) that take a plane to the square slice: positive pads,
    negative crops, as :class:`mri_io.geometry.CentreFit` places it."""
    fit = layout.plane
    widths: list[int] = []
    for source, target, offset in reversed(
        list(zip(fit.source, fit.target, fit.offset, strict=True))
    ):
        widths += [offset, target - source - offset]
    return widths


def slices(stack: torch.Tensor, layout: SliceLayout, pad: float = 0.0) -> torch.Tensor:
    """Every slice of a ``(..., x, y, z)`` stack along ``layout``'s axis, as
    ``(n, ..., size, size)``, padded with ``pad`` (or centre-cropped) to the square."""
    if stack.ndim < 3 or tuple(stack.shape[-3:]) != layout.shape:
        raise ValueError(f"expected a stack of {layout.shape} volumes, got {tuple(stack.shape)}")
    moved = stack.movedim(stack.ndim - 3 + layout.axis, 0)
    return F.pad(moved, _pads(layout), value=pad).contiguous()


def restack(slices: torch.Tensor, layout: SliceLayout, fill: float = 0.0) -> torch.Tensor:
    """Exact inverse of :func:`slices`: a ``(..., x, y, z)`` volume from all ``n`` slices
    ``(n, ..., size, size)``, padding cropped away and cropped-away voxels set to ``fill``."""
    if slices.ndim < 3 or slices.shape[0] != layout.count:
        raise ValueError(
            f"expected {layout.count} slices of {layout.size}x{layout.size}, "
            f"got {tuple(slices.shape)}"
        )
    if tuple(slices.shape[-2:]) != (layout.size, layout.size):
        raise ValueError(
            f"expected {layout.count} slices of {layout.size}x{layout.size}, "
            f"got {tuple(slices.shape)}"
        )
    planes = F.pad(slices, [-width for width in _pads(layout)], value=fill)
    lead = slices.ndim - 3
    return planes.movedim(0, lead + layout.axis).contiguous()
