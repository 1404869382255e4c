"""``python -m semipose.cli``."""

import sys

from . import main

sys.exit(main())
