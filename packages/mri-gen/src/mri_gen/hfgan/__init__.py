"""HF-GAN as improved in the BraSyn 2025 thesis: networks, losses, training and 3D inference.

A documented public subpackage: the names below are the family's contract for other packages
(the benchmark trains and loads HF-GAN through them); its modules are internal.
"""

from mri_gen.hfgan.config import PRESETS, HFGANConfig, preset
from mri_gen.hfgan.generator import HFGANGenerator
from mri_gen.hfgan.inference import Synthesiser
from mri_gen.hfgan.losses import LossWeights
from mri_gen.hfgan.run import RunSpec, train_hfgan
from mri_gen.hfgan.training import HFGANTrainer, TrainConfig

__all__ = [
    "PRESETS",
    "HFGANConfig",
    "HFGANGenerator",
    "HFGANTrainer",
    "LossWeights",
    "RunSpec",
    "Synthesiser",
    "TrainConfig",
    "preset",
    "train_hfgan",
]
