"""SSIM on torch tensors (CPU or GPU), batched: the math of :mod:`mri_metrics.similarity`.

Images are ``(*batch, *spatial)`` tensors with ``spatial_dims`` (2 or 3) trailing axes. The map is
computed with reflect padding (numpy's mirror) and a separable Gaussian, on values centred on each
reference's mean, so it agrees with the numpy path to rounding: about 1e-10 in float64 and 1e-5
in float32. Results keep the input dtype; pass float64 tensors where the last digits matter.

The map is differentiable, so it is also the suite's one SSIM loss (mri-gen's HF-GAN trains on
it). ``padding="replicate"`` repeats the edge voxels instead of mirroring them: HF-GAN's SSIM term
was defined and trained that way. The two paddings agree everywhere but within
``win_size // 2`` voxels of the border.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor

from mri_metrics.errors import MetricInputError, NonFiniteError, ShapeMismatchError

__all__ = ["Padding", "ssim", "ssim_map"]

#: How the map is computed near the border: ``reflect`` mirrors the image as numpy and skimage
#: do; ``replicate`` repeats the edge voxels (the HF-GAN loss's convention).
Padding = Literal["reflect", "replicate"]


def _check_pair(pred: Tensor, ref: Tensor, spatial_dims: int | None, win_size: int) -> int:
    if pred.shape != ref.shape:
        raise ShapeMismatchError(
            f"pred has shape {tuple(pred.shape)} but ref has shape {tuple(ref.shape)}"
        )
    dims = pred.ndim if spatial_dims is None else spatial_dims
    if dims not in (2, 3) or pred.ndim < dims:
        raise MetricInputError(
            f"SSIM needs 2 or 3 spatial axes, got spatial_dims={dims} for shape {tuple(pred.shape)}"
        )
    if min(pred.shape[-dims:]) < win_size:
        raise MetricInputError(
            f"images of shape {tuple(pred.shape[-dims:])} are smaller than the "
            f"{win_size}-voxel window"
        )
    if win_size < 3 or win_size % 2 == 0:
        raise MetricInputError(f"win_size must be an odd integer >= 3, got {win_size}")
    for name, tensor in (("pred", pred), ("ref", ref)):
        if not bool(torch.isfinite(tensor).all()):
            raise NonFiniteError(f"{name}: holds NaN or infinity")
    return dims


def _kernel(win_size: int, sigma: float, gaussian: bool, like: Tensor) -> Tensor:
    if not gaussian:
        return torch.full((win_size,), 1.0 / win_size, dtype=like.dtype, device=like.device)
    offsets = torch.arange(win_size, dtype=torch.float64) - (win_size - 1) / 2
    weights = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return (weights / weights.sum()).to(dtype=like.dtype, device=like.device)


def ssim_map(
    pred: Tensor,
    ref: Tensor,
    *,
    spatial_dims: int | None = None,
    data_range: float | Tensor | None = None,
    gaussian: bool = True,
    sigma: float = 1.5,
    win_size: int = 11,
    k1: float = 0.01,
    k2: float = 0.03,
    padding: Padding = "reflect",
) -> Tensor:
    """Local SSIM of every voxel, same shape as the inputs.

    ``spatial_dims=None`` treats the whole tensor as one image. ``data_range=None`` uses each
    reference image's max - min (a float or a tensor of shape ``batch`` overrides it).
    ``padding`` chooses how border voxels see beyond the image (see :data:`Padding`).
    """
    if padding not in get_args(Padding):
        raise MetricInputError(f"padding must be one of {get_args(Padding)}, got {padding!r}")
    dims = _check_pair(pred, ref, spatial_dims, win_size)
    spatial = pred.shape[-dims:]
    batch = pred.shape[: pred.ndim - dims]
    x = pred.reshape(-1, 1, *spatial)
    y = ref.reshape(-1, 1, *spatial).to(x.dtype)
    flat = y.flatten(1)
    if data_range is None:
        peak = flat.amax(dim=1) - flat.amin(dim=1)
    else:
        peak = torch.as_tensor(data_range, dtype=x.dtype, device=x.device).reshape(-1)
        peak = peak.expand(x.shape[0])
    if not bool((peak > 0).all()):
        raise MetricInputError("data range is not positive (a constant reference?); pass it")
    view = (-1,) + (1,) * (dims + 1)
    centre = flat.mean(dim=1).reshape(view)
    radius = (win_size - 1) // 2
    # The moments are pointwise in the images, so padding the centred images equals padding
    # the moments, at a quarter of the memory.
    pads = (radius,) * (2 * dims)
    xc = F.pad(x - centre, pads, mode=padding)
    yc = F.pad(y - centre, pads, mode=padding)
    kernel = _kernel(win_size, sigma, gaussian, x)
    squeeze = (-1,) + (1,) * dims
    constants = (
        centre.reshape(squeeze),
        ((k1 * peak) ** 2).reshape(squeeze),
        ((k2 * peak) ** 2).reshape(squeeze),
    )
    rows = spatial[0]
    step = _planes_per_slab(xc, dims, radius)
    slabs = [
        _local_ssim(
            xc.narrow(2, start, min(step, rows - start) + 2 * radius),
            yc.narrow(2, start, min(step, rows - start) + 2 * radius),
            kernel,
            constants,
        )
        for start in range(0, rows, step)
    ]
    local = slabs[0] if len(slabs) == 1 else torch.cat(slabs, dim=1)
    return local.reshape(*batch, *spatial)


#: Largest moments buffer of one slab of a 3D image on a CPU, in bytes. Whole-volume tensors
#: (every step of the filtering allocates some, 160 MB each for a BraTS volume's four
#: moments) cost more in fresh memory pages than in arithmetic on a CPU: a 240x240x155 SSIM
#: spent 1-17 s in page faults around 0.8 s of computing. Slabs of a few planes keep every
#: buffer small enough for the allocator to reuse and for the caches to hold, and the
#: arithmetic got faster too, although each slab refilters its window's margin (measured on
#: 240x240x155 float32: 16 planes 1.9 s with 470,000 page faults, 4 planes 0.85 s, 2 planes
#: 0.8 s with about 50,000). GPUs take the whole volume.
CPU_SLAB_BYTES = 8 * 2**20


def _planes_per_slab(padded: Tensor, dims: int, radius: int) -> int:
    """Output planes of the first spatial axis per slab: all of them except for 3D images on a
    CPU, whose slabs' moments (four images of their planes plus the window margin) fit in
    :data:`CPU_SLAB_BYTES`."""
    rows = padded.shape[2] - 2 * radius
    if padded.device.type != "cpu" or dims != 3:
        return rows
    plane = 4 * padded.shape[0] * padded[0, 0, 0].numel() * padded.element_size()
    return max(1, min(rows, CPU_SLAB_BYTES // plane - 2 * radius))


def _local_ssim(
    xc: Tensor, yc: Tensor, kernel: Tensor, constants: tuple[Tensor, Tensor, Tensor]
) -> Tensor:
    """Local SSIM of the voxels whose windows lie inside the padded, centred ``xc``, ``yc``
    (``(N, 1, *spatial)``): the four window moments by one separable pass per axis, then the
    formula. Returns ``(N, *spatial)`` minus the window on every axis."""
    centre, c1, c2 = constants
    dims = xc.ndim - 2
    moments = torch.cat((xc, yc, xc * xc + yc * yc, xc * yc), dim=1)
    conv = F.conv3d if dims == 3 else F.conv2d
    for axis in range(dims):
        single = [1, 1] + [1] * dims
        single[2 + axis] = kernel.numel()
        weight = kernel.reshape(single).expand(4, *single[1:]).contiguous()
        moments = conv(moments, weight, groups=4)
    mu_x, mu_y, second, cross = moments.unbind(dim=1)
    var_sum = torch.clamp(second - mu_x * mu_x - mu_y * mu_y, min=0.0)
    cov = cross - mu_x * mu_y
    mu_x = mu_x + centre
    mu_y = mu_y + centre
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x * mu_x + mu_y * mu_y + c1) * (var_sum + c2)
    )


def ssim(
    pred: Tensor,
    ref: Tensor,
    *,
    mask: Tensor | None = None,
    spatial_dims: int | None = None,
    data_range: float | Tensor | None = None,
    gaussian: bool = True,
    sigma: float = 1.5,
    win_size: int = 11,
    k1: float = 0.01,
    k2: float = 0.03,
) -> Tensor:
    """Mean SSIM per image: over ``mask`` voxels, or over the interior without one.

    Matches :func:`mri_metrics.similarity.ssim` with ``profile="mri-suite"``. Returns a tensor of
    the batch shape (a 0-d tensor for a single image).

    With a mask, only the mask's bounding box (over the batch) plus the window radius is
    filtered: the map of a voxel depends on its window alone, so the voxels outside cannot
    change the result (a brain's bounding box is about a third of a BraTS volume). The whole
    images are still checked (shapes, NaN and infinity) first.

    Raises:
        MetricInputError: an image whose mask selects no voxel, or bad shapes/values.
    """
    dims = pred.ndim if spatial_dims is None else spatial_dims
    if mask is not None:
        _check_pair(pred, ref, spatial_dims, win_size)
        if mask.shape != pred.shape:
            raise ShapeMismatchError(
                f"mask has shape {tuple(mask.shape)} but the images have {tuple(pred.shape)}"
            )
        pred, ref, mask, data_range = _crop_to_mask(pred, ref, mask, dims, win_size, data_range)
    local = ssim_map(
        pred,
        ref,
        spatial_dims=spatial_dims,
        data_range=data_range,
        gaussian=gaussian,
        sigma=sigma,
        win_size=win_size,
        k1=k1,
        k2=k2,
    )
    if mask is None:
        radius = (win_size - 1) // 2
        inner = local
        for axis in range(local.ndim - dims, local.ndim):
            inner = inner.narrow(axis, radius, local.shape[axis] - 2 * radius)
        return inner.flatten(-dims).mean(dim=-1)
    weights = mask.to(dtype=local.dtype).flatten(-dims)
    counts = weights.sum(dim=-1)
    if bool((counts == 0).any()):
        raise MetricInputError("mask selects no voxel in some image; its SSIM is undefined")
    return (local.flatten(-dims) * weights).sum(dim=-1) / counts


def _crop_to_mask(
    pred: Tensor,
    ref: Tensor,
    mask: Tensor,
    dims: int,
    win_size: int,
    data_range: float | Tensor | None,
) -> tuple[Tensor, Tensor, Tensor, float | Tensor]:
    """The images and mask cut to the mask's bounding box over the batch, grown by the window
    radius where the image extends that far (and to at least one window), with the data range
    resolved on the whole reference first: it is a property of the image, not of the box.

    Every masked voxel's window then lies inside the cut or reaches the image border exactly as
    in the whole image, so its local SSIM is unchanged.
    """
    if data_range is None:
        flat = ref.to(pred.dtype).reshape(-1, *ref.shape[ref.ndim - dims :]).flatten(1)
        data_range = flat.amax(dim=1) - flat.amin(dim=1)
    hits = mask.reshape(-1, *mask.shape[mask.ndim - dims :]).any(dim=0)
    if not bool(hits.any()):
        return pred, ref, mask, data_range
    radius = (win_size - 1) // 2
    for axis in range(dims):
        others = tuple(a for a in range(dims) if a != axis)
        occupied = torch.nonzero(hits.any(dim=others) if others else hits).flatten()
        size = hits.shape[axis]
        low = max(0, int(occupied[0]) - radius)
        high = min(size, int(occupied[-1]) + 1 + radius)
        if high - low < win_size:
            high = min(size, low + win_size)
            low = max(0, high - win_size)
        where = pred.ndim - dims + axis
        pred, ref, mask = (t.narrow(where, low, high - low) for t in (pred, ref, mask))
    return pred, ref, mask, data_range
