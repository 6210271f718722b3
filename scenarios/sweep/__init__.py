"""Sweeps after they ran: reading jobs, statistics, aggregate tables, comparison, callback.

Modules, each importing only those before it: :mod:`~scenarios.sweep.io`
(jobs and their tables on disk), :mod:`~scenarios.sweep.stats` (bands and
paired differences), :mod:`~scenarios.sweep.aggregate` (one long table across
jobs), :mod:`~scenarios.sweep.figures` and :mod:`~scenarios.sweep.compare`
(policy points side by side), :mod:`~scenarios.sweep.callback` (the Hydra
callback that runs aggregation and comparison when a multirun ends).
"""
