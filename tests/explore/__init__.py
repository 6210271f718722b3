"""Tests of the explorer (explore/): its form, runs, results, sweeps and pages in a browser."""
