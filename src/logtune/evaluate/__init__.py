"""Scoring models on the golden set: generate replies, score each case, aggregate per model, tag and case type.

`golden` reads and checks the golden cases (contract v1), `generate` produces greedy replies in batches
(left padding), `metrics` (one module per metric family) turns a reply into per-case scores, `scores`
is the per-case score contract with the gate (names, directions, means), `run` loads model directories,
checks the chat template and system prompt, and ties it together (`run.generate_for_dir` is the public
way to replay any chats through a model directory). Comparing two models' numbers is `logtune.gate`.
"""
