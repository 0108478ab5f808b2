"""mri-bench: Run the missing-sequence and cross-centre benchmark and report it.

A config (:func:`load_config`) names cases, scenarios (:class:`Scenario`, with an optional
cross-centre :class:`Shift`), completion strategies and a fixed segmenter;
:func:`run_benchmark` writes the resumable SQLite results table and :func:`write_report` the
report. Generators and the segmenter load mri-gen / mri-seg lazily (extras ``gen``, ``seg``).
"""

from mri_bench.__about__ import __version__
from mri_bench.config import BenchConfig, load_config
from mri_bench.errors import (
    ConfigError,
    GeneratorError,
    MriBenchError,
    ScenarioError,
    StoreError,
)
from mri_bench.generators import GENERATORS, GeneratorStrategy, UMMGATOptions
from mri_bench.pipeline import run_benchmark
from mri_bench.reference import SequenceReference, estimate_reference
from mri_bench.report import write_report
from mri_bench.scenarios import Scenario, builtin_scenarios, subset_scenarios
from mri_bench.segmenter import FixedSegmenter
from mri_bench.shifts import Shift
from mri_bench.statistics import (
    cohens_d_paired,
    dunn_bonferroni,
    friedman,
    summarise,
    wilcoxon_paired,
)
from mri_bench.store import ResultStore, Row, read_rows
from mri_bench.strategies import (
    CompletionStrategy,
    CopyMatched,
    CopyMostCorrelated,
    MeanFill,
    ZeroFill,
)

__all__ = [
    "GENERATORS",
    "BenchConfig",
    "CompletionStrategy",
    "ConfigError",
    "CopyMatched",
    "CopyMostCorrelated",
    "FixedSegmenter",
    "GeneratorError",
    "GeneratorStrategy",
    "MeanFill",
    "MriBenchError",
    "ResultStore",
    "Row",
    "Scenario",
    "ScenarioError",
    "SequenceReference",
    "Shift",
    "StoreError",
    "UMMGATOptions",
    "ZeroFill",
    "__version__",
    "builtin_scenarios",
    "cohens_d_paired",
    "dunn_bonferroni",
    "estimate_reference",
    "friedman",
    "load_config",
    "read_rows",
    "run_benchmark",
    "subset_scenarios",
    "summarise",
    "wilcoxon_paired",
    "write_report",
]
