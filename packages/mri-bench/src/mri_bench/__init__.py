"""mri-bench: Run the missing-sequence and cross-centre benchmark and report it."""

from mri_bench.__about__ import __version__

__all__ = ["__version__"]
