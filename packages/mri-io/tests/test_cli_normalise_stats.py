"""The ``stats`` and ``normalise`` commands on a small cohort written to disk."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from mri_io.cli_support import EXIT_BAD_INPUT, make_parser, run
from mri_io.commands import normalise, stats
from mri_io.intensity import BRASYN25, NormalisationParams, Normaliser, load_stats
from mri_io.layouts import brats2023_filename
from mri_io.nifti import load_volume, new_volume, save_volume

SHAPE = (20, 24, 16)
AFFINE = np.array([[-1.0, 0, 0, 19], [0, -1, 0, 23], [0, 0, 1.5, 0], [0, 0, 0, 1]])


def cli(argv: list[str]) -> int:
    parser = make_parser("mri-io", "test", "0")
    commands = parser.add_subparsers()
    stats.register(commands)
    normalise.register(commands)
    return run(parser, argv)


def volume(rng: np.random.Generator, scale: float) -> NDArray[np.int16]:
    grid = np.meshgrid(*[np.linspace(-1, 1, n) for n in SHAPE], indexing="ij")
    brain = sum(g**2 for g in grid) < 0.9
    values = np.where(brain, rng.lognormal(np.log(scale), 0.5, SHAPE), 0.0)
    return np.asarray(values.round(), dtype=np.int16)


@pytest.fixture
def cohort(tmp_path: Path) -> dict[str, dict[str, NDArray[np.int16]]]:
    """Three BraTS 2023 cases; the second misses t2f (as a BraSyn validation case does)."""
    rng = np.random.default_rng(7)
    cases: dict[str, dict[str, NDArray[np.int16]]] = {}
    for index in range(3):
        case_id = f"BraTS-GLI-{index:05d}-000"
        folder = tmp_path / "in" / case_id
        names = ["t1n", "t1c", "t2w"] + ([] if index == 1 else ["t2f"])
        cases[case_id] = {name: volume(rng, 300.0 * (i + 1)) for i, name in enumerate(names)}
        for name, data in cases[case_id].items():
            save_volume(new_volume(data, AFFINE), folder / brats2023_filename(case_id, name))
        seg = (cases[case_id]["t1n"] > 900).astype(np.uint8)
        save_volume(new_volume(seg, AFFINE), folder / brats2023_filename(case_id, "seg"))
    return cases


def test_stats_equal_numpy_on_every_case_concatenated(
    tmp_path: Path,
    cohort: dict[str, dict[str, NDArray[np.int16]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "stats.json"
    assert cli(["stats", str(tmp_path / "in"), "--out", str(out)]) == 0
    written = load_stats(out)
    assert set(written) == {"t1n", "t1c", "t2w", "t2f"}
    for name, value in written.items():
        values = np.concatenate([c[name].ravel() for c in cohort.values() if name in c])
        foreground = values[values > 0].astype(np.float64)
        clip = np.percentile(foreground, 99.5)
        assert value.clip == clip
        assert value.mean == pytest.approx(np.minimum(foreground, clip).mean(), rel=1e-12)
        assert value.std == pytest.approx(np.minimum(foreground, clip).std(), rel=1e-12)
        assert value.count == foreground.size
    assert f"wrote {out} (3 cases)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("options", "scheme"),
    [
        (["--preset", "brasyn25"], "zscore-dataset"),
        (["--per-volume"], "zscore-volume"),
        (["--per-volume", "--scheme", "uint8-0-255"], "uint8-0-255"),
        (["--preset", "brasyn25", "--scheme", "minmax-1-1"], "minmax-1-1"),
    ],
)
def test_normalise_writes_invertible_float32_cases_with_input_geometry(
    tmp_path: Path,
    cohort: dict[str, dict[str, NDArray[np.int16]]],
    options: list[str],
    scheme: str,
) -> None:
    out = tmp_path / "out"
    assert cli(["normalise", str(tmp_path / "in"), "--out", str(out), *options]) == 0
    for case_id, sequences in cohort.items():
        folder = out / case_id
        document = json.loads((folder / normalise.PARAMS_FILE).read_text())
        assert document["scheme"] == scheme
        assert set(document["sequences"]) == set(sequences)
        for name, original in sequences.items():
            written = load_volume(folder / brats2023_filename(case_id, name), dtype=None)
            assert written.data.dtype == np.float32
            np.testing.assert_allclose(written.affine, AFFINE)
            params = NormalisationParams.from_json(document["sequences"][name])
            stats = BRASYN25[name] if "--preset" in options else None
            expected = Normaliser(params.scheme, stats).forward(original)
            assert params == expected.params
            np.testing.assert_array_equal(written.data, expected.data)
            restored = Normaliser.inverse(written.data, params, original > 0)
            clipped = np.minimum(original, params.clip)
            np.testing.assert_allclose(restored, clipped, rtol=1e-6, atol=1e-6 * params.clip)
        seg_name = brats2023_filename(case_id, "seg")
        assert (folder / seg_name).read_bytes() == (
            tmp_path / "in" / case_id / seg_name
        ).read_bytes()
    assert not (
        out / "BraTS-GLI-00001-000" / brats2023_filename("BraTS-GLI-00001-000", "t2f")
    ).exists()


def test_normalise_with_a_stats_file_uses_it(
    tmp_path: Path, cohort: dict[str, dict[str, NDArray[np.int16]]]
) -> None:
    stats_path = tmp_path / "stats.json"
    assert cli(["stats", str(tmp_path / "in"), "--out", str(stats_path)]) == 0
    out = tmp_path / "out"
    assert (
        cli(["normalise", str(tmp_path / "in"), "--out", str(out), "--stats", str(stats_path)]) == 0
    )
    case_id = "BraTS-GLI-00002-000"
    written = load_volume(out / case_id / brats2023_filename(case_id, "t2w")).data
    expected = Normaliser("zscore-dataset", load_stats(stats_path)["t2w"]).forward(
        cohort[case_id]["t2w"]
    )
    np.testing.assert_array_equal(written, expected.data)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["normalise", "IN", "--out", "IN", "--per-volume"], "output folder is the input folder"),
        (
            ["normalise", "IN", "--out", "OUT", "--stats", "IN/none.json"],
            "none.json: statistics file does not exist",
        ),
        (
            ["normalise", "IN", "--out", "OUT", "--per-volume", "--scheme", "zscore-dataset"],
            "needs --stats or --preset",
        ),
        (
            [
                "normalise",
                "IN",
                "--out",
                "OUT",
                "--preset",
                "brasyn25",
                "--scheme",
                "zscore-volume",
            ],
            "use --per-volume",
        ),
        (["stats", "IN/BraTS-GLI-00000-000/empty", "--out", "OUT/s.json"], "no case files found"),
        (["stats", "IN", "--out", "OUT/s.json", "--percentile", "101"], "--percentile must lie in"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path,
    cohort: dict[str, dict[str, NDArray[np.int16]]],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    (tmp_path / "in" / "BraTS-GLI-00000-000" / "empty").mkdir()
    paths = [
        a.replace("IN", str(tmp_path / "in")).replace("OUT", str(tmp_path / "out")) for a in argv
    ]
    assert cli(paths) == EXIT_BAD_INPUT
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert message in error


def test_stats_file_missing_a_sequence_is_named(
    tmp_path: Path,
    cohort: dict[str, dict[str, NDArray[np.int16]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    partial = tmp_path / "partial.json"
    partial.write_text(
        json.dumps({"format": 1, "sequences": {"t1n": {"clip": 1.0, "mean": 0.0, "std": 1.0}}})
    )
    argv = [
        "normalise",
        str(tmp_path / "in"),
        "--out",
        str(tmp_path / "out"),
        "--stats",
        str(partial),
    ]
    assert cli(argv) == EXIT_BAD_INPUT
    assert f"{partial}: no statistics for sequence 't1c'" in capsys.readouterr().err


def test_handlers_are_registered_with_help() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    stats.register(commands)
    normalise.register(commands)
    args = parser.parse_args(["normalize", "d", "--out", "o", "--preset", "brasyn25"])
    assert args.handler is normalise.run_normalise  # the earlier spelling still works
    assert parser.parse_args(["stats", "d", "--out", "s.json"]).handler is stats.run_stats
    with pytest.raises(SystemExit):
        parser.parse_args(["normalise", "d", "--out", "o", "--per-volume", "--preset", "brasyn25"])
