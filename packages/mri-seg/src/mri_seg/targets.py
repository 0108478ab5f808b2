"""What a segmentation network predicts, and how its outputs become a label map.

Two encodings of the same labels (SPEC §4 mri-seg):

* ``"regions"``: one sigmoid channel per nested region (BraTS WT ⊃ TC ⊃ ET). Every channel is
  an independent binary problem, so its loss must be binary per channel: a softmax
  cross-entropy across the three channels would make WT and ET compete for a voxel that
  belongs to both.
* ``"labels"``: one softmax channel per label plus background; each voxel gets one class.

Decoding regions follows the BraTS convention (nnU-Net's ``regions_class_order``): regions are
painted from the largest to the smallest, each with the label it holds that no smaller region
holds (WT -> 2 edema, TC -> 1 necrosis, ET -> 3 enhancing). That works for any convention whose
regions form a chain of nested sets differing by one label, which :class:`TargetSpec` checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import torch

from mri_io.labels import LabelConvention, get_label_convention, upgrade_saved_keys

OutputKind = Literal["regions", "labels"]
OUTPUT_KINDS: tuple[OutputKind, ...] = ("regions", "labels")

#: BraTS regions, largest first.
BRATS_REGIONS = ("WT", "TC", "ET")


@dataclass(frozen=True)
class TargetSpec:
    """A model's output encoding: kind, label convention and (for ``regions``) which regions."""

    kind: OutputKind = "regions"
    label_convention: str = "brats2023"
    regions: tuple[str, ...] = BRATS_REGIONS

    def __post_init__(self) -> None:
        if self.kind not in OUTPUT_KINDS:
            raise ValueError(f"output kind must be one of {OUTPUT_KINDS}, got {self.kind!r}")
        if self.kind == "regions":
            self.region_labels()  # validates the chain

    @property
    def convention(self) -> LabelConvention:
        """The label convention the model's labels follow."""
        return get_label_convention(self.label_convention)

    @property
    def labels(self) -> tuple[int, ...]:
        """Foreground label values in channel order (``labels`` kind: channel i + 1)."""
        return tuple(sorted(self.convention.labels))

    @property
    def channels(self) -> int:
        """Number of output channels of the network."""
        return len(self.regions) if self.kind == "regions" else len(self.labels) + 1

    def region_labels(self) -> tuple[int, ...]:
        """For each region (largest first), the one label it adds to the next smaller region."""
        convention = self.convention
        sets = []
        for region in self.regions:
            if region not in convention.regions:
                raise ValueError(
                    f"label convention {convention.name!r} has no region {region!r}; "
                    f"regions: {', '.join(convention.regions)}"
                )
            sets.append(convention.regions[region])
        own = []
        for larger, smaller in zip(sets, [*sets[1:], frozenset()], strict=True):
            extra = larger - smaller
            if not smaller < larger or len(extra) != 1:
                raise ValueError(
                    f"regions {self.regions} of convention {convention.name!r} are not nested sets "
                    "that each add one label, so sigmoid outputs cannot be decoded to labels"
                )
            own.append(next(iter(extra)))
        return tuple(own)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready fields (stored in a model's ``config.json``)."""
        return {
            "kind": self.kind,
            "label_convention": self.label_convention,
            "regions": list(self.regions),
        }

    @classmethod
    def from_json(cls, fields: dict[str, Any]) -> TargetSpec:
        """The spec :meth:`to_json` wrote (or an earlier version, see ``upgrade_saved_keys``)."""
        fields = upgrade_saved_keys(fields)
        return cls(str(fields["kind"]), str(fields["label_convention"]), tuple(fields["regions"]))  # type: ignore[arg-type]

    def encode(self, seg: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        """Training target for a label map (spatial shape ``S``).

        ``regions``: float32 ``(len(regions), *S)`` binary masks. ``labels``: float32
        ``(1, *S)`` class indices (0 background, i + 1 for the i-th label).
        """
        if self.kind == "regions":
            convention = self.convention
            masks = [np.isin(seg, sorted(convention.regions[r])) for r in self.regions]
            return np.stack(masks).astype(np.float32)
        lookup = np.zeros(max(self.convention.allowed) + 1, dtype=np.float32)
        for index, label in enumerate(self.labels, start=1):
            lookup[label] = index
        return lookup[seg.astype(np.intp)][None]

    def decode(self, output: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
        """Label map (uint8, spatial shape) from one case's probabilities ``(channels, *S)``."""
        if output.shape[0] != self.channels:
            raise ValueError(f"expected {self.channels} output channels, got {output.shape[0]}")
        if self.kind == "labels":
            lookup = torch.tensor((0, *self.labels), dtype=torch.uint8, device=output.device)
            return lookup[output.argmax(dim=0)]
        labels = torch.zeros(output.shape[1:], dtype=torch.uint8, device=output.device)
        for channel, label in enumerate(self.region_labels()):
            labels[output[channel] > threshold] = label
        return labels

    def activation(self, logits: torch.Tensor) -> torch.Tensor:
        """Probabilities from logits: sigmoid per region or softmax over labels (channel dim 1)."""
        return torch.sigmoid(logits) if self.kind == "regions" else torch.softmax(logits, dim=1)
