"""Training: SFT with LoRA or QLoRA in curriculum phases, then preference training (DPO on pairs or KTO
on thumbs) on the same adapter; `preview` shows SFT examples as the trainer sees them and `recipes`
turns recipes/*.yaml into `dvc exp run` commands.

Everything here runs on a CPU with no network; stages/sft.py and stages/preference.py are thin entry
points over these modules. The base model is the `base` stage's (`logtune.base`); model directories
follow one contract (see `logtune.models`).
"""
