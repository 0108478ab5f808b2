"""Sizes of the UMMGAT networks, its domains, and the named presets.

A domain is one (centre, sequence) pair, written ``"centre:sequence"``: the paper treats images of
the same sequence from two centres as two domains, which is what makes cross-centre
harmonisation the same operation as sequence translation. With the lesion-aware module (LAM)
every sequence domain gets a lesion twin (domain ``i + N`` of ``N``), so the style encoder and the
discriminator have ``2N`` branches while the mapping network, which only feeds the generator,
keeps ``N`` heads.

A config is plain data written to ``config.json`` beside the weights, so a model always travels
with the exact shapes and domain order that built it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from os import PathLike
from typing import Any, Final, Literal

from mri_gen.errors import ConfigError
from mri_io.sequences import SEQUENCES

Backbone = Literal["swin", "unet"]

#: Separator between centre and sequence in a domain name.
DOMAIN_SEPARATOR: Final = ":"


def domain_name(centre: str, sequence: str) -> str:
    """``"centre:sequence"``, the name of one domain."""
    if not centre or DOMAIN_SEPARATOR in centre:
        raise ConfigError(None, f"a centre name must be non-empty without ':', got {centre!r}")
    if sequence not in SEQUENCES:
        raise ConfigError(None, f"unknown sequence {sequence!r}; choose one of {SEQUENCES}")
    return f"{centre}{DOMAIN_SEPARATOR}{sequence}"


def split_domain(name: str) -> tuple[str, str]:
    """``(centre, sequence)`` of a domain name."""
    centre, separator, sequence = name.rpartition(DOMAIN_SEPARATOR)
    if not separator:
        raise ConfigError(None, f"domain {name!r} is not of the form 'centre:sequence'")
    domain_name(centre, sequence)
    return centre, sequence


@dataclass(frozen=True)
class SwinConfig:
    """Swin-Unet generator backbone (Cao et al.): patch embedding, window attention stages.

    The image is padded to a multiple of ``patch * 2 ** (stages - 1)`` with the background, and
    each block pads its token grid to a multiple of ``window`` with masked keys (as the Swin
    detection backbone does), so 176 (-> 192, token grids 48-24-12-6) and 240 (-> 256, grids
    64-32-16-8) both work with the paper's window of 7. A grid no larger than the window is
    attended as one padded window, unshifted.
    """

    patch: int = 4
    embed: int = 96
    depths: tuple[int, ...] = (2, 2, 2, 2)
    heads: tuple[int, ...] = (3, 6, 12, 24)
    window: int = 7
    mlp_ratio: float = 4.0

    def __post_init__(self) -> None:
        if len(self.depths) != len(self.heads) or len(self.depths) < 2:
            raise ConfigError(None, "swin depths and heads need one entry per stage (>= 2)")
        for stage, heads in enumerate(self.heads):
            if (self.embed * 2**stage) % heads:
                raise ConfigError(None, f"stage {stage} width is not divisible by {heads} heads")

    @property
    def multiple(self) -> int:
        """Image sides are padded to a multiple of this."""
        return int(self.patch * 2 ** (len(self.depths) - 1))


@dataclass(frozen=True)
class UNetConfig:
    """Convolutional U-Net backbone (the swappable alternative the paper's discussion names).

    Instance-normalised residual blocks halve the image ``len(channel_mults) - 1`` times; the
    decoder's residual blocks carry the style through AdaIN, with skips concatenated.
    """

    base_channels: int = 64
    channel_mults: tuple[int, ...] = (1, 2, 4, 8)

    @property
    def multiple(self) -> int:
        return int(2 ** (len(self.channel_mults) - 1))


@dataclass(frozen=True)
class UMMGATConfig:
    """Every network of one UMMGAT model.

    ``domains`` are ``"centre:sequence"`` names in the order of their branch index;
    ``lesion_aware`` adds the lesion twins. ``mapping_*`` size the mapping network (latent 16
    -> shared layers -> one head per domain -> style 64, as StarGAN v2); ``critic_*`` size the
    shared trunk of the style encoder and of the discriminator (residual downsampling blocks
    from ``critic_channels`` doubling up to ``critic_max_channels``).
    """

    domains: tuple[str, ...]
    image_size: int = 176
    lesion_aware: bool = True
    backbone: Backbone = "swin"
    swin: SwinConfig = field(default_factory=SwinConfig)
    unet: UNetConfig = field(default_factory=UNetConfig)
    latent_dim: int = 16
    style_dim: int = 64
    mapping_hidden: int = 512
    mapping_shared_layers: int = 4
    mapping_head_layers: int = 3
    critic_channels: int = 64
    critic_max_channels: int = 512
    critic_blocks: int = 5

    def __post_init__(self) -> None:
        if len(self.domains) < 2 or len(set(self.domains)) != len(self.domains):
            raise ConfigError(None, f"need at least two distinct domains, got {self.domains}")
        for name in self.domains:
            split_domain(name)
        if self.backbone not in ("swin", "unet"):
            raise ConfigError(None, f"backbone must be 'swin' or 'unet', got {self.backbone!r}")
        if self.image_size < 2**self.critic_blocks:
            raise ConfigError(
                None, f"image_size {self.image_size} is too small for {self.critic_blocks} blocks"
            )

    @property
    def num_domains(self) -> int:
        """Sequence domains: heads of the mapping network."""
        return len(self.domains)

    @property
    def num_branches(self) -> int:
        """Heads of the style encoder and of the discriminator: ``2N`` with the LAM, else ``N``."""
        return 2 * self.num_domains if self.lesion_aware else self.num_domains

    def domain_index(self, name: str) -> int:
        """Branch index of a domain; an unknown one raises :class:`ConfigError` listing them."""
        try:
            return self.domains.index(name)
        except ValueError:
            raise ConfigError(
                None, f"the model knows no domain {name!r}; it knows {', '.join(self.domains)}"
            ) from None

    def lesion_branch(self, index: int) -> int:
        """Branch of the lesion twin of sequence domain ``index``."""
        if not self.lesion_aware:
            raise ConfigError(None, "this model has no lesion-aware module")
        return index + self.num_domains

    def with_domains(self, domains: tuple[str, ...]) -> UMMGATConfig:
        return replace(self, domains=tuple(domains))

    def with_image_size(self, size: int) -> UMMGATConfig:
        return replace(self, image_size=size)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_json` reads it back."""
        return asdict(self)

    @classmethod
    def from_json(
        cls, fields: dict[str, Any], source: str | PathLike[str] | None = None
    ) -> UMMGATConfig:
        """Read :meth:`to_json` output; bad fields raise :class:`ConfigError` naming ``source``."""
        try:
            values = dict(fields)
            swin = dict(values["swin"])
            swin["depths"] = tuple(swin["depths"])
            swin["heads"] = tuple(swin["heads"])
            unet = dict(values["unet"])
            unet["channel_mults"] = tuple(unet["channel_mults"])
            values.update(
                domains=tuple(values["domains"]), swin=SwinConfig(**swin), unet=UNetConfig(**unet)
            )
            return cls(**values)
        except (KeyError, TypeError) as exc:
            raise ConfigError(source, f"invalid UMMGAT configuration ({exc})") from None


#: The paper's six-domain GBM setting: BraTS (four sequences) plus a local T1/T2 centre.
PAPER_DOMAINS: Final = (
    *(domain_name("research-3t", name) for name in SEQUENCES),
    domain_name("local-t1-t2", "t1n"),
    domain_name("local-t1-t2", "t2w"),
)

#: Named configurations (domains are replaced by those found in the training data).
PRESETS: Final[dict[str, UMMGATConfig]] = {
    "paper": UMMGATConfig(PAPER_DOMAINS),
    "tiny": UMMGATConfig(
        PAPER_DOMAINS,
        image_size=128,
        backbone="unet",
        swin=SwinConfig(embed=24, depths=(1, 1, 1), heads=(1, 2, 4), window=4),
        unet=UNetConfig(base_channels=16, channel_mults=(1, 2, 4)),
        mapping_hidden=64,
        mapping_shared_layers=2,
        mapping_head_layers=1,
        critic_channels=16,
        critic_max_channels=64,
        critic_blocks=4,
    ),
}


def preset(name: str) -> UMMGATConfig:
    """The preset called ``name``; an unknown name raises :class:`ConfigError` listing them."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(
            None, f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}"
        ) from None
