"""``python -m mri_bench`` runs the ``mri-bench`` command line."""

import sys

from mri_bench.cli import main

sys.exit(main())
