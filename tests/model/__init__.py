"""Model tests: whole runs of the market model, their invariants, levers and scenarios."""
