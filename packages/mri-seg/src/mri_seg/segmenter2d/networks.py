"""The lightweight 2D segmenter of the HF-GAN BraSyn 2025 thesis (§4.3.3).

Described there as nnU-Net-derived, four stages of 32, 64, 128, 256 features, SiLU throughout,
trained on axial, coronal and sagittal slices of gliomas and metastases with the view and the
tumour type given as one-hot inputs, four output classes (background, NETC, edema, ET) and the
focal Tversky loss, 1.79 million parameters. The code is not public, so the layout below is
ours, chosen to match that description: each stage is two (3x3 conv, instance norm, SiLU)
blocks, the first of stages 2-4 with stride 2; each decoder stage upsamples (nearest) and
halves the features with a 1x1 conv, concatenates the skip and applies two blocks; a 1x1 conv
gives the logits. The one-hot codes enter as constant input planes. With the default 4
sequences, 3 views and 3 tumour types that is 1,801,508 parameters (the thesis' 1.79M counts
depend on details it does not publish, such as norm affines and biases).

HF-GAN freezes this network and adds ``5 * focal_tversky_loss(segmenter(images), labels)`` to
the generator's loss, so its forward pass is differentiable with respect to ``images``. As a
:class:`~mri_seg.contract.Segmenter`, :meth:`Segmenter2D.segment` labels a whole case
(:mod:`mri_seg.segmenter2d.inference`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from numpy.typing import NDArray
from torch import nn

from mri_io.case import Case
from mri_io.nifti import Volume
from mri_io.sequences import SEQUENCES, canonical_sequence
from mri_io.slicing import VIEWS as SLICE_VIEWS
from mri_io.spacing import model_orientation, model_spacing, recorded_choice
from mri_seg.contract import InferenceSettings
from mri_seg.inputs import NORMALISATION
from mri_seg.loader import PretrainedModel, register_model
from mri_seg.segmenter2d.inference import CROP, LABEL_CONVENTION, segment_case

#: Slice orientations in the order of the one-hot view code: mri-io's, by voxel axis cut.
VIEWS: tuple[str, ...] = SLICE_VIEWS
#: Tumour types, in the order of the one-hot type code (BraTS GLI, MET, MEN).
TUMOUR_TYPES = ("gli", "met", "men")
#: Output classes: background and the BraTS 2023 labels 1, 2, 3.
CLASSES = ("background", "NETC", "SNFH", "ET")


def _block(inputs: int, outputs: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, 3, stride=stride, padding=1),
        nn.InstanceNorm2d(outputs, affine=True),
        nn.SiLU(),
    )


def _stage(inputs: int, outputs: int, stride: int) -> nn.Sequential:
    return nn.Sequential(_block(inputs, outputs, stride), _block(outputs, outputs))


def _index(value: str | int, names: Sequence[str], what: str) -> int:
    if isinstance(value, int):
        if not 0 <= value < len(names):
            raise ValueError(f"{what} index {value} out of range for {tuple(names)}")
        return value
    try:
        return list(names).index(value.lower())
    except ValueError:
        raise ValueError(f"unknown {what} {value!r}; expected one of {tuple(names)}") from None


@register_model
class Segmenter2D(PretrainedModel):
    """HF-GAN's 2D tumour segmenter: slices of ``sequences`` plus view and tumour-type codes.

    ``forward(images, view, tumour_type)`` takes ``images`` ``(batch, len(sequences), H, W)``
    (H and W multiples of 8) and per-sample view / tumour-type indices (``LongTensor`` of shape
    ``(batch,)``; :meth:`codes` turns names into them) and returns logits
    ``(batch, len(CLASSES), H, W)``.
    """

    model_type = "segmenter2d"

    def __init__(
        self,
        *,
        features: Sequence[int] = (32, 64, 128, 256),
        sequences: Sequence[str] = SEQUENCES,
        views: Sequence[str] = VIEWS,
        tumour_types: Sequence[str] = TUMOUR_TYPES,
        classes: Sequence[str] = CLASSES,
        spacing: Sequence[float] | None = None,
        orientation: Sequence[str] | None = None,
        normalisation: str | None = None,
        crop: str | None = None,
    ) -> None:
        super().__init__()
        if len(features) < 2:
            raise ValueError("the segmenter needs at least two stages")
        self.sequences = tuple(canonical_sequence(name) for name in sequences)
        self.views = tuple(views)
        self.tumour_types = tuple(tumour_types)
        self.classes = tuple(classes)
        self.config = {
            "features": [int(f) for f in features],
            "sequences": list(self.sequences),
            "views": list(self.views),
            "tumour_types": list(self.tumour_types),
            "classes": list(self.classes),
            "normalisation": recorded_choice("normalisation", normalisation, NORMALISATION),
            "crop": recorded_choice("crop/pad policy", crop, CROP),
        }
        #: The voxel size and axis codes it was trained at: inference brings other grids to
        #: them. Absent from folders written before the grid was recorded.
        self.spacing = model_spacing(spacing)
        self.orientation = model_orientation(orientation)
        if self.spacing is not None:
            self.config["spacing"] = list(self.spacing)
        if self.orientation is not None:
            self.config["orientation"] = list(self.orientation)
        inputs = len(self.sequences) + len(self.views) + len(self.tumour_types)
        widths = [int(f) for f in features]
        self.encoder = nn.ModuleList(
            _stage(previous, width, 1 if level == 0 else 2)
            for level, (previous, width) in enumerate(
                zip([inputs, *widths[:-1]], widths, strict=True)
            )
        )
        self.reduce = nn.ModuleList(
            nn.Conv2d(deep, shallow, 1)
            for deep, shallow in zip(widths[:0:-1], widths[-2::-1], strict=True)
        )
        self.decoder = nn.ModuleList(_stage(2 * shallow, shallow, 1) for shallow in widths[-2::-1])
        self.head = nn.Conv2d(widths[0], len(self.classes), 1)

    @property
    def label_convention(self) -> str:
        """The label convention of the maps :meth:`segment` returns (BraTS 2023)."""
        return LABEL_CONVENTION

    def segment(
        self,
        case: Case,
        *,
        completion: Mapping[str, NDArray[Any]] | None = None,
        settings: InferenceSettings | None = None,
    ) -> Volume:
        """The label map of ``case`` from every slice of every view (the tumour type from its
        identifier; :func:`mri_seg.segmenter2d.segment_case` takes another)."""
        return segment_case(self, case, settings, completion=completion)

    @property
    def divisor(self) -> int:
        """Every slice side must be a multiple of this."""
        return int(2 ** (len(self.encoder) - 1))

    def codes(
        self, views: Sequence[str | int], tumour_types: Sequence[str | int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Index tensors for :meth:`forward` from names (``"axial"``, ``"met"``) or indices."""
        if len(views) != len(tumour_types):
            raise ValueError(f"{len(views)} views but {len(tumour_types)} tumour types")
        view_index = [_index(v, self.views, "view") for v in views]
        type_index = [_index(t, self.tumour_types, "tumour type") for t in tumour_types]
        return torch.tensor(view_index), torch.tensor(type_index)

    def forward(
        self, images: torch.Tensor, view: torch.Tensor, tumour_type: torch.Tensor
    ) -> torch.Tensor:
        """Logits over :data:`CLASSES` for a batch of slices."""
        batch, channels, height, width = images.shape
        if channels != len(self.sequences):
            raise ValueError(f"expected {len(self.sequences)} input channels, got {channels}")
        if height % self.divisor or width % self.divisor:
            raise ValueError(
                f"slice sides must be multiples of {self.divisor}, got {height}x{width}"
            )
        planes = [
            nn.functional.one_hot(view.to(images.device).long(), len(self.views)),
            nn.functional.one_hot(tumour_type.to(images.device).long(), len(self.tumour_types)),
        ]
        code = torch.cat(planes, dim=1).to(images.dtype)[:, :, None, None]
        x = torch.cat([images, code.expand(batch, -1, height, width)], dim=1)
        skips = []
        for stage in self.encoder:
            x = stage(x)
            skips.append(x)
        for reduce, stage, skip in zip(self.reduce, self.decoder, skips[-2::-1], strict=True):
            x = reduce(nn.functional.interpolate(x, scale_factor=2.0, mode="nearest"))
            x = stage(torch.cat([x, skip], dim=1))
        logits: torch.Tensor = self.head(x)
        return logits
