"""``python -m mri_metrics`` runs the ``mri-metrics`` command line."""

import sys

from mri_metrics.cli import main

sys.exit(main())
