"""Sub-commands of the ``mri-metrics`` command line, one module each."""
