"""Differentiable SSIM maps and their mean over a region (brain, healthy tissue, tumour).

SSIM of a synthetic brain slice averaged over the whole image is dominated by the background,
which every generator gets right, so the thesis (Appendix A) averages the local SSIM map over
the region of interest only. The map here is the Gaussian-window SSIM of Wang et al. (window
11, sigma 1.5, population covariances, ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2``), computed at
every pixel with replicate padding so that it lines up with the masks.
"""

from __future__ import annotations

from typing import Final

import torch
import torch.nn.functional as F

WINDOW: Final = 11
SIGMA: Final = 1.5

#: Added to a region's pixel count before dividing, so an empty region gives 0, not NaN. The
#: reference code added 1e3 to the healthy-tissue count, which shrank that term about a
#: thousand-fold on small regions; this is the intended 1e-3.
REGION_EPS: Final = 1e-3


def gaussian_window(size: int = WINDOW, sigma: float = SIGMA) -> torch.Tensor:
    """Normalised 1D Gaussian of ``size`` taps."""
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    weights = torch.exp(-(offsets**2) / (2 * sigma**2))
    return weights / weights.sum()


def _blur(x: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter of ``(B, 1, H, W)`` with replicate padding (same size out)."""
    pad = window.numel() // 2
    x = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    x = F.conv2d(x, window.view(1, 1, 1, -1))
    return F.conv2d(x, window.view(1, 1, -1, 1))


def ssim_map(pred: torch.Tensor, ref: torch.Tensor, data_range: torch.Tensor) -> torch.Tensor:
    """Local SSIM of ``(B, 1, H, W)`` images; ``data_range`` is ``(B,)`` (the L of C1, C2)."""
    window = gaussian_window().to(device=pred.device, dtype=pred.dtype)
    mu_p, mu_r = _blur(pred, window), _blur(ref, window)
    var_p = _blur(pred * pred, window) - mu_p**2
    var_r = _blur(ref * ref, window) - mu_r**2
    cov = _blur(pred * ref, window) - mu_p * mu_r
    span = data_range.to(pred.dtype).view(-1, 1, 1, 1)
    c1, c2 = (0.01 * span) ** 2, (0.03 * span) ** 2
    numerator = (2 * mu_p * mu_r + c1) * (2 * cov + c2)
    denominator = (mu_p**2 + mu_r**2 + c1) * (var_p + var_r + c2)
    return numerator / denominator


def region_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-sample mean of ``values`` over ``mask`` ``(B, 1, H, W)``: sum / (count + 1e-3)."""
    weights = mask.to(values.dtype)
    total = (values * weights).flatten(1).sum(dim=1)
    return total / (weights.flatten(1).sum(dim=1) + REGION_EPS)
