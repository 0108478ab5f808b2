"""The 2D segmenter's loss: focal Tversky, as HF-GAN's thesis writes it.

HF-GAN also adds it, through a frozen :class:`~mri_seg.segmenter2d.Segmenter2D`, to its
generator's loss.
"""

from __future__ import annotations

import torch
from torch import nn

#: HF-GAN's focal Tversky settings: false positives weigh 0.3, false negatives 0.7, exponent 1.33.
FOCAL_TVERSKY_ALPHA = 0.3
FOCAL_TVERSKY_BETA = 0.7
FOCAL_TVERSKY_GAMMA = 1.33


def _one_hot(target: torch.Tensor, classes: int, like: torch.Tensor) -> torch.Tensor:
    """``target`` as one-hot ``(batch, classes, *S)``: class indices ``(batch, *S)`` or already
    one-hot/probabilistic ``(batch, classes, *S)``."""
    if target.shape == like.shape:
        return target.to(like.dtype)
    if target.shape != like.shape[:1] + like.shape[2:]:
        raise ValueError(
            f"target shape {tuple(target.shape)} fits neither the prediction "
            f"{tuple(like.shape)} nor its class indices {tuple(like.shape[:1] + like.shape[2:])}"
        )
    encoded = nn.functional.one_hot(target.long(), classes)
    return encoded.movedim(-1, 1).to(like.dtype)


def focal_tversky_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = FOCAL_TVERSKY_ALPHA,
    beta: float = FOCAL_TVERSKY_BETA,
    gamma: float = FOCAL_TVERSKY_GAMMA,
    activation: str = "softmax",
    smooth: float = 1e-6,
) -> torch.Tensor:
    """Focal Tversky loss ``sum_c (1 - TI_c) ** gamma`` as the HF-GAN thesis writes it (§2.8).

    ``TI_c = TP_c / (TP_c + alpha FP_c + beta FN_c)`` with soft counts pooled over the batch
    and every pixel, so a class absent from one slice does not produce a 0/0. ``logits`` is
    ``(batch, classes, *S)``; ``activation`` is ``"softmax"`` (classes exclusive, HF-GAN's four
    classes including background), ``"sigmoid"`` (independent channels, e.g. regions) or
    ``"none"`` (already probabilities). ``target`` holds class indices ``(batch, *S)`` or
    one-hot ``(batch, classes, *S)``. ``smooth`` keeps a class absent from both prediction and
    target at TI = 1 (no loss) instead of 0/0.

    Abraham & Khan (2019) write the exponent as ``1 / gamma``; HF-GAN's thesis writes
    ``gamma = 1.33`` directly, which is what this function computes (pass ``gamma=0.75`` for
    the paper's form with its recommended 4/3).
    """
    if logits.ndim < 3:
        raise ValueError(f"expected (batch, classes, *spatial) logits, got {tuple(logits.shape)}")
    if activation == "softmax":
        probabilities = torch.softmax(logits, dim=1)
    elif activation == "sigmoid":
        probabilities = torch.sigmoid(logits)
    elif activation == "none":
        probabilities = logits
    else:
        raise ValueError(f"activation must be softmax, sigmoid or none, got {activation!r}")
    truth = _one_hot(target, logits.shape[1], probabilities)
    axes = [0, *range(2, logits.ndim)]
    tp = (probabilities * truth).sum(dim=axes)
    fp = (probabilities * (1 - truth)).sum(dim=axes)
    fn = ((1 - probabilities) * truth).sum(dim=axes)
    tversky = (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)
    return (1 - tversky).clamp(min=0).pow(gamma).sum()


class FocalTverskyLoss(nn.Module):
    """:func:`focal_tversky_loss` as a module, with its settings fixed at construction."""

    def __init__(
        self,
        *,
        alpha: float = FOCAL_TVERSKY_ALPHA,
        beta: float = FOCAL_TVERSKY_BETA,
        gamma: float = FOCAL_TVERSKY_GAMMA,
        activation: str = "softmax",
    ) -> None:
        super().__init__()
        self.alpha, self.beta, self.gamma, self.activation = alpha, beta, gamma, activation

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of ``logits`` against ``target`` (see :func:`focal_tversky_loss`)."""
        return focal_tversky_loss(
            logits,
            target,
            alpha=self.alpha,
            beta=self.beta,
            gamma=self.gamma,
            activation=self.activation,
        )
