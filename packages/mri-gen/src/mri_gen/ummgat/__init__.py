"""UMMGAT: unpaired multi-centre multi-sequence translation with a lesion-aware module.

A documented public subpackage: the names below are the family's contract for other packages
(the benchmark completes and harmonises cases through them); its modules are internal.
"""

from mri_gen.ummgat.config import PRESETS, UMMGATConfig, domain_name
from mri_gen.ummgat.inference import SOURCE_PREFERENCE, Translator, generate_missing, harmonise_case

__all__ = [
    "PRESETS",
    "SOURCE_PREFERENCE",
    "Translator",
    "UMMGATConfig",
    "domain_name",
    "generate_missing",
    "harmonise_case",
]
