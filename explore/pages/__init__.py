"""The explorer's pages: Run (:mod:`explore.pages.run`) and Sweeps (:mod:`explore.pages.sweeps`)."""
