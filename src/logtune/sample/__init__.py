"""The embedded default's data: a generated support-assistant log DB (`db`, the `sample` stage) and the
golden set scored against it (`golden`, generated once and committed as golden/golden.jsonl).
"""
