"""Sweeps after they ran: reading jobs, statistics, aggregate tables, comparison, callback.

Modules, each importing only those before it: :mod:`~scenarios.sweep.io`
(jobs and their tables on disk), :mod:`~scenarios.sweep.stats` (bands,
paired differences, significance, seeds needed, Wilson intervals),
:mod:`~scenarios.sweep.registry` (every metric's and parameter's label, unit,
format and direction), :mod:`~scenarios.sweep.threshold` (thresholds and
exceedance), :mod:`~scenarios.sweep.aggregate` (one long table across jobs),
:mod:`~scenarios.sweep.paired` (the comparison's tables),
:mod:`~scenarios.sweep.figures` and :mod:`~scenarios.sweep.response_figures`
(figures), :mod:`~scenarios.sweep.summary` (``summary.md``),
:mod:`~scenarios.sweep.compare` (policy points side by side),
:mod:`~scenarios.sweep.lock` (one sweep per directory),
:mod:`~scenarios.sweep.stop` (stopping a sweep's workers on a signal),
:mod:`~scenarios.sweep.callback` (the Hydra callback that takes the lock when
a multirun starts and runs aggregation and comparison when it ends).
"""
