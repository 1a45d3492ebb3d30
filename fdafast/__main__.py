"""``python -m fdafast``: the ``fdafast`` command (see :mod:`fdafast.cli`)."""
import sys

from .cli import main

sys.exit(main())
