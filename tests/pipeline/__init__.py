"""Pipeline tests: the command line, run directories, sweeps, comparison and tools."""
