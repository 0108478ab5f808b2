"""3D inference: geometry, names, views, background, errors; weights round-trip."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from mri_gen import Synthesiser, complete_case
from mri_gen.cli import main
from mri_gen.errors import CheckpointError, ConfigError, NothingToSynthesiseError
from mri_gen.hfgan import inference
from mri_gen.hfgan.config import PRESETS, VIEW_NAMES, GeneratorConfig
from mri_gen.hfgan.data import normalised_stack
from mri_gen.hfgan.generator import HFGANGenerator
from mri_gen.hfgan.inference import largest_batch
from mri_io.case import Case, load_case
from mri_io.intensity import BRASYN25, IntensityStats, NormalisationParams, Normaliser
from mri_io.layouts import scan_cases
from mri_io.nifti import load_volume, save_volume
from mri_io.slicing import SliceLayout, View, background_majority, iter_batches

#: A small generator for 128x128 slices (the half-grid cohort's planes are at most 120).
CONFIG = GeneratorConfig(
    image_size=128, base_channels=8, channel_mults=(1, 2, 4, 4), infuser_layers=1, infuser_heads=4
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("model")
    stats = {name: {"clip": s.clip, "mean": s.mean, "std": s.std} for name, s in BRASYN25.items()}
    HFGANGenerator(CONFIG).save_pretrained(folder, {"stats": stats})
    return folder


def _drop(cohort: Path, tmp_path: Path, drop: tuple[str, ...], index: int = 0) -> Path:
    """A copy of one cohort case with the ``drop`` sequence files removed."""
    source = scan_cases(cohort)[index]
    target = tmp_path / source.case_id
    shutil.copytree(source.folder, target)
    for name in drop:
        (target / source.sequences[name].name).unlink()
    return target


def test_pretrained_round_trip_gives_identical_outputs(model_dir: Path) -> None:
    loaded = HFGANGenerator.from_pretrained(model_dir)
    torch.manual_seed(0)
    original = HFGANGenerator(CONFIG).eval()
    x = torch.randn(2, 4, 128, 128)
    available = torch.tensor([[True, False, True, True], [False, True, False, False]])
    target = torch.tensor([1, 3])
    with torch.no_grad():
        assert torch.equal(loaded(x, available, target).image, original(x, available, target).image)
    assert loaded.config == CONFIG


def test_from_pretrained_names_the_bad_folder(tmp_path: Path, model_dir: Path) -> None:
    with pytest.raises(CheckpointError, match=r"no config\.json"):
        HFGANGenerator.from_pretrained(tmp_path)
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="damaged weights"):
        HFGANGenerator.from_pretrained(broken)


def test_synthesis_restores_the_input_geometry(
    cohort: Path, model_dir: Path, tmp_path: Path
) -> None:
    case_dir = _drop(cohort, tmp_path / "in", ("t1c", "t2f"))
    files = scan_cases(case_dir)[0]
    out = tmp_path / "out"
    written = complete_case(Synthesiser.from_pretrained(model_dir), files, out)
    assert sorted(p.name for p in written) == [
        f"{files.case_id}-t1c.nii.gz",
        f"{files.case_id}-t2f.nii.gz",
    ]
    completed = scan_cases(out)[0]
    assert completed.missing == ()
    assert completed.seg is not None
    reference = load_volume(files.sequences["t1n"])
    for path in written:
        volume = load_volume(path)
        assert volume.shape == reference.shape
        np.testing.assert_array_equal(volume.affine, reference.affine)
        assert volume.header["qform_code"] == reference.header["qform_code"]
        assert volume.header["sform_code"] == reference.header["sform_code"]
        np.testing.assert_array_equal(volume.header["pixdim"], reference.header["pixdim"])
        assert volume.data.min() >= 0
        inputs = np.stack([load_volume(files.sequences[k]).data for k in ("t1n", "t2w")])
        background = background_majority(np.maximum(inputs, 0))
        assert np.all(volume.data[background] == 0)
    for name in ("t1n", "t2w"):
        assert (out / files.case_id / files.sequences[name].name).read_bytes() == (
            files.sequences[name].read_bytes()
        )


class _Recorder(torch.nn.Module):
    """Stands in for the generator: returns the input slices' mean, records views and shapes."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        self.calls: list[tuple[tuple[int, ...], int]] = []

    def forward(
        self, x: torch.Tensor, available: torch.Tensor, target: torch.Tensor, view: torch.Tensor
    ) -> object:
        self.calls.append((tuple(x.shape), int(view[0])))
        image = (x * available[:, :, None, None]).sum(1, keepdim=True) / available.sum(1).view(
            -1, 1, 1, 1
        )
        return type("Out", (), {"image": image})()


