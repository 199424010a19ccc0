"""``python -m ffilab``: the same command line as ``ffilab``."""

from ffilab.cli import main

main()
