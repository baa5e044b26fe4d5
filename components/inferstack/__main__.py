"""``python -m inferstack``: the same command as ``inferstack``."""

from __future__ import annotations

import sys

from inferstack.cli import main

sys.exit(main())
