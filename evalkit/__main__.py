"""``python -m evalkit``: the command line (see :mod:`evalkit.cli`)."""
import sys

from evalkit.cli import main

sys.exit(main())
