"""The Generator contract: HF-GAN and UMMGAT complete cases the same way, and one command
completes a cohort with either model folder."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from mri_gen import Generator, HFGANGenerator, Synthesiser, Translator, load_generator
from mri_gen.cli import main
from mri_gen.errors import ConfigError
from mri_gen.hfgan import PRESETS as HFGAN_PRESETS
from mri_gen.ummgat import PRESETS as UMMGAT_PRESETS
from mri_gen.ummgat import generate_missing, harmonise_case
from mri_gen.ummgat.networks import UMMGATModel
from mri_io.case import load_case
from mri_io.intensity import PRESETS as STATS_PRESETS
from mri_io.layouts import scan_cases
from mri_io.synthetic import FULL_GRID, write_cohort

CENTRES = ("research-3t", "local-t1-t2")
DOMAINS = tuple(
    f"{centre}:{sequence}"
    for centre, sequences in (
        ("local-t1-t2", ("t1n", "t2w")),
        ("research-3t", ("t1c", "t1n", "t2f", "t2w")),
    )
    for sequence in sequences
)


@pytest.fixture(scope="module")
def centres_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("centres")
    # 60 x 60 x 39 voxels (4 mm): the contract, not image quality, is under test.
    write_cohort(folder, 4, seed=11, centres=CENTRES, grid=FULL_GRID.coarsened(4), progress=False)
    return folder


@pytest.fixture(scope="module")
def ummgat_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    config = replace(UMMGAT_PRESETS["tiny"], domains=DOMAINS, image_size=64)
    folder = tmp_path_factory.mktemp("ummgat")
    UMMGATModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def hfgan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    generator_config = HFGAN_PRESETS["tiny"].with_image_size(64).generator
    folder = tmp_path_factory.mktemp("hfgan")
    stats = {name: vars(value) for name, value in STATS_PRESETS["brasyn25"].items()}
    HFGANGenerator(generator_config).save_pretrained(folder, {"stats": stats})
    return folder


def _local_case(cohort: Path):  # type: ignore[no-untyped-def]
    manifest = json.loads((cohort / "cohort.json").read_text())
    local = next(r["case_id"] for r in manifest["cases"] if r["centre"] == "local-t1-t2")
    return load_case(next(c for c in scan_cases(cohort) if c.case_id == local))


def test_both_families_implement_the_contract(hfgan_dir: Path, ummgat_dir: Path) -> None:
    hfgan, ummgat = load_generator(hfgan_dir), load_generator(ummgat_dir)
    assert isinstance(hfgan, Synthesiser)
    assert isinstance(ummgat, Translator)
    for generator in (hfgan, ummgat):
        assert isinstance(generator, Generator)
    assert (hfgan.kind, ummgat.kind) == ("hfgan", "ummgat")
    assert ummgat.sequences == ("t1n", "t2w", "t1c", "t2f")


def test_ummgat_complete_is_generation_then_harmonisation(
    centres_cohort: Path, ummgat_dir: Path
) -> None:
    translator = load_generator(ummgat_dir)
    assert isinstance(translator, Translator)
    case = _local_case(centres_cohort)  # t1n and t2w, acquired at local-t1-t2
    with pytest.raises(ConfigError, match="needs the acquisition centre"):
        translator.complete(case)
    with pytest.raises(
        ConfigError, match=r"no domain 'local-t1-t2:t1c', needed to complete"
    ) as info:
        translator.complete(case, centre="local-t1-t2")
    assert str(ummgat_dir) in str(info.value)
    done = translator.complete(case, centre="local-t1-t2", target_centre="research-3t", seed=3)
    expected = generate_missing(
        translator, case, "local-t1-t2", target_centre="research-3t", seed=3
    )
    expected.update(harmonise_case(translator, case, "local-t1-t2", "research-3t", seed=3))
    assert sorted(done) == ["t1c", "t1n", "t2f", "t2w"]
    for name, volume in expected.items():
        np.testing.assert_array_equal(done[name], volume)


def test_hfgan_complete_refuses_centres_it_does_not_have(
    centres_cohort: Path, hfgan_dir: Path, ummgat_dir: Path
) -> None:
    synthesiser = load_generator(hfgan_dir, batch_size=64)
    assert isinstance(synthesiser, Synthesiser)
    assert synthesiser.batch_size == 64
    case = _local_case(centres_cohort)
    with pytest.raises(ConfigError, match="HF-GAN has no centres"):
        synthesiser.complete(case, target_centre="research-3t")
    done = synthesiser.complete(case, ["t2f"], centre="anywhere")
    assert list(done) == ["t2f"]
    np.testing.assert_array_equal(done["t2f"], synthesiser.synthesise(case)["t2f"])
    with pytest.raises(ConfigError, match=r"takes no option \['views'\]"):
        load_generator(ummgat_dir, views=("axial",))


def test_one_command_completes_with_either_model(
    centres_cohort: Path, hfgan_dir: Path, ummgat_dir: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    # ``synthesize`` is the command's earlier name, kept for scripts that use it.
    runs = (("u", "complete", ummgat_dir), ("h", "synthesize", hfgan_dir))
    for name, command, model in runs:
        out = tmp_path / name
        extra = ["--to-centre", "research-3t"] if name == "u" else ["--views", "axial"]
        code = main(
            [command, "--model", str(model), "--cohort", str(centres_cohort), "--out", str(out),
             *extra]
        )  # fmt: skip
        assert code == 0, capsys.readouterr().err
        completed = scan_cases(out)
        assert len(completed) == 4
        assert all(case.missing == () for case in completed)
