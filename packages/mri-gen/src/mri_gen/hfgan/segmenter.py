"""The frozen 2D segmenter behind the focal Tversky term, from mri-seg (``mri-gen[seg]``).

mri-seg is an optional dependency of mri-gen: the generator trains without it (the Tversky
weight is 0 by default), and asking for the term without it installed fails with the exact
command to run.
"""

from __future__ import annotations

from os import PathLike
from typing import Any

import torch
from torch import nn

from mri_gen.errors import MissingExtraError
from mri_gen.hfgan.config import VIEW_NAMES

#: Parameters of the focal Tversky loss in the thesis (§4.4, after Abraham and Khan).
TVERSKY_ALPHA = 0.3
TVERSKY_BETA = 0.7
TVERSKY_GAMMA = 1.33

_INSTALL = 'the focal Tversky term needs mri-seg: pip install "mri-gen[seg]"'


def _mri_seg() -> Any:
    try:
        import mri_seg.losses
        import mri_seg.networks
    except ImportError as exc:
        raise MissingExtraError(f"{_INSTALL} ({exc})") from None
    return mri_seg


class FrozenSegmenter(nn.Module):
    """An mri-seg ``Segmenter2D`` with frozen weights, called on generator-ordered views."""

    def __init__(self, network: Any, tumour_type: str = "gli") -> None:
        super().__init__()
        self.network: Any = network.eval().requires_grad_(False)
        self.tumour_type = tumour_type

    @classmethod
    def from_pretrained(
        cls, folder: str | PathLike[str], tumour_type: str = "gli"
    ) -> FrozenSegmenter:
        """Load a segmenter saved by mri-seg; raises :class:`MissingExtraError` without it."""
        network = _mri_seg().networks.Segmenter2D.from_pretrained(folder)
        return cls(network, tumour_type)

    def train(self, mode: bool = True) -> FrozenSegmenter:
        """Stay in eval mode: a frozen network's normalisation statistics must not move."""
        super().train(False)
        return self

    def loss(self, images: torch.Tensor, labels: torch.Tensor, view: torch.Tensor) -> torch.Tensor:
        """Focal Tversky loss of the segmentation of ``images`` (all sequences) vs ``labels``."""
        seg = _mri_seg()
        names = [VIEW_NAMES[int(v)] for v in view.tolist()]
        view_codes, type_codes = self.network.codes(names, [self.tumour_type] * len(names))
        logits = self.network(images, view_codes.to(images.device), type_codes.to(images.device))
        loss: torch.Tensor = seg.losses.focal_tversky_loss(
            logits, labels, alpha=TVERSKY_ALPHA, beta=TVERSKY_BETA, gamma=TVERSKY_GAMMA
        )
        return loss


def require_segmenter() -> None:
    """Fail early, with the install command, when mri-seg is not importable."""
    _mri_seg()
