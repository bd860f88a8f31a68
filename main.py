"""LabLens entry point: no arguments opens the GUI; ``main.py <workspace> <verb> ...`` runs headless."""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
