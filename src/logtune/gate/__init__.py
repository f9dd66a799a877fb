"""The `gate` stage and its commands: the release decision on paired-bootstrap intervals (`decide`), the
rollout plan (`rollout`), the offline HTML review page (`review`) and the PR Markdown report (`report`).
"""
