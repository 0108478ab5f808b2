"""Sub-commands of the ``mri-seg`` command line, one module each."""
