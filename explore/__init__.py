"""The explorer: a Solara app to run a policy, watch the market and browse sweeps.

``lendsim-explore`` (:mod:`explore.cli`) serves it on ``localhost:8765``. The
Run page (:mod:`explore.pages.run`) builds command-line overrides from its
controls (:mod:`explore.controls`, :mod:`explore.form`), refuses what the
project's validator refuses, runs the policy and, if asked, the baseline on the
same seeds in the background (:mod:`explore.runner`) and draws the results
(:mod:`explore.results`, :mod:`explore.figures`); the Sweeps page
(:mod:`explore.pages.sweeps`) reads sweep directories (:mod:`explore.sweeps`).
"""