def test_multi_view_really_uses_two_views(cohort: Path) -> None:
    case = load_case(scan_cases(cohort)[1])
    del case.images["t2w"]
    stats = dict(BRASYN25)
    recorder = _Recorder(CONFIG)
    synthesiser = Synthesiser(recorder, stats, batch_size=64)  # type: ignore[arg-type]
    both = synthesiser.synthesise(case, ("axial", "sagittal"))["t2w"]
    views = {view for _, view in recorder.calls}
    assert views == {0, 2}  # sagittal and axial, in VIEW_NAMES order
    slices = {view: sum(shape[0] for shape, v in recorder.calls if v == view) for view in views}
    assert slices == {2: 78, 0: 120}
    recorder.calls.clear()
    axial = synthesiser.synthesise(case, ("axial",))["t2w"]
    sagittal = synthesiser.synthesise(case, ("sagittal",))["t2w"]
    np.testing.assert_allclose(both, (axial + sagittal) / 2, rtol=1e-4, atol=1e-2)


def test_no_generator_call_exceeds_what_a_gpu_can_index(
    cohort: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On an H200, 128 paper-sized slices ran in one call and 160 were refused.
    assert largest_batch(PRESETS["paper"].generator) == 145
    case = load_case(scan_cases(cohort)[1])
    del case.images["t2w"]
    recorder = _Recorder(CONFIG)
    big = Synthesiser(recorder, dict(BRASYN25), batch_size=1000)  # type: ignore[arg-type]
    whole = big.synthesise(case)["t2w"]
    assert [shape[0] for shape, _ in recorder.calls] == [78]
    recorder.calls.clear()
    monkeypatch.setattr(inference, "largest_batch", lambda config: 7)
    cut = big.synthesise(case)["t2w"]
    sizes = [shape[0] for shape, _ in recorder.calls]
    assert max(sizes) == 7
    assert sum(sizes) == 78
    np.testing.assert_array_equal(cut, whole)


def _numpy_synthesis(
    synthesiser: Synthesiser, case: Case, target: str, views: tuple[View, ...]
) -> np.ndarray:
    """The synthesis written with mri-io's numpy functions, one batch crossing at a time: the
    reference the device-resident path must equal."""
    images = {k: v.data for k, v in case.images.items()}
    sequences = synthesiser.sequences
    stack, raw = normalised_stack(images, sequences, synthesiser.stats)
    available = [name in images for name in sequences]
    mask = torch.tensor(available)
    index = sequences.index(target)
    size = synthesiser.generator.config.image_size
    per_view = []
    for view in views:
        layout = SliceLayout.square(stack.shape[1:], view, size=size)
        outputs = []
        for _, cut in iter_batches(stack, layout, batch_size=synthesiser.batch_size, pad=-1.0):
            n = len(cut)
            with torch.no_grad():
                image = synthesiser.generator(
                    torch.from_numpy(cut),
                    mask.expand(n, -1),
                    torch.full((n,), index),
                    torch.full((n,), VIEW_NAMES.index(view)),
                ).image
            outputs.append(image[:, 0].numpy())
        per_view.append(layout.restack(np.concatenate(outputs), fill=-1.0))
    params = NormalisationParams.of_dataset(synthesiser.stats[target])
    foreground = ~background_majority(raw, available)
    return Normaliser.inverse(np.mean(per_view, axis=0), params, foreground)


@pytest.mark.parametrize("views", [("axial",), ("axial", "coronal", "sagittal")])
def test_synthesis_on_the_device_equals_the_numpy_path_bit_for_bit(
    cohort: Path, model_dir: Path, views: tuple[View, ...]
) -> None:
    case = load_case(scan_cases(cohort)[0])
    del case.images["t1c"], case.images["t2f"]
    for image in case.images.values():  # negatives, which the path clamps (never in place)
        image.data[::7, ::5, ::3] *= -1.0
    before = {name: image.data.copy() for name, image in case.images.items()}
    synthesiser = Synthesiser.from_pretrained(model_dir, batch_size=16)
    got = synthesiser.synthesise(case, views)
    for target in ("t1c", "t2f"):
        assert got[target].dtype == np.float32
        expected = _numpy_synthesis(synthesiser, case, target, views)
        np.testing.assert_array_equal(got[target], expected)
    for name, data in before.items():  # the inputs are read, never changed
        np.testing.assert_array_equal(case.images[name].data, data)


def test_a_batch_size_below_one_is_refused(model_dir: Path) -> None:
    with pytest.raises(ConfigError, match="batch size must be at least 1, got 0"):
        Synthesiser.from_pretrained(model_dir, batch_size=0)


@pytest.mark.gpu
def test_synthesis_on_cuda_gives_the_cpu_numbers(
    cohort: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a GPU in fp32 (TF32 off), the device-resident path gives the CPU's volumes up to the
    float32 rounding of the convolutions' sums (well under 1e-3 of a z-unit); everything
    around the network is exact on the device (mri-io's tensor tests)."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    case = load_case(scan_cases(cohort)[0])
    del case.images["t1c"], case.images["t2f"]
    on_cpu = Synthesiser.from_pretrained(model_dir).synthesise(case)
    on_cuda = Synthesiser.from_pretrained(model_dir, device="cuda").synthesise(case)
    for target in ("t1c", "t2f"):
        z_unit = BRASYN25[target].std
        np.testing.assert_allclose(on_cuda[target], on_cpu[target], rtol=0, atol=1e-3 * z_unit)


def test_identity_generator_round_trips_intensities_exactly(cohort: Path) -> None:
    """With a generator that copies t1n, the output is t1n de-normalised with t1c's stats."""
    case = load_case(scan_cases(cohort)[2])
    t1n = case.images["t1n"].data
    for name in ("t1c", "t2w", "t2f"):
        del case.images[name]
    same = IntensityStats(clip=float(t1n.max()) + 1, mean=100.0, std=50.0)
    stats = dict.fromkeys(("t1n", "t1c", "t2w", "t2f"), same)
    synthesiser = Synthesiser(_Recorder(CONFIG), stats)  # type: ignore[arg-type]
    out = synthesiser.synthesise(case)["t1c"]
    expected = np.where(t1n > 0, np.maximum(t1n, 0), 0)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-3)


def test_a_model_trained_on_three_inputs_warns_when_given_fewer(
    cohort: Path, model_dir: Path, tmp_path: Path
) -> None:
    shutil.copytree(model_dir, tmp_path / "m")
    document = json.loads((tmp_path / "m" / "config.json").read_text())
    document["config"]["trained_inputs"] = "others"
    (tmp_path / "m" / "config.json").write_text(json.dumps(document))
    synthesiser = Synthesiser.from_pretrained(tmp_path / "m", batch_size=64)
    assert synthesiser.trained_inputs == "others"
    case = load_case(scan_cases(cohort)[0])
    del case.images["t2f"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        synthesiser.synthesise(case)  # one missing: what it was trained for
    del case.images["t1c"]
    with pytest.warns(UserWarning, match="misses 2 sequences .* --inputs subsets"):
        synthesiser.synthesise(case)
    assert Synthesiser.from_pretrained(model_dir).trained_inputs is None


def test_case_without_any_sequence_is_refused(
    tmp_path: Path, model_dir: Path, cohort: Path
) -> None:
    case_dir = _drop(cohort, tmp_path, ("t1n", "t1c", "t2w", "t2f"))
    code = main(
        [
            "synthesize",
            "--model",
            str(model_dir),
            "--case",
            str(case_dir),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2


def test_cli_reports_mismatched_geometry_in_one_line(
    tmp_path: Path, model_dir: Path, cohort: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case_dir = _drop(cohort, tmp_path, ("t1c",))
    files = scan_cases(case_dir)[0]
    moved = load_volume(files.sequences["t2w"])
    moved.affine[0, 3] += 5.0
    save_volume(moved, files.sequences["t2w"])
    code = main(
        [
            "synthesize",
            "--model",
            str(model_dir),
            "--case",
            str(case_dir),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "t2w" in err
    assert "affine differs" in err


def test_cli_completes_a_cohort_with_two_views(
    tmp_path: Path, model_dir: Path, cohort: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _drop(cohort, tmp_path / "in", ("t2f",), index=0)
    _drop(cohort, tmp_path / "in", ("t1n", "t2w"), index=3)
    code = main(
        [
            "synthesize",
            "--model",
            str(model_dir),
            "--cohort",
            str(tmp_path / "in"),
            "--out",
            str(tmp_path / "out"),
            "--views",
            "axial,sagittal",
        ]
    )
    assert code == 0
    assert "wrote 3 volumes" in capsys.readouterr().out
    assert all(case.missing == () for case in scan_cases(tmp_path / "out"))


def test_slices_larger_than_the_model_are_refused(cohort: Path) -> None:
    small = GeneratorConfig(image_size=64, base_channels=8, channel_mults=(1, 2), infuser_heads=4)
    case = load_case(scan_cases(cohort)[0])
    del case.images["t1c"]
    synthesiser = Synthesiser(HFGANGenerator(small).eval(), dict(BRASYN25))
    with pytest.raises(ConfigError, match="do not fit"):
        synthesiser.synthesise(case)
    case.images.clear()
    with pytest.raises(NothingToSynthesiseError):
        synthesiser.synthesise(case)
