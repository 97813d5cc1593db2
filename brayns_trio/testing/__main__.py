"""``python -m brayns_trio.testing``: run the fake Brayns server (see :func:`main`)."""

import sys

from ._cli import main

sys.exit(main())
