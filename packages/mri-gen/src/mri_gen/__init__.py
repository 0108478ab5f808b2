"""mri-gen: Synthesise missing MRI sequences with HF-GAN and UMMGAT."""

from mri_gen.__about__ import __version__

__all__ = ["__version__"]
