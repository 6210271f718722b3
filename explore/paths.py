"""Where the explorer writes its runs and where it looks for sweeps.

``LENDSIM_EXPLORE_OUT`` (default ``outputs/explore``) and
``LENDSIM_EXPLORE_SWEEPS`` (default ``outputs/sweeps``), relative to the
directory the server was started in, as the command line's outputs are.
"""

from __future__ import annotations

import os
from pathlib import Path

OUT_ENV = "LENDSIM_EXPLORE_OUT"
SWEEPS_ENV = "LENDSIM_EXPLORE_SWEEPS"


def out_root() -> Path:
    """The explorer's run directory root."""
    return Path(os.environ.get(OUT_ENV, "outputs/explore"))


def sweeps_root() -> Path:
    """Where sweeps are looked for."""
    return Path(os.environ.get(SWEEPS_ENV, "outputs/sweeps"))


def slug(key: str) -> str:
    """A key as a CSS class name: dots and brackets become dashes."""
    return key.replace(".", "-").replace("[", "-").replace("]", "")
