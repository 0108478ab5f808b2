"""Missing-sequence-robust 3D U-Nets: dropout sampling, the input encoding, inference on
subsets, training and the command line."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from mri_io.case import load_case
from mri_io.errors import MissingSequenceError
from mri_io.sequences import SEQUENCES
from mri_seg import load_segmenter
from mri_seg.cli import main
from mri_seg.networks import UNet3D
from mri_seg.unet import SequenceDropout, TrainConfig, train_unet
from mri_seg.unet.inference import case_inputs
from mri_seg.unet.robust import encode, proper_subsets


def test_dropout_is_seeded_never_drops_all_and_keeps_its_rate() -> None:
    plan = SequenceDropout(SEQUENCES, 0.5)
    draws = [plan.sample(np.random.default_rng([7, i])) for i in range(2000)]
    again = [plan.sample(np.random.default_rng([7, i])) for i in range(2000)]
    assert draws == again
    assert all(any(kept) for kept in draws)
    dropped = sum(not all(kept) for kept in draws)
    assert 900 <= dropped <= 1100  # binomial(2000, 0.5): 4.5 standard deviations
    kept = Counter(draws)
    assert len(kept) == 15  # the 14 proper subsets and the whole set
    assert len(proper_subsets(SEQUENCES)) == 14


def test_dropout_keeps_only_the_allowed_subsets() -> None:
    plan = SequenceDropout(SEQUENCES, 1.0, (("t1c", "t2f"), ("t2w",)))
    draws = {plan.sample(np.random.default_rng(i)) for i in range(200)}
    assert draws == {(False, True, False, True), (False, False, True, False)}
    assert {
        SequenceDropout(SEQUENCES, 0.0).sample(np.random.default_rng(i)) for i in range(50)
    } == {(True,) * 4}
    for bad in ((), ("t1c", "dwi"), ("t1c", "t1c")):
        with pytest.raises(ValueError, match="kept subset"):
            SequenceDropout(SEQUENCES, 0.5, (bad,))
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        SequenceDropout(SEQUENCES, 1.5)


def test_encoding_zeroes_missing_channels_and_appends_availability() -> None:
    images = torch.randn(4, 3, 4, 5)
    encoded = encode(images, (True, False, True, False))
    assert encoded.shape == (8, 3, 4, 5)
    assert torch.equal(encoded[0], images[0])
    assert torch.equal(encoded[2], images[2])
    assert torch.all(encoded[1] == 0)
    assert torch.all(encoded[3] == 0)
    assert [float(encoded[4 + i].unique()) for i in range(4)] == [1.0, 0.0, 1.0, 0.0]
    assert torch.equal(images[1], images[1])  # the input is not changed in place
    with pytest.raises(ValueError, match="at least one"):
        encode(images, (False,) * 4)


def test_config_options() -> None:
    config = TrainConfig(sequence_dropout=0.3, keep_subsets=(("t1c", "t2f"),))
    assert TrainConfig.from_json(json.loads(json.dumps(config.to_json()))) == config
    assert config.robust
    assert config.dropout_plan().choices == (("t1c", "t2f"),)
    plain = TrainConfig().to_json()
    assert not {"kle", "kle_components", "sequence_dropout", "keep_subsets"} & set(plain)
    with pytest.raises(ValueError, match="exclude"):
        TrainConfig(kle=True, sequence_dropout=0.5)
    with pytest.raises(ValueError, match="only with sequence_dropout"):
        TrainConfig(keep_subsets=(("t1c",),))


def test_robust_model_segments_subsets_an_ordinary_one_refuses(case_dir: Path) -> None:
    torch.manual_seed(0)
    robust = UNet3D.from_preset("tiny", availability=True)
    ordinary = UNet3D.from_preset("tiny")
    assert robust.input_channels == 8
    assert robust.config["availability"] is True
    assert "availability" not in ordinary.config
    case = load_case(case_dir)
    complete = case_inputs(robust, case)
    assert np.all(complete[4:] == 1)
    only_t1c = type(case)(
        case.case_id, {"t1c": case.images["t1c"]}, case.seg, ("t1n", "t2w", "t2f")
    )
    inputs = case_inputs(robust, only_t1c)
    np.testing.assert_array_equal(inputs[1], complete[1])
    assert np.all(inputs[[0, 2, 3]] == 0)
    assert [float(inputs[4 + i].max()) for i in range(4)] == [0.0, 1.0, 0.0, 0.0]
    labels = robust.segment(only_t1c)
    assert labels.shape == case.images["t1c"].shape
    with pytest.raises(MissingSequenceError, match="no t1n, t2w, t2f image"):
        ordinary.segment(only_t1c)
    nothing = type(case)(case.case_id, {}, case.seg, SEQUENCES)
    with pytest.raises(MissingSequenceError):
        robust.segment(nothing, completion={})


def test_robust_training_is_seeded_and_learns_from_dropped_crops(
    cohort: Path, tmp_path: Path
) -> None:
    config = TrainConfig(
        epochs=1,
        steps_per_epoch=2,
        batch_size=1,
        crop=(16, 16, 16),
        val_fraction=0.25,
        device="cpu",
        workers=0,
        sequence_dropout=0.5,
    )
    runs = [tmp_path / "a", tmp_path / "b"]
    for run in runs:
        train_unet(cohort, run, config, progress=False)
    first, second = (load_segmenter(run) for run in runs)
    assert isinstance(first, UNet3D)
    assert first.availability
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, second.state_dict()[name]), name


def test_cli_trains_robust_and_predicts_a_case_without_flair(
    cohort: Path, case_without_flair: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    arguments = ["train", "unet", "--data", str(cohort), "--out", str(run), "--workers", "0"]
    options = ["--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "1"]
    robust = ["--crop", "16", "16", "16", "--sequence-dropout", "0.5", "--keep", "t1n,t1ce,t2"]
    assert main([*arguments, *options, *robust, "--device", "cpu"]) == 0
    assert "best epoch 1" in capsys.readouterr().out
    saved = json.loads((run / "run.json").read_text())
    assert saved["sequence_dropout"] == 0.5
    assert saved["keep_subsets"] == [["t1n", "t1c", "t2w"]]
    out = tmp_path / "pred"
    assert (
        main(["predict", "--model", str(run), "--case", str(case_without_flair), "--out", str(out)])
        == 0
    )
    assert [p.name for p in out.iterdir()] == [f"{case_without_flair.name}-seg.nii.gz"]
    other = tmp_path / "run2"
    bad = [*arguments[:5], str(other), "--keep", "t1n,dwi"]
    with pytest.raises(SystemExit):
        main(bad)
    shutil.rmtree(other, ignore_errors=True)
