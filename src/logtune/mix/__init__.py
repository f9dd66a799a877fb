"""The `mix` stage: the seeded session-level train/held-out split and the data-mix table (`pipeline`), and
`logtune trace` (`trace`), which follows one mixed record back to the log row it started as.
"""
