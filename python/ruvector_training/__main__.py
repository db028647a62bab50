"""``python -m ruvector_training`` runs the ``ruvector-train`` command (see ``cli.py``)."""

import sys

from ruvector_training.cli import main

if __name__ == "__main__":
    sys.exit(main())
