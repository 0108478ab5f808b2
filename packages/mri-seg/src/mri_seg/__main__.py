"""``python -m mri_seg`` runs the ``mri-seg`` command line."""

import sys

from mri_seg.cli import main

sys.exit(main())
