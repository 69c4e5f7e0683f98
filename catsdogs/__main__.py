"""``python -m catsdogs`` entry point."""

import sys

from catsdogs.cli import main

sys.exit(main())
