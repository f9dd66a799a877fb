"""Best-of-n on-policy preference pairs (seed 000's RLAIF alternative, issue #17).

Logged prompts of the training side that SFT did not train a reply for are answered n times by the SFT
model (seeded sampling); each candidate is graded by rules (and the judge, when configured); the best and
the worst make a DPO pair when their margin is large enough. Every prompt leaves the stage as a pair or
dropped with a reason. Modules: `params` (the `bestofn` section), `select` (which prompts), `sample`
(n candidates per prompt from a model folder), `pairs` (grading and pairing).
"""
