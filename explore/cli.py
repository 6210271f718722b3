"""``lendsim-explore``: serve the explorer on this machine (default ``localhost:8765``).

    lendsim-explore                       # http://localhost:8765
    lendsim-explore --port 8800 --host 0.0.0.0 --out outputs/explore --sweeps outputs/sweeps

Serves the Solara app :mod:`explore.app` with uvicorn. Nothing leaves the
machine: the page's scripts and fonts come from the ``solara-assets`` package,
Solara's telemetry and version check are off.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from explore.paths import OUT_ENV, SWEEPS_ENV

APP = "explore.app"
OFFLINE = {
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",  # no usage statistics sent
    "SOLARA_THEME_SHOW_BANNER": "False",
}
"""Settings for a server that talks to nobody but its browser."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="lendsim-explore", description="Serve the explorer: run a policy, browse sweeps."
    )
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    parser.add_argument("--host", default="localhost", help="interface (default localhost)")
    parser.add_argument("--out", help="where page runs are written (default outputs/explore)")
    parser.add_argument("--sweeps", help="where sweeps are looked for (default outputs/sweeps)")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port {args.port}: must be in 1-65535")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until interrupted."""
    args = parse_args(argv)
    for name, value in OFFLINE.items():
        os.environ.setdefault(name, value)
    os.environ["SOLARA_APP"] = APP
    if args.out:
        os.environ[OUT_ENV] = args.out
    if args.sweeps:
        os.environ[SWEEPS_ENV] = args.sweeps
    import uvicorn

    print(f"lendsim-explore: serving on http://{args.host}:{args.port}", file=sys.stderr)
    uvicorn.run("solara.server.starlette:app", host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
