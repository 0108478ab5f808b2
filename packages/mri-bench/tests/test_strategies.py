"""Completion strategies fill the missing sequences of a case from the available ones."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mri_bench.generators import GENERATORS, Completer, GeneratorKind, GeneratorStrategy
from mri_bench.reference import estimate_reference
from mri_bench.strategies import CopyMatched, CopyMostCorrelated, MeanFill, ZeroFill
from mri_io.case import Case
from mri_io.nifti import new_volume

Array = np.ndarray[Any, np.dtype[np.float64]]

CaseFactory = Callable[[np.random.Generator], dict[str, Array]]


def as_case(images: dict[str, Array], keep: list[str]) -> Case:
    volumes = {key: new_volume(images[key].astype(np.float32), np.eye(4)) for key in keep}
    missing = tuple(key for key in images if key not in keep)
    return Case("case-1", volumes, None, missing)


def test_copy_most_correlated_returns_the_signed_best_source(make_case: CaseFactory) -> None:
    rng = np.random.default_rng(0)
    reference = estimate_reference([make_case(rng) for _ in range(2)])
    images = make_case(rng)
    completed = CopyMostCorrelated(reference).complete(
        as_case(images, ["t1n", "t2w", "t2f"]), ["t1c"]
    )
    assert list(completed) == ["t1c"]
    np.testing.assert_array_equal(completed["t1c"], images["t1n"].astype(np.float32))


def test_copy_matched_inverts_anticorrelated_source_and_matches_histogram(
    make_case: CaseFactory,
) -> None:
    rng = np.random.default_rng(1)
    reference = estimate_reference([make_case(rng) for _ in range(3)])
    images = make_case(rng)
    completed = CopyMatched(reference).complete(as_case(images, ["t1n", "t2f"]), ["t2w", "t1c"])
    brain = images["t1n"] > 0
    # Inverted t1n: strongly positively correlated with the real t2w.
    assert np.corrcoef(completed["t2w"][brain], images["t2w"][brain])[0, 1] > 0.95
    assert np.corrcoef(completed["t1c"][brain], images["t1c"][brain])[0, 1] > 0.95
    # Its brain histogram follows the target's learnt quantiles.
    quantiles = np.quantile(completed["t2w"][brain], reference.levels)
    np.testing.assert_allclose(quantiles, reference.quantiles["t2w"], atol=0.03)
    assert np.all(completed["t2w"][~brain] == 0)


def test_zero_and_mean_fill(make_case: CaseFactory) -> None:
    images = make_case(np.random.default_rng(2))
    case = as_case(images, ["t1n"])
    zero = ZeroFill().complete(case, ["t2f", "t2w"])
    assert set(zero) == {"t2f", "t2w"}
    assert not zero["t2f"].any()
    mean = MeanFill().complete(case, ["t2f"])["t2f"]
    brain = images["t1n"] > 0
    assert np.all(mean[brain] == 1.0)
    assert np.all(mean[~brain] == 0.0)


def test_a_case_with_nothing_available_is_refused() -> None:
    empty = Case("case-9", {}, None, ("t1n", "t1c", "t2w", "t2f"))
    with pytest.raises(ValueError, match="case case-9 has no available sequence"):
        ZeroFill().complete(empty, ["t1n"])


def test_generator_strategy_loads_once_and_records_the_checkpoint_hash(
    tmp_path: Path, make_case: CaseFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    loads: list[Path] = []

    def loader(checkpoint: Path, device: str, options: Mapping[str, Any]) -> Completer:
        loads.append(checkpoint)
        return lambda case, missing, centre, /: {"t2f": 2.0 * case.images["t1n"].data}

    monkeypatch.setitem(GENERATORS, "fake", GeneratorKind(loader))
    strategy = GeneratorStrategy("gen", "fake", tmp_path)
    images = make_case(np.random.default_rng(3))
    case = as_case(images, ["t1n"])
    for _ in range(2):
        completed = strategy.complete(case, ["t2f"])
    np.testing.assert_allclose(completed["t2f"], 2.0 * images["t1n"], rtol=1e-6)
    assert loads == [tmp_path]
    with pytest.raises(ValueError, match="did not synthesise \\['t2w'\\]"):
        strategy.complete(case, ["t2w"])
    first = strategy.provenance()["checkpoint_sha256"]
    (tmp_path / "model.safetensors").write_bytes(b"other weights")
    assert strategy.provenance()["checkpoint_sha256"] != first


def test_unknown_generator_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown generator 'ummgat2'; known: hfgan, ummgat"):
        GeneratorStrategy("g", "ummgat2", tmp_path)
    with pytest.raises(ValueError, match=r"no option \['centre'\]; it accepts: target_centre"):
        GeneratorStrategy("g", "ummgat", tmp_path, options={"centre": "a"})
    with pytest.raises(ValueError, match=r"hfgan generator takes no option \['seed'\]; .*none"):
        GeneratorStrategy("g", "hfgan", tmp_path, options={"seed": 1})


def test_missing_extras_name_the_install_command(
    tmp_path: Path, make_case: CaseFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mri_bench.segmenter import FixedSegmenter

    for module in ("mri_gen", "mri_gen.hfgan", "mri_seg"):  # the packages are not installed
        monkeypatch.setitem(sys.modules, module, None)
    case = as_case(make_case(np.random.default_rng(4)), ["t1n"])
    with pytest.raises(ImportError, match=r'pip install "mri-bench\[gen\]"'):
        GeneratorStrategy("g", "hfgan", tmp_path).complete(case, ["t2f"])
    with pytest.raises(ImportError, match=r'pip install "mri-bench\[seg\]"'):
        FixedSegmenter(tmp_path).segment(case, {})
