"""Normalisation schemes, their inverses, statistics files and exact streaming statistics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.typing import NDArray

from mri_io.intensity import (
    BRASYN25,
    SCHEMES,
    IntensityStats,
    NormalisationParams,
    Normaliser,
    Scheme,
    StatsAccumulator,
    StatsFileError,
    dataset_stats,
    foreground_percentile,
    load_stats,
    missing_placeholder,
    save_stats,
)


def brain_like(rng: np.random.Generator, shape: tuple[int, ...] = (24, 28, 20)) -> NDArray[Any]:
    """Heavy-tailed positive intensities inside an ellipsoid, zeros outside, a few negatives."""
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij"))
    inside = (grid**2).sum(axis=0) < 0.8
    values = rng.lognormal(mean=6.5, sigma=0.8, size=shape)
    values[rng.random(shape) < 0.01] *= 50.0
    volume = np.where(inside, values, 0.0)
    volume[rng.random(shape) < 0.01] = -rng.random() * 30.0
    return volume


def test_brasyn25_preset_matches_the_thesis_tables_in_sequence_order() -> None:
    expected = {
        "t1c": (8664, 1066.34, 1301.70),
        "t1n": (7315, 781.22, 944.34),
        "t2f": (8842, 510.99, 769.42),
        "t2w": (8233, 673.44, 804.39),
    }
    assert {k: (v.clip, v.mean, v.std) for k, v in BRASYN25.items()} == expected
    # Thesis Table 4.2: the normalised foreground minimum is -mean/std (the smallest positive
    # intensity tends to 0) and the maximum is (clip - mean)/std.
    minima = {"t1c": -0.8192, "t1n": -0.8273, "t2f": -0.6641, "t2w": -0.8372}
    maxima = {"t1c": 5.8367, "t1n": 6.9189, "t2f": 10.8277, "t2w": 9.3979}
    for name, stats in BRASYN25.items():
        assert -stats.mean / stats.std == pytest.approx(minima[name], abs=1e-4)
        assert (stats.clip - stats.mean) / stats.std == pytest.approx(maxima[name], abs=1e-4)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_forward_then_inverse_restores_the_clipped_volume(scheme: Scheme) -> None:
    rng = np.random.default_rng(3)
    volume = brain_like(rng)
    stats = BRASYN25["t2w"] if scheme == "zscore-dataset" else None
    normaliser = Normaliser(scheme, stats)
    result = normaliser.forward(volume)
    assert result.data.dtype == np.float32
    clip = result.params.clip
    expected = np.clip(volume, 0.0, clip)
    restored = Normaliser.inverse(result.data, result.params, result.foreground)
    assert restored.dtype == np.float32
    np.testing.assert_allclose(restored, expected, rtol=2e-6, atol=clip * 2e-6)
    assert np.all(restored[volume <= 0] == 0.0)
    assert np.all(result.data[volume <= 0] == result.params.background)


def test_schemes_map_to_their_documented_ranges() -> None:
    rng = np.random.default_rng(4)
    volume = brain_like(rng)
    brain = volume > 0
    clip = float(np.percentile(volume[brain], 99.5))
    signed = Normaliser("minmax-1-1").forward(volume).data
    assert signed[brain].max() == pytest.approx(1.0)
    assert signed[brain].min() > -1.0
    assert np.all(signed[~brain] == -1.0)
    byte = Normaliser("uint8-0-255").forward(volume).data
    assert byte.max() == pytest.approx(255.0)
    np.testing.assert_allclose(byte[brain], np.minimum(volume[brain], clip) * 255 / clip, 1e-6)
    assert np.all(byte[~brain] == 0.0)


def test_zscore_volume_has_zero_mean_unit_std_on_the_foreground() -> None:
    rng = np.random.default_rng(5)
    volume = brain_like(rng)
    result = Normaliser("zscore-volume").forward(volume)
    brain = result.data[volume > 0].astype(np.float64)
    assert brain.mean() == pytest.approx(0.0, abs=1e-6)
    assert brain.std() == pytest.approx(1.0, rel=1e-6)
    assert result.params.clip == foreground_percentile(volume, 99.5)


def test_zscore_dataset_uses_the_given_statistics_not_the_volume() -> None:
    volume = np.array([[[0.0, 100.0], [9000.0, -5.0]]])
    stats = IntensityStats(clip=8000.0, mean=1000.0, std=500.0)
    result = Normaliser("zscore-dataset", stats).forward(volume)
    expected = np.array([[[-1.0, -1.8], [14.0, -1.0]]], dtype=np.float32)
    np.testing.assert_array_equal(result.data, expected)


def test_empty_or_constant_volumes_do_not_divide_by_zero() -> None:
    empty = np.zeros((4, 5, 6))
    schemes: tuple[Scheme, ...] = ("zscore-volume", "minmax-1-1", "uint8-0-255")
    for scheme in schemes:
        result = Normaliser(scheme).forward(empty)
        assert np.all(result.data == result.params.background)
    constant = np.where(np.arange(120).reshape(4, 5, 6) % 2, 7.0, 0.0)
    result = Normaliser("zscore-volume").forward(constant)
    assert np.all(result.data[constant > 0] == 0.0)
    np.testing.assert_array_equal(
        Normaliser.inverse(result.data, result.params, result.foreground), constant
    )


def test_normaliser_refuses_inconsistent_configuration() -> None:
    with pytest.raises(ValueError, match="needs dataset statistics"):
        Normaliser("zscore-dataset")
    with pytest.raises(ValueError, match="takes no dataset statistics"):
        Normaliser("zscore-volume", BRASYN25["t1c"])
    with pytest.raises(ValueError, match="unknown scheme"):
        Normaliser("zscore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        Normaliser("zscore-volume").forward(np.array([1.0, np.nan]))


def test_missing_placeholder_is_background() -> None:
    placeholder = missing_placeholder((3, 4, 5))
    assert placeholder.dtype == np.float32
    assert np.all(placeholder == -1.0)


finite = st.floats(-1e4, 1e6, allow_nan=False, width=64)


@settings(max_examples=60, deadline=None)
@given(
    volume=arrays(np.float64, st.tuples(*[st.integers(1, 7)] * 3), elements=finite),
    scheme=st.sampled_from(SCHEMES),
)
def test_property_inverse_is_exact_to_float32_rounding(
    volume: NDArray[np.float64], scheme: Scheme
) -> None:
    stats = IntensityStats(clip=5e5, mean=1234.5, std=987.6) if scheme == "zscore-dataset" else None
    result = Normaliser(scheme, stats).forward(volume)
    params = NormalisationParams.from_json(json.loads(json.dumps(result.params.to_json())))
    assert params == result.params
    restored = Normaliser.inverse(result.data, params, result.foreground)
    expected = np.clip(volume, 0.0, params.clip)
    # float32 keeps 24 bits: the error is relative to the largest magnitude the map touches,
    # and a float32 result cannot hold a positive value below its smallest subnormal.
    float32 = np.finfo(np.float32)
    tolerance = 4 * float(float32.eps) * (abs(params.offset) + params.clip + params.scale)
    tolerance += float(float32.smallest_subnormal)
    np.testing.assert_allclose(restored, expected, rtol=0, atol=tolerance)
    assert np.all(restored[volume <= 0] == 0.0)


def test_stats_json_round_trip_is_exact(tmp_path: Path) -> None:
    stats = {
        "t1n": IntensityStats(clip=7315.123456789, mean=781.2234567, std=944.3412, count=12),
        **{k: v for k, v in BRASYN25.items() if k != "t1n"},
    }
    path = save_stats(stats, tmp_path / "stats.json")
    assert load_stats(path) == stats
    assert [p.name for p in tmp_path.iterdir()] == ["stats.json"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "cannot read statistics JSON"),
        ('{"format": 99, "sequences": {}}', "not an mri-io statistics file"),
        ('{"format": 1, "sequences": {}}', "no per-sequence statistics"),
        ('{"format": 1, "sequences": {"t1n": {"clip": 1}}}', "invalid statistics"),
        ('{"format": 1, "sequences": {"t1n": {"clip": 1, "mean": 0, "std": -2}}}', "range"),
    ],
)
def test_bad_stats_files_name_the_file_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "stats.json"
    path.write_text(text)
    with pytest.raises(StatsFileError, match=problem) as info:
        load_stats(path)
    assert info.value.path == str(path)
    with pytest.raises(StatsFileError, match="does not exist"):
        load_stats(tmp_path / "absent.json")


def reference_stats(volumes: list[NDArray[Any]], percentile: float) -> tuple[float, float, float]:
    """numpy on the concatenated foreground: the answer the streaming version must give."""
    everything = np.concatenate([v.ravel() for v in volumes])
    foreground = everything[everything > 0]
    clip = float(np.percentile(foreground, percentile))
    clipped = np.minimum(foreground, clip)
    return clip, float(clipped.mean()), float(clipped.std())


def stream(volumes: list[NDArray[Any]], percentile: float) -> IntensityStats:
    accumulator = StatsAccumulator(percentile)
    for volume in volumes:
        accumulator.add_first_pass(volume)
    for volume in reversed(volumes):
        accumulator.add_second_pass(volume)
    return accumulator.result()


@pytest.mark.parametrize("percentile", [99.5, 50.0, 0.0, 100.0, 95.0])
def test_streaming_stats_equal_numpy_on_the_concatenation(percentile: float) -> None:
    rng = np.random.default_rng(11)
    volumes = [brain_like(rng, (20 + i, 18, 16)) for i in range(4)]
    volumes.append(np.round(brain_like(rng)))  # integer-valued, with many ties
    clip, mean, std = reference_stats(volumes, percentile)
    stats = stream(volumes, percentile)
    assert stats.clip == clip  # bit for bit
    assert stats.mean == pytest.approx(mean, rel=1e-12)
    assert stats.std == pytest.approx(std, rel=1e-12)
    assert stats.count == sum(int((v > 0).sum()) for v in volumes)


@settings(max_examples=80, deadline=None)
@given(
    volumes=st.lists(
        arrays(np.float64, st.integers(0, 40), elements=st.floats(-10, 1e5, width=32)),
        min_size=1,
        max_size=5,
    ).filter(lambda vs: any((v > 0).any() for v in vs)),
    percentile=st.floats(0, 100),
)
def test_property_streaming_stats_equal_numpy(
    volumes: list[NDArray[np.float64]], percentile: float
) -> None:
    clip, mean, std = reference_stats(volumes, percentile)
    stats = stream(volumes, percentile)
    assert stats.clip == clip
    assert stats.mean == pytest.approx(mean, rel=1e-12, abs=1e-9)
    assert stats.std == pytest.approx(std, rel=1e-9, abs=1e-6)


def test_dataset_stats_handles_missing_sequences() -> None:
    rng = np.random.default_rng(12)
    cases = [
        {"t1n": brain_like(rng), "t2w": brain_like(rng)},
        {"t1n": brain_like(rng)},
    ]
    stats = dataset_stats(iter(cases), iter(cases))
    assert set(stats) == {"t1n", "t2w"}
    expected = reference_stats([c["t1n"] for c in cases], 99.5)
    assert (stats["t1n"].clip, stats["t1n"].mean) == pytest.approx(expected[:2], rel=1e-12)
    assert stats["t2w"].clip == reference_stats([cases[0]["t2w"]], 99.5)[0]


def test_accumulator_detects_passes_over_different_data() -> None:
    accumulator = StatsAccumulator()
    accumulator.add_first_pass(np.arange(10.0))
    accumulator.add_second_pass(np.arange(5.0))
    with pytest.raises(ValueError, match="passes disagree"):
        accumulator.result()
    with pytest.raises(RuntimeError, match="second pass has started"):
        accumulator.add_first_pass(np.arange(3.0))
    with pytest.raises(ValueError, match="no foreground"):
        StatsAccumulator().add_second_pass(np.zeros(4))
