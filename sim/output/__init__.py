"""Everything a run writes: atomic files, tables, plots, result records, progress."""
