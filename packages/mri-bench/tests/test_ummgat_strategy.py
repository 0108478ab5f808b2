"""UMMGAT as a completion strategy and as the cross-centre (harmonising) strategy.

An untrained tiny UMMGAT, saved with ``save_pretrained``, is enough for the plumbing: the
strategy must hand back exactly what mri-gen's ``generate_missing`` / ``harmonise_case`` give
for the case's own centre, the pipeline must run it in every scenario, feed the segmenter the
harmonised inputs, store the rows with the checkpoint's hash, resume, and refuse cases the
model cannot read.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch

from mri_bench.config import BenchConfig, ConfigError, load_config
from mri_bench.generators import GeneratorError, GeneratorStrategy
from mri_bench.pipeline import run_benchmark, scenario_case, split_completion
from mri_bench.provenance import folder_digest
from mri_bench.scenarios import builtin_scenarios
from mri_bench.segmenter import FixedSegmenter
from mri_bench.store import ResultStore, read_rows
from mri_gen.ummgat.config import PRESETS, UNetConfig
from mri_gen.ummgat.inference import Translator, generate_missing, harmonise_case
from mri_gen.ummgat.networks import UMMGATModel
from mri_io.case import Case, load_case
from mri_io.layouts import scan_cases
from mri_io.sequences import SEQUENCES
from mri_io.training import torch_threads

CENTRES = ("clinical-1.5t", "research-3t")
CLINICAL, RESEARCH = "BraTS-GLI-00000-000", "BraTS-GLI-00001-000"
SIZE = 32


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Small convolutions on a shared 2-core machine: one thread avoids oversubscription."""
    with torch_threads(1):
        yield


def save_model(folder: Path, domains: tuple[str, ...]) -> Path:
    """An untrained UMMGAT, smaller than ``tiny``: enough to carry domains and styles."""
    torch.manual_seed(0)
    config = replace(
        PRESETS["tiny"],
        domains=domains,
        image_size=SIZE,
        unet=UNetConfig(base_channels=4, channel_mults=(1, 2)),
        mapping_hidden=16,
        critic_channels=8,
        critic_max_channels=16,
    )
    UMMGATModel(config).eval().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every (centre, sequence) domain of the test cohort."""
    domains = tuple(f"{c}:{s}" for c in CENTRES for s in SEQUENCES)
    return save_model(tmp_path_factory.mktemp("ummgat"), domains)


@pytest.fixture(scope="module")
def partial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model that never saw FLAIR at the clinical centre."""
    domains = (*(f"research-3t:{s}" for s in SEQUENCES), "clinical-1.5t:t1n", "clinical-1.5t:t2w")
    return save_model(tmp_path_factory.mktemp("ummgat-partial"), domains)


def translator(checkpoint: Path) -> Translator:
    return Translator.from_pretrained(checkpoint)


def case_of(cohort: Path, case_id: str, missing: tuple[str, ...]) -> Case:
    files = next(f for f in scan_cases(cohort) if f.case_id == case_id)
    case = load_case(files)
    kept = {k: v for k, v in case.images.items() if k not in missing}
    return Case(case.case_id, kept, case.seg, missing, case.label_convention)


def test_completion_is_mri_gen_complete_case_at_the_case_centre(
    cohort: Path, checkpoint: Path
) -> None:
    case = case_of(cohort, CLINICAL, ("t1n", "t2f"))
    completed = GeneratorStrategy("u", "ummgat", checkpoint).complete(
        case, ["t1n", "t2f"], centre="clinical-1.5t"
    )
    assert sorted(completed) == ["t1n", "t2f"]
    expected = generate_missing(
        translator(checkpoint), case, "clinical-1.5t", sequences=("t1n", "t2f")
    )
    for key in ("t1n", "t2f"):
        assert completed[key].dtype == np.float32
        np.testing.assert_array_equal(completed[key], expected[key])
    # The source is the preferred available sequence (t2w, t1n being missing), translated with
    # the latent style of the case's centre's domain; another centre gives another image.
    model = translator(checkpoint)
    style = model.latent_style("clinical-1.5t:t2f")
    direct = model.translate_volume(case.images["t2w"].data, style)
    np.testing.assert_array_equal(completed["t2f"], direct)
    elsewhere = GeneratorStrategy("u", "ummgat", checkpoint).complete(
        case, ["t2f"], centre="research-3t"
    )
    assert not np.allclose(elsewhere["t2f"], completed["t2f"])
    # Another seed draws another latent style.
    reseeded = GeneratorStrategy("u", "ummgat", checkpoint, options={"seed": 5}).complete(
        case, ["t2f"], centre="clinical-1.5t"
    )
    assert not np.array_equal(reseeded["t2f"], completed["t2f"])


