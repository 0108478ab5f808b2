"""Sub-commands of the ``mri-bench`` command line, one module each."""
