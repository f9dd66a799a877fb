"""Queues a person decides (issue #17), above the stages like `release/`: `golden_from_logs` (candidate
golden cases from held-out traffic, promoted only once accepted). Commands, never run by `dvc repro`."""
