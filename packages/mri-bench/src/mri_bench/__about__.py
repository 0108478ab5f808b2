"""Version of mri-bench; every package of mri-suite shares one version."""

__version__ = "0.1.0"
