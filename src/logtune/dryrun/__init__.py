"""The `dryrun` stage: held-out logged prompts replayed through the candidate and the baseline, judged by
curation's auto-rules (`replay`); also `logtune dryrun` for one logged output.
"""
