"""`python -m resp_arbiter`."""

import sys

from .cli import main

sys.exit(main())
