"""``python -m brayns_trio.cli``: the ``brayns-trio`` command line."""

import sys

from . import main

sys.exit(main())
