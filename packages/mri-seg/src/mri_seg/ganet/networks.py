"""GANet-Seg's three networks: the inpainting generator, the PatchGAN and the segmenter.

All three are 2D and read the four sequences as channels. The generator and the segmenter are
MONAI ``BasicUNet``s (two conv + instance norm + ReLU blocks per level, max-pooling down,
transposed convolutions up, as the paper's U-Net); the generator takes the occluded image plus
the hole mask and ends in tanh, the discriminator is pix2pix's PatchGAN (4x4 convolutions,
strides 2, 2, 2, 1, 1; one logit per overlapping patch). Generator and discriminator start from
Xavier-initialised weights, as the paper says. The pre-trained pair is saved as one model folder
of kind ``ganet-gan`` (:func:`load_gan`); the segmenter as a :class:`GANetSeg`, which
:func:`mri_seg.load_segmenter` reads and which labels whole cases slice by slice.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import torch
from monai.networks.nets.basic_unet import BasicUNet
from numpy.typing import NDArray
from torch import nn

from mri_io.case import Case
from mri_io.model_folder import load_weights, read_model_folder, write_model_folder
from mri_io.nifti import Volume
from mri_io.sequences import SEQUENCES, canonical_sequence
from mri_io.spacing import model_orientation, model_spacing, recorded_choice
from mri_io.training import resolve_device
from mri_seg.__about__ import __version__
from mri_seg.contract import InferenceSettings
from mri_seg.errors import ModelFileError
from mri_seg.ganet.config import CLASS_MODES, GANET_PRESETS
from mri_seg.ganet.inference import CROP, LABEL_CONVENTION, segment_case
from mri_seg.inputs import NORMALISATION
from mri_seg.loader import PACKAGE, PretrainedModel, register_model

#: The model-folder kind of a pre-trained inpainting GAN (generator + discriminator).
GAN_KIND = "ganet-gan"
#: Output classes per mode; the whole-tumour mask is always 1 - P(background).
CLASSES: dict[str, tuple[str, ...]] = {
    "whole": ("background", "tumour"),
    "subregions": ("background", "NETC", "SNFH", "ET"),
}


def _unet(inputs: int, outputs: int, features: Sequence[int]) -> BasicUNet:
    return BasicUNet(
        spatial_dims=2,
        in_channels=inputs,
        out_channels=outputs,
        features=tuple(int(f) for f in features),
        act="relu",
        norm=("instance", {"affine": True}),
    )


def _xavier(module: nn.Module) -> None:
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.xavier_normal_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def _sequences(names: Sequence[str]) -> tuple[str, ...]:
    keys = tuple(canonical_sequence(name) for name in names)
    if not keys or len(set(keys)) != len(keys):
        raise ValueError(f"sequences must be distinct and non-empty, got {tuple(names)}")
    return keys


class InpaintingGenerator(nn.Module):
    """U-Net that fills a hole: ``forward(image, hole)`` returns the image with the hole
    (``hole`` 1) replaced by the generator's tanh output and the rest kept as it was.

    The hole is zeroed in the input, so nothing of what it hides reaches the network; ``hole``
    may be soft (the segmenter's probabilities), and the output is differentiable in it.
    """

    def __init__(self, channels: int, features: Sequence[int]) -> None:
        super().__init__()
        self.net = _unet(channels + 1, channels, features)
        self.apply(_xavier)

    def forward(self, image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """The filled image ``(batch, C, H, W)`` for ``hole`` ``(batch, 1, H, W)`` in [0, 1]."""
        kept = image * (1 - hole)
        filled = torch.tanh(self.net(torch.cat([kept, hole], dim=1)))
        out: torch.Tensor = kept + filled * hole
        return out


class PatchDiscriminator(nn.Module):
    """pix2pix's PatchGAN: one logit per ~70x70 patch (sigmoid: probability it is real)."""

    def __init__(self, channels: int, width: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        widths = [width, 2 * width, 4 * width, 8 * width]
        for level, (inputs, outputs) in enumerate(itertools.pairwise(widths)):
            stride = 2 if level < 2 else 1
            layers += [
                nn.Conv2d(inputs, outputs, 4, stride, 1, bias=False),
                nn.InstanceNorm2d(outputs, affine=True),
                nn.LeakyReLU(0.2),
            ]
        layers.append(nn.Conv2d(widths[-1], 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)
        self.apply(_xavier)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Patch logits ``(batch, 1, h, w)``."""
        out: torch.Tensor = self.net(image)
        return out


class InpaintingGAN(nn.Module):
    """The pre-trained pair of stage 1, saved and loaded as one model folder."""

    def __init__(self, *, preset: str = "tiny", sequences: Sequence[str] = SEQUENCES) -> None:
        super().__init__()
        if preset not in GANET_PRESETS:
            raise ValueError(f"unknown preset {preset!r}; expected one of {tuple(GANET_PRESETS)}")
        self.sequences = _sequences(sequences)
        self.config: dict[str, Any] = {"preset": preset, "sequences": list(self.sequences)}
        sizes = GANET_PRESETS[preset]
        self.generator = InpaintingGenerator(len(self.sequences), sizes.generator)
        self.discriminator = PatchDiscriminator(len(self.sequences), sizes.discriminator)

    def save_pretrained(self, folder: str | PathLike[str]) -> Path:
        """Write ``config.json`` + ``model.safetensors`` (kind ``ganet-gan``) atomically."""
        return write_model_folder(
            folder,
            self.state_dict(),
            kind=GAN_KIND,
            package=PACKAGE,
            version=__version__,
            config=self.config,
        )


def load_gan(folder: str | PathLike[str], *, device: str | torch.device = "cpu") -> InpaintingGAN:
    """The pre-trained GAN in ``folder`` (a model folder, or a pre-training run folder's last
    model), in eval mode; :class:`ModelFileError` for anything else."""
    saved = read_model_folder(folder, error=ModelFileError)
    if saved.package != PACKAGE or saved.kind != GAN_KIND:
        raise ModelFileError(
            saved.path / "config.json",
            f"holds a {saved.package} {saved.kind!r} model, not a GANet-Seg GAN",
        )
    try:
        gan = InpaintingGAN(**saved.config)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(saved.path / "config.json", f"invalid GAN settings: {exc}") from None
    load_weights(gan, saved, error=ModelFileError)
    return gan.to(resolve_device(device)).eval()


@register_model
class GANetSeg(PretrainedModel):
    """GANet-Seg's segmentation U-Net over slices of ``sequences``.

    ``forward(images)`` maps ``(batch, len(sequences), H, W)`` (sides multiples of
    :data:`DIVISOR`) to logits over :attr:`classes`; ``enhance`` says whether its inputs pass
    the paper's enhancement (:func:`mri_seg.ganet.data.enhance`) first, which
    :meth:`segment` repeats.
    """

    model_type = "ganet-seg"

    def __init__(
        self,
        *,
        preset: str = "tiny",
        classes: str = "whole",
        enhance: bool = False,
        sequences: Sequence[str] = SEQUENCES,
        spacing: Sequence[float] | None = None,
        orientation: Sequence[str] | None = None,
        normalisation: str | None = None,
        crop: str | None = None,
    ) -> None:
        super().__init__()
        if preset not in GANET_PRESETS:
            raise ValueError(f"unknown preset {preset!r}; expected one of {tuple(GANET_PRESETS)}")
        if classes not in CLASS_MODES:
            raise ValueError(f"classes must be one of {CLASS_MODES}, got {classes!r}")
        self.sequences = _sequences(sequences)
        self.classes = CLASSES[classes]
        self.enhance = bool(enhance)
        #: The voxel size and axis codes it was trained at: inference brings other grids to them.
        self.spacing = model_spacing(spacing)
        self.orientation = model_orientation(orientation)
        self.config = {
            "preset": preset,
            "classes": classes,
            "enhance": self.enhance,
            "sequences": list(self.sequences),
            "normalisation": recorded_choice("normalisation", normalisation, NORMALISATION),
            "crop": recorded_choice("crop/pad policy", crop, CROP),
        }
        # Absent from folders written before the grid was recorded.
        if self.spacing is not None:
            self.config["spacing"] = list(self.spacing)
        if self.orientation is not None:
            self.config["orientation"] = list(self.orientation)
        self.net = _unet(len(self.sequences), len(self.classes), GANET_PRESETS[preset].segmenter)

    @property
    def label_convention(self) -> str:
        """BraTS 2023 labels (a whole-tumour model writes its tumour as SNFH, label 2)."""
        return LABEL_CONVENTION

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, classes, H, W)``."""
        out: torch.Tensor = self.net(images)
        return out

    def segment(
        self,
        case: Case,
        *,
        completion: Mapping[str, NDArray[Any]] | None = None,
        settings: InferenceSettings | None = None,
    ) -> Volume:
        """The label map of ``case``, its axial slices segmented one by one."""
        return segment_case(self, case, settings, completion=completion)
