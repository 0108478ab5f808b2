"""Sub-commands of the ``mri-gen`` command line, one module each."""
