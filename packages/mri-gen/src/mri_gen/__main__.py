"""``python -m mri_gen`` runs the ``mri-gen`` command line."""

import sys

from mri_gen.cli import main

sys.exit(main())
