"""Scenario tools: calibration, sweep aggregation and comparison, sensitivity analysis."""
