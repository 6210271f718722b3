"""``python -m sim [scenario=NAME] [seed=N] [key=value ...]``: the same as ``lendsim``."""

from sim.cli import main

if __name__ == "__main__":
    main()
