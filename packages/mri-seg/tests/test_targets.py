"""Output encodings: encoding label maps and decoding network outputs back to labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from mri_seg.targets import TargetSpec

_labels = st.integers(0, 2**31 - 1).map(
    lambda seed: np.random.default_rng(seed).choice([0, 1, 2, 3], size=(5, 6, 7)).astype(np.uint8)
)


@settings(max_examples=25, deadline=None)
@given(seg=_labels)
def test_regions_round_trip(seg: NDArray[np.uint8]) -> None:
    spec = TargetSpec("regions")
    masks = spec.encode(seg)
    assert masks.shape == (3, *seg.shape)
    np.testing.assert_array_equal(masks[0], np.isin(seg, [1, 2, 3]))
    np.testing.assert_array_equal(masks[1], np.isin(seg, [1, 3]))
    np.testing.assert_array_equal(masks[2], seg == 3)
    np.testing.assert_array_equal(spec.decode(torch.from_numpy(masks)).numpy(), seg)


@settings(max_examples=25, deadline=None)
@given(seg=_labels)
def test_labels_round_trip(seg: NDArray[np.uint8]) -> None:
    spec = TargetSpec("labels")
    classes = spec.encode(seg)
    assert classes.shape == (1, *seg.shape)
    onehot = torch.nn.functional.one_hot(torch.from_numpy(classes[0]).long(), 4).movedim(-1, 0)
    np.testing.assert_array_equal(spec.decode(onehot.float()).numpy(), seg)


def test_brats2021_labels_decode_to_label_4() -> None:
    spec = TargetSpec("regions", "brats2021")
    assert spec.region_labels() == (2, 1, 4)
    seg = np.array([0, 1, 2, 4], dtype=np.uint8)
    np.testing.assert_array_equal(spec.decode(torch.from_numpy(spec.encode(seg))).numpy(), seg)


def test_regions_painted_largest_first() -> None:
    # ET predicted outside TC still reads as enhancing tumour (BraTS convention).
    spec = TargetSpec("regions")
    probabilities = torch.tensor([[0.9, 0.9, 0.2], [0.1, 0.8, 0.1], [0.7, 0.1, 0.1]])
    assert spec.decode(probabilities[:, :, None, None]).flatten().tolist() == [3, 1, 0]


def test_non_nested_regions_refused() -> None:
    # Paediatric 2024: TC minus ET holds two labels, so sigmoid regions cannot be decoded.
    with pytest.raises(ValueError, match="not nested"):
        TargetSpec("regions", "brats2024-ped")
    assert TargetSpec("labels", "brats2024-ped").channels == 5


def test_unknown_region_and_kind() -> None:
    with pytest.raises(ValueError, match="no region 'XX'"):
        TargetSpec("regions", regions=("WT", "XX"))
    with pytest.raises(ValueError, match="output kind"):
        TargetSpec("softmax")  # type: ignore[arg-type]


def test_decode_checks_channels() -> None:
    with pytest.raises(ValueError, match="expected 3 output channels"):
        TargetSpec().decode(torch.zeros(4, 2, 2, 2))
