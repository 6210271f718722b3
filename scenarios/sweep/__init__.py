"""Sweeps after they ran: reading jobs, statistics, aggregate tables, comparison, callback.

Modules, each importing only those before it: :mod:`~scenarios.sweep.io`
(jobs and their tables on disk), :mod:`~scenarios.sweep.stats` (bands and
paired differences), :mod:`~scenarios.sweep.aggregate` (one long table across
jobs), :mod:`~scenarios.sweep.figures` and :mod:`~scenarios.sweep.compare`
(policy points side by side), :mod:`~scenarios.sweep.lock` (one sweep per
directory), :mod:`~scenarios.sweep.stop` (stopping a sweep's workers on a
signal), :mod:`~scenarios.sweep.callback` (the Hydra callback that takes the
lock when a multirun starts and runs aggregation and comparison when it ends).
"""
