"""Scoring models on the golden set: generate replies, score each case, aggregate per model and tag.

`golden` reads and checks the hand-written golden cases, `generate` produces greedy replies in batches,
`metrics` turns a reply into per-case flags and per-model numbers. Comparing two models' numbers is
`logtune.gate`, not this package.
"""
