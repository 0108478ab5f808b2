"""Version of mri-gen; every package of mri-suite shares one version."""

__version__ = "0.1.0"
