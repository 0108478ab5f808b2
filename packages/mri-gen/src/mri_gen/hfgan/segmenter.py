"""The frozen 2D segmenter behind the focal Tversky term, from mri-seg (``mri-gen[seg]``).

mri-seg is an optional dependency of mri-gen: the generator trains without it (the Tversky
weight is 0 by default), and asking for the term without it installed fails with the exact
command to run.

The segmenter only gives a useful loss on the inputs it was trained on, and those are not the
generator's: mri-seg trains it on each sequence z-scored on its own volume (mri-io's
``zscore-volume``), in its own sequence order, with the tumour type that mri-seg reads from
the case id, while the generator works on dataset-wide z-scores. So the real sequences come from
the training slices already normalised as mri-seg does
(:class:`~mri_gen.hfgan.data.SliceDataset`), the synthesised one is mapped into that range by
:func:`segmenter_inputs`, and :class:`FrozenSegmenter` puts the channels in the network's order
and looks up the tumour type with mri-seg's own rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from typing import Any

import torch
from torch import nn

from mri_gen.errors import ConfigError, MissingExtraError
from mri_gen.hfgan.config import VIEW_NAMES
from mri_io.intensity import BACKGROUND

#: Parameters of the focal Tversky loss in the thesis (§4.4, after Abraham and Khan).
TVERSKY_ALPHA = 0.3
TVERSKY_BETA = 0.7
TVERSKY_GAMMA = 1.33

_INSTALL = 'the focal Tversky term needs mri-seg: pip install "mri-gen[seg]"'


def _mri_seg() -> Any:
    try:
        import mri_seg
    except ImportError as exc:
        raise MissingExtraError(f"{_INSTALL} ({exc})") from None
    return mri_seg


def segmenter_inputs(
    fake: torch.Tensor, seg_images: torch.Tensor, seg_map: torch.Tensor, target: int
) -> torch.Tensor:
    """The segmenter's ``(B, S, H, W)`` input with the synthesis ``fake`` in channel ``target``.

    ``seg_images`` are the real slices as the segmenter was trained on them and ``seg_map``
    ``(B, S, 4)`` the ``[a, b, low, high]`` of
    :func:`~mri_gen.hfgan.data.segmenter_map`: ``fake`` (generator range, ``(B, 1, H, W)``)
    becomes ``clamp(a * fake + b, low, high)`` on the real target's brain and the background
    elsewhere, so a synthesis equal to the real slice gives the real slice's input.
    """
    a, b, low, high = (part[:, None, None, None] for part in seg_map[:, target].unbind(-1))
    brain = seg_images[:, target : target + 1] != BACKGROUND
    mapped = torch.clamp(fake * a + b, min=low, max=high)
    channel = torch.where(brain, mapped, torch.full_like(mapped, BACKGROUND))
    return torch.cat((seg_images[:, :target], channel, seg_images[:, target + 1 :]), dim=1)


class FrozenSegmenter(nn.Module):
    """An mri-seg ``Segmenter2D`` with frozen weights, fed as mri-seg trained it.

    ``tumour_types`` maps case ids to ``gli``/``met``/``men`` where the identifier does not tell:
    give the mapping the segmenter was trained with (mri-seg's ``train_segmenter2d``).
    """

    def __init__(self, network: Any, tumour_types: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.network: Any = network.eval().requires_grad_(False)
        self.tumour_types = dict(tumour_types or {})

    @classmethod
    def from_pretrained(
        cls, folder: str | PathLike[str], tumour_types: Mapping[str, str] | None = None
    ) -> FrozenSegmenter:
        """Load a segmenter saved by mri-seg; raises :class:`MissingExtraError` without it."""
        network = _mri_seg().Segmenter2D.from_pretrained(folder)
        return cls(network, tumour_types)

    def tumour_type(self, case_id: str) -> str:
        """The tumour type mri-seg's training gave ``case_id``'s slices."""
        return self.tumour_types.get(case_id) or str(_mri_seg().tumour_type_of(case_id))

    def channel_order(self, sequences: Sequence[str]) -> list[int]:
        """Indices into ``sequences`` (the generator's order) of the network's input channels."""
        missing = [name for name in self.network.sequences if name not in sequences]
        if missing:
            raise ConfigError(
                None,
                f"the segmenter needs {', '.join(missing)}, which the generator does not have",
            )
        return [list(sequences).index(name) for name in self.network.sequences]

    def train(self, mode: bool = True) -> FrozenSegmenter:
        """Stay in eval mode: a frozen network's normalisation statistics must not move."""
        super().train(False)
        return self

    def loss(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        view: torch.Tensor,
        case_ids: Sequence[str],
        sequences: Sequence[str],
    ) -> torch.Tensor:
        """Focal Tversky loss of the segmentation of ``images`` vs ``labels``.

        ``images`` holds ``sequences`` (in that order) normalised as the segmenter was trained
        (:func:`segmenter_inputs`); ``case_ids`` give each slice's tumour type.
        """
        seg = _mri_seg()
        names = [VIEW_NAMES[int(v)] for v in view.tolist()]
        kinds = [self.tumour_type(case_id) for case_id in case_ids]
        view_codes, type_codes = self.network.codes(names, kinds)
        inputs = images[:, self.channel_order(sequences)]
        logits = self.network(inputs, view_codes.to(images.device), type_codes.to(images.device))
        loss: torch.Tensor = seg.focal_tversky_loss(
            logits, labels, alpha=TVERSKY_ALPHA, beta=TVERSKY_BETA, gamma=TVERSKY_GAMMA
        )
        return loss


def require_segmenter() -> None:
    """Fail early, with the install command, when mri-seg is not importable."""
    _mri_seg()
