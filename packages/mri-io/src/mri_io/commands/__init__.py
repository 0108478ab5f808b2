"""Sub-commands of the ``mri-io`` command line, one module each."""
