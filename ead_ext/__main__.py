"""`python -m ead_ext ...` is the `ead-ext` command."""
import sys

from .apps.cli import main

sys.exit(main())