def test_cross_centre_strategy_harmonises_the_inputs_and_completes_at_the_target(
    cohort: Path, checkpoint: Path
) -> None:
    case = case_of(cohort, CLINICAL, ("t1c",))
    strategy = GeneratorStrategy(
        "h", "ummgat", checkpoint, options={"target_centre": "research-3t"}
    )
    completed = strategy.complete(case, ["t1c"], centre="clinical-1.5t")
    assert sorted(completed) == sorted(SEQUENCES)
    model = translator(checkpoint)
    harmonised = harmonise_case(model, case, "clinical-1.5t", "research-3t")
    generated = generate_missing(
        model, case, "clinical-1.5t", target_centre="research-3t", sequences=("t1c",)
    )
    np.testing.assert_array_equal(completed["t1c"], generated["t1c"])
    for key in ("t1n", "t2w", "t2f"):
        np.testing.assert_array_equal(completed[key], harmonised[key])
        assert not np.allclose(completed[key], case.images[key].data)
    # Nothing missing: the harmonised inputs alone.
    full = case_of(cohort, CLINICAL, ())
    assert sorted(strategy.complete(full, [], centre="clinical-1.5t")) == sorted(SEQUENCES)
    assert GeneratorStrategy("u", "ummgat", checkpoint).complete(full, [], centre="x") == {}


def test_domains_the_model_lacks_are_named_with_the_checkpoint(
    cohort: Path, checkpoint: Path, partial: Path
) -> None:
    case = case_of(cohort, CLINICAL, ("t2f",))
    with pytest.raises(
        GeneratorError,
        match=rf"{re.escape(str(partial))}: .*no domain 'clinical-1.5t:t2f'.*complete",
    ):
        GeneratorStrategy("u", "ummgat", partial).complete(case, ["t2f"], centre="clinical-1.5t")
    with pytest.raises(GeneratorError, match=r"no domain 'clinical-1.5t:t1c'.*harmonise"):
        GeneratorStrategy(
            "u", "ummgat", partial, options={"target_centre": "clinical-1.5t"}
        ).complete(case_of(cohort, RESEARCH, ("t2f",)), ["t2f"], centre="research-3t")
    with pytest.raises(
        GeneratorError,
        match=r"no domain 'legacy-2d:t1n' or 'legacy-2d:t2w' or 'legacy-2d:t1c', needed to read",
    ):
        GeneratorStrategy("u", "ummgat", checkpoint).complete(case, ["t2f"], centre="legacy-2d")
    with pytest.raises(
        GeneratorError, match=rf"{re.escape(str(checkpoint))}: .*case {CLINICAL} is unknown.*assume"
    ):
        GeneratorStrategy("u", "ummgat", checkpoint).complete(case, ["t2f"])
    assumed = GeneratorStrategy(
        "u", "ummgat", checkpoint, options={"assume_centre": "clinical-1.5t"}
    )
    explicit = GeneratorStrategy("u", "ummgat", checkpoint)
    np.testing.assert_array_equal(
        assumed.complete(case, ["t2f"])["t2f"],
        explicit.complete(case, ["t2f"], centre="clinical-1.5t")["t2f"],
    )


def test_missing_extra_names_the_install_command(
    cohort: Path, checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in ("mri_gen", "mri_gen.ummgat"):  # the package is not installed
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=r'pip install "mri-bench\[gen\]"'):
        GeneratorStrategy("u", "ummgat", checkpoint).complete(
            case_of(cohort, CLINICAL, ("t2f",)), ["t2f"], centre="clinical-1.5t"
        )


def write_config(folder: Path, document: Mapping[str, Any]) -> Path:
    path = folder / "bench.json"
    path.write_text(json.dumps(document))
    return path


def bench_config(
    folder: Path, cohort: Path, checkpoint: Path, segmenter: Path | None, scenarios: list[str]
) -> BenchConfig:
    document: dict[str, Any] = {
        "data": str(cohort),
        "reference": str(cohort),
        "scenarios": scenarios,
        "strategies": [
            "copy",
            {"name": "ummgat", "kind": "generator", "generator": "ummgat", "checkpoint": "m"},
            {
                "name": "harmonised",
                "kind": "generator",
                "generator": "ummgat",
                "checkpoint": "m",
                "options": {"target_centre": "research-3t", "seed": 1},
            },
        ],
        "cases": [CLINICAL, RESEARCH],
        "panel_case": CLINICAL,
    }
    if segmenter is not None:
        document.update(segmenter=str(segmenter), segmenter_window=[32, 32, 24])
    (folder / "m").symlink_to(checkpoint, target_is_directory=True)
    return load_config(write_config(folder, document))


