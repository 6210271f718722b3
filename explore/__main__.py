"""``python -m explore``: the same as ``lendsim-explore``."""

from explore.cli import main

raise SystemExit(main())
