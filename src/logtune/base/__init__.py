"""The `base` stage: the base model every adapter is trained on: a tiny model pre-trained from scratch on
the curated conversations (`tiny`, with a byte-level BPE tokenizer trained by `tokenizer`), or a copy of
a local real checkpoint. Model directories follow the contract in `logtune.models`.
"""
