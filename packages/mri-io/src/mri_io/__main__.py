"""``python -m mri_io`` runs the ``mri-io`` command line."""

import sys

from mri_io.cli import main

sys.exit(main())
