"""mri-gen: Synthesise missing MRI sequences with HF-GAN and UMMGAT."""

from mri_gen.__about__ import __version__
from mri_gen.completion import Generator, complete_case, complete_cohort
from mri_gen.hfgan.config import PRESETS, DiscriminatorConfig, GeneratorConfig, HFGANConfig
from mri_gen.hfgan.discriminator import HFGANDiscriminator
from mri_gen.hfgan.generator import HFGANGenerator
from mri_gen.hfgan.inference import Synthesiser
from mri_gen.hfgan.losses import LossWeights
from mri_gen.hfgan.training import HFGANTrainer, TrainConfig
from mri_gen.loader import load_generator
from mri_gen.ummgat.inference import Translator

__all__ = [
    "PRESETS",
    "DiscriminatorConfig",
    "Generator",
    "GeneratorConfig",
    "HFGANConfig",
    "HFGANDiscriminator",
    "HFGANGenerator",
    "HFGANTrainer",
    "LossWeights",
    "Synthesiser",
    "TrainConfig",
    "Translator",
    "__version__",
    "complete_case",
    "complete_cohort",
    "load_generator",
]
