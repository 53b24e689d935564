"""The ``afterorder`` command line: ``main`` builds the command tree, ``common`` holds what the commands share."""
