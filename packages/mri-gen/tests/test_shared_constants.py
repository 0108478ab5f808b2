"""mri-gen takes the normalised background from mri-io instead of defining its own -1."""

from __future__ import annotations

import mri_io
from mri_gen.hfgan import generator
from mri_gen.ummgat import networks


def test_the_models_use_mri_ios_normalised_background() -> None:
    assert generator.BACKGROUND is mri_io.NORMALISED_BACKGROUND
    assert networks.BACKGROUND is mri_io.NORMALISED_BACKGROUND
