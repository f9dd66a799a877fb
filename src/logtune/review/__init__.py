"""Queues a person decides (issue #17), above the stages like `release/`: `data` (`logtune review-data`, the
spot-check page of the mixed records). Golden cases from traffic are `logtune.golden.from_logs` (ground floor:
the `golden_candidates` stage runs it too)."""
