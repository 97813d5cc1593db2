"""``python -m brayns_trio``: the ``brayns-trio`` command line."""

import sys

from .cli import main

sys.exit(main())
