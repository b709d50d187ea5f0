"""`python -m learner_models` entry point (no Django import)."""

import sys

from learner_models.core.cli import main

if __name__ == "__main__":
    sys.exit(main())
