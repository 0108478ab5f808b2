"""Sizes of the HF-GAN networks, and the named presets.

A config is plain data: it is written to ``config.json`` by ``save_pretrained`` and read back by
``from_pretrained``, so a set of weights always travels with the exact shapes that built them.
The ``paper`` preset reproduces the BraSyn25 thesis generator (about 80.0 M parameters, single-
convolution ResNet blocks as in its released weights) and discriminator (about 4.5 M); ``tiny``
keeps the same architecture at a size that trains on a laptop CPU in minutes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from os import PathLike
from typing import Any, Final

from mri_gen.errors import ConfigError
from mri_io.sequences import SEQUENCES

#: Views a view embedding can encode, in the order of their index (mri-io's voxel-axis order).
VIEW_NAMES: Final = ("sagittal", "coronal", "axial")

#: Value written into the target's input channel: outside the normalised range [-1, 1] and
#: unlike the background -1 of the other missing channels, so that the early-fusion encoder
#: sees at full resolution which of the missing sequences is wanted.
TARGET_FILL: Final = -3.0


@dataclass(frozen=True)
class GeneratorConfig:
    """Shape of the generator.

    ``channel_mults`` scale ``base_channels`` at each resolution; the image is halved between
    consecutive levels, so ``image_size`` must be divisible by ``2 ** (len(channel_mults) - 1)``
    and the infuser sees ``(image_size / 2 ** (levels - 1)) ** 2`` tokens (225 in the paper).
    ``res_convs`` is the number of GroupNorm-SiLU-conv units per ResNet block (1 in the paper).

    ``target_fill`` is the value of the target's input channel (:data:`TARGET_FILL`). The
    thesis model leaves it at the background value like every other missing channel
    (``None``): trained on every input subset, it then learns which sequence to produce only
    from the target embedding added to the bottleneck tokens, while the skips are target-blind,
    and a small model produces one blend of its inputs for every target. Marking the channel
    gives the encoder the cue that "all other sequences" training gets for free. Configs
    written before the field existed read back as ``None``, so their weights compute what
    they were trained to compute.
    """

    sequences: tuple[str, ...] = SEQUENCES
    image_size: int = 240
    base_channels: int = 64
    channel_mults: tuple[int, ...] = (1, 2, 4, 8, 10)
    res_convs: int = 1
    norm_groups: int = 8
    infuser_layers: int = 4
    infuser_heads: int = 16
    mlp_ratio: int = 4
    view_embedding: bool = False
    target_fill: float | None = TARGET_FILL

    def __post_init__(self) -> None:
        levels = len(self.channel_mults)
        if levels < 2:
            raise ConfigError(None, "a generator needs at least two resolution levels")
        if self.image_size % 2 ** (levels - 1):
            raise ConfigError(
                None,
                f"image_size {self.image_size} must be divisible by {2 ** (levels - 1)} "
                f"({levels - 1} halvings); pad slices to a multiple of it",
            )
        if len(set(self.sequences)) != len(self.sequences) or len(self.sequences) < 2:
            raise ConfigError(None, f"need at least two distinct sequences, got {self.sequences}")
        for channels in self.channels:
            if channels % self.norm_groups:
                raise ConfigError(
                    None, f"{channels} channels cannot form {self.norm_groups} norm groups"
                )
        if self.width % self.infuser_heads:
            raise ConfigError(
                None, f"infuser width {self.width} is not divisible by {self.infuser_heads} heads"
            )
        if self.res_convs not in (1, 2):
            raise ConfigError(None, f"res_convs must be 1 or 2, got {self.res_convs}")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_json` reads it back."""
        return asdict(self)

    @classmethod
    def from_json(
        cls, fields: dict[str, Any], source: str | PathLike[str] | None = None
    ) -> GeneratorConfig:
        """Read :meth:`to_json` output; bad fields raise :class:`ConfigError` naming ``source``."""
        try:
            values = dict(fields)
            values["sequences"] = tuple(values["sequences"])
            values["channel_mults"] = tuple(values["channel_mults"])
            values.setdefault("target_fill", None)
            return cls(**values)
        except (KeyError, TypeError) as exc:
            raise ConfigError(source, f"invalid generator configuration ({exc})") from None

    @property
    def channels(self) -> tuple[int, ...]:
        """Feature channels at each resolution level, finest first."""
        return tuple(self.base_channels * mult for mult in self.channel_mults)

    @property
    def width(self) -> int:
        """Channels of the bottleneck, which is also the token width of the infuser."""
        return self.channels[-1]

    @property
    def bottleneck_size(self) -> int:
        """Side of the bottleneck feature map."""
        return int(self.image_size // 2 ** (len(self.channel_mults) - 1))


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Shape of the PatchGAN discriminator and its auxiliary sequence classifier."""

    image_size: int = 240
    base_channels: int = 64
    layers: int = 3
    classes: int = len(SEQUENCES)
    norm_groups: int = 8

    def __post_init__(self) -> None:
        if self.feature_size < 1:
            raise ConfigError(
                None, f"image_size {self.image_size} is too small for {self.layers} layers"
            )

    @property
    def feature_size(self) -> int:
        """Side of the last feature map: halved ``layers`` times, then one 4x4 stride-1 conv."""
        size = self.image_size
        for _ in range(self.layers):
            size //= 2
        return int(size - 1)


@dataclass(frozen=True)
class HFGANConfig:
    """Both networks of one HF-GAN model."""

    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)

    def with_image_size(self, size: int) -> HFGANConfig:
        """The same networks for slices of ``size`` x ``size`` pixels."""
        return HFGANConfig(
            replace(self.generator, image_size=size),
            replace(self.discriminator, image_size=size),
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_json` reads it back."""
        return asdict(self)

    @classmethod
    def from_json(cls, fields: dict[str, Any]) -> HFGANConfig:
        """Read :meth:`to_json` output; unknown or missing fields raise :class:`ConfigError`."""
        try:
            generator = GeneratorConfig.from_json(fields["generator"])
            return cls(generator, DiscriminatorConfig(**fields["discriminator"]))
        except (KeyError, TypeError) as exc:
            raise ConfigError(None, f"invalid HF-GAN configuration ({exc})") from None


#: Named configurations: the thesis model, and a small one for CPUs and tests.
PRESETS: Final[dict[str, HFGANConfig]] = {
    "paper": HFGANConfig(),
    "tiny": HFGANConfig(
        GeneratorConfig(
            image_size=128,
            base_channels=16,
            channel_mults=(1, 2, 4, 4),
            infuser_layers=2,
            infuser_heads=4,
        ),
        DiscriminatorConfig(image_size=128, base_channels=16),
    ),
}


def preset(name: str) -> HFGANConfig:
    """The preset called ``name``; an unknown name raises :class:`ConfigError` listing them."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(
            None, f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}"
        ) from None
