"""Training: the base model (tiny from scratch or a local/Hub checkpoint), SFT with LoRA or QLoRA in
curriculum phases, then preference training (DPO on pairs or KTO on thumbs) on the same adapter.

Everything here runs on a CPU with no network; stages/base.py, stages/sft.py and stages/preference.py
are thin entry points over these modules. Model directories follow one contract (see `loading`).
"""