def test_the_pipeline_runs_ummgat_in_the_15_subsets_and_the_cross_centre_scenario(
    tmp_path: Path,
    cohort: Path,
    checkpoint: Path,
    segmenter: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = bench_config(tmp_path, cohort, checkpoint, segmenter, ["subsets", "centre shift"])
    assert len(config.scenarios) == 16
    assert config.to_json()["strategies"][2]["options"] == {
        "target_centre": "research-3t",
        "seed": 1,
    }
    calls: list[tuple[str, tuple[str, ...], dict[str, npt.NDArray[Any]]]] = []
    segment = FixedSegmenter.segment

    def recording(
        self: FixedSegmenter, case: Case, completion: Mapping[str, npt.NDArray[Any]]
    ) -> npt.NDArray[np.uint8]:
        inputs = {k: np.asarray(v.data) for k, v in case.images.items()}
        calls.append((case.case_id, tuple(sorted(completion)), inputs))
        return segment(self, case, completion)

    monkeypatch.setattr(FixedSegmenter, "segment", recording)
    store = run_benchmark(config, tmp_path / "run", progress=False)
    rows = read_rows(store)
    tasks = {(r.case_id, r.scenario, r.strategy) for r in rows}
    assert tasks == {
        (c, s.name, st)
        for c in (CLINICAL, RESEARCH)
        for s in config.scenarios
        for st in ("copy", "ummgat", "harmonised")
    }
    assert {r.centre for r in rows if r.case_id == CLINICAL} == {"clinical-1.5t"}
    for scenario in config.scenarios:
        for case_id in (CLINICAL, RESEARCH):
            removed = set(scenario.missing_for(case_id))
            for strategy in ("ummgat", "harmonised"):
                chosen = [
                    r
                    for r in rows
                    if (r.case_id, r.scenario, r.strategy) == (case_id, scenario.name, strategy)
                ]
                # Image rows for the missing sequences only, also when inputs are harmonised.
                assert {r.target for r in chosen if r.target} == removed
                assert {r.region for r in chosen if not r.target} == {"WT", "TC", "ET"}

    def segmentation(strategy: str, scenario: str) -> list[tuple[str, str, str, float]]:
        return sorted(
            (r.case_id, r.region, r.metric, r.value)
            for r in rows
            if r.strategy == strategy and r.scenario == scenario and not r.target
        )

    # Complete inputs: plain completion changes nothing, harmonisation changes the inputs.
    assert segmentation("ummgat", "complete") == segmentation("copy", "complete")
    assert segmentation("harmonised", "complete") != segmentation("copy", "complete")
    # The segmenter saw the clinical case's inputs harmonised into research-3t's domains.
    model = translator(checkpoint)
    for name in ("complete", "missing t1c+t2f"):
        view, missing = scenario_case(load_case(scan_cases(cohort)[0]), builtin_scenarios()[name])
        expected = harmonise_case(model, view, "clinical-1.5t", "research-3t", seed=1)
        assert sorted(expected) == sorted(view.images)
        matches = [
            inputs
            for case_id, completed, inputs in calls
            if (case_id, completed) == (CLINICAL, tuple(sorted(missing)))
            and sorted(inputs) == sorted(expected)
            and all(np.array_equal(inputs[k], expected[k]) for k in expected)
        ]
        assert len(matches) == 1
    # Provenance: the checkpoint's hash and the options.
    with ResultStore(store) as db:
        records = db.provenance()
    assert {r.provenance for r in rows} <= set(records)
    by_strategy = {r["strategy"]["name"]: r["strategy"] for r in records.values()}
    for name in ("ummgat", "harmonised"):
        assert by_strategy[name]["checkpoint_sha256"] == folder_digest(checkpoint)
        assert by_strategy[name]["generator"] == "ummgat"
    assert json.loads(by_strategy["harmonised"]["options"]) == {
        "seed": 1,
        "target_centre": "research-3t",
    }
    assert (tmp_path / "run" / "panels" / "missing-t2f__harmonised.npz").is_file()


def test_an_interrupted_ummgat_run_resumes_to_the_uninterrupted_table(
    tmp_path: Path, cohort: Path, checkpoint: Path
) -> None:
    scenarios = ["missing t2f", "missing t1n+t2w", "complete", "centre shift"]
    (tmp_path / "a").mkdir()
    config = bench_config(tmp_path / "a", cohort, checkpoint, None, scenarios)
    whole = read_rows(run_benchmark(config, tmp_path / "whole", progress=False))
    part = tmp_path / "part"
    run_benchmark(config.select(scenarios[:2], ["ummgat"]), part, progress=False)
    first = read_rows(part / "results.sqlite")
    assert 0 < len(first) < len(whole)
    resumed = read_rows(run_benchmark(config, part, resume=True, progress=False))
    assert resumed == whole


def test_config_options_are_checked_against_the_generator_kind(
    tmp_path: Path, cohort: Path
) -> None:
    base = {"data": str(cohort), "reference": str(cohort), "scenarios": ["complete"]}
    strategy = {"name": "u", "kind": "generator", "generator": "ummgat", "checkpoint": "m"}
    path = write_config(tmp_path, {**base, "strategies": [{**strategy, "options": {"target": 1}}]})
    with pytest.raises(ConfigError, match=rf"{path}: strategy 'u': .*no option \['target'\]"):
        load_config(path)
    path = write_config(tmp_path, {**base, "strategies": [{**strategy, "generator": "stargan"}]})
    with pytest.raises(ConfigError, match="unknown generator 'stargan'; known: hfgan, ummgat"):
        load_config(path)
    path = write_config(tmp_path, {**base, "strategies": [{**strategy, "options": ["seed"]}]})
    with pytest.raises(ConfigError, match="'options' must be an object"):
        load_config(path)
    for options, problem in (
        ({"seed": "1"}, "'seed' must be an integer, got '1'"),
        ({"seed": True}, "'seed' must be an integer"),
        ({"target_centre": "a:b"}, "'target_centre' must be a centre name without ':'"),
        ({"assume_centre": 3}, "'assume_centre' must be a centre name"),
    ):
        path = write_config(tmp_path, {**base, "strategies": [{**strategy, "options": options}]})
        with pytest.raises(ConfigError, match=rf"strategy 'u': option {problem}"):
            load_config(path)
    plain = load_config(write_config(tmp_path, {**base, "strategies": [strategy]}))
    seeded = load_config(
        write_config(tmp_path, {**base, "strategies": [{**strategy, "options": {"seed": 2}}]})
    )
    assert "options" not in plain.to_json()["strategies"][0]
    assert plain.digest() != seeded.digest()


def test_cases_without_a_centre_need_assume_centre(
    tmp_path: Path, cohort: Path, checkpoint: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(cohort / CLINICAL, data / CLINICAL)
    document: dict[str, Any] = {
        "data": str(data),
        "reference": str(cohort),
        "scenarios": ["missing t2f"],
        "strategies": [
            {"name": "u", "kind": "generator", "generator": "ummgat", "checkpoint": str(checkpoint)}
        ],
    }
    with pytest.raises(GeneratorError, match=r"is unknown .*'assume_centre'"):
        run_benchmark(load_config(write_config(tmp_path, document)), tmp_path / "r", progress=False)
    document["strategies"][0]["options"] = {"assume_centre": "clinical-1.5t"}
    rows = read_rows(
        run_benchmark(load_config(write_config(tmp_path, document)), tmp_path / "s", progress=False)
    )
    assert {r.centre for r in rows} == {"unknown"}
    assert {r.target for r in rows} == {"t2f"}


def test_a_completion_replaces_only_available_sequences(cohort: Path) -> None:
    view = case_of(cohort, CLINICAL, ("t2f",))
    t1n = np.full(view.images["t1n"].shape, 7.0, dtype=np.float32)
    t2f = np.ones_like(t1n)
    seen, generated = split_completion(view, {"t1n": t1n, "t2f": t2f}, ("t2f",), "s")
    assert list(generated) == ["t2f"]
    np.testing.assert_array_equal(seen.images["t1n"].data, t1n)
    np.testing.assert_array_equal(seen.images["t2w"].data, view.images["t2w"].data)
    assert seen.images["t1n"].affine.tolist() == view.images["t1n"].affine.tolist()
    with pytest.raises(ValueError, match=r"strategy 's', .*lacks \['t2f'\] and holds unknown \[\]"):
        split_completion(view, {"t1n": t1n}, ("t2f",), "s")
    with pytest.raises(ValueError, match=r"lacks \[\] and holds unknown \['seg'\]"):
        split_completion(view, {"t2f": t2f, "seg": t2f}, ("t2f",), "s")


def test_the_documented_example_config_parses() -> None:
    example = Path(__file__).parents[3] / "docs" / "mri-bench" / "examples" / "ummgat.json"
    if not example.is_file():
        pytest.skip("the documentation is not beside this checkout of the tests")
    config = load_config(example)
    assert [s.name for s in config.scenarios][-2:] == ["complete", "centre shift"]
    assert len(config.scenarios) == 16
    by_name = {s.name: s for s in config.strategies}
    assert by_name["ummgat-harmonised"].options == {"target_centre": "research-3t"}
    assert by_name["ummgat"].checkpoint == by_name["ummgat-harmonised"].checkpoint
    assert by_name["ummgat"].checkpoint == (example.parents[3] / "demo-out" / "ummgat").resolve()
