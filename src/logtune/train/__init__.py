"""Training: the base model (tiny from scratch or a local/Hub checkpoint), SFT with LoRA, DPO on the adapter.

Everything here runs on a CPU with no network; stages/base.py, stages/sft.py and stages/dpo.py are thin
entry points over these modules. Model directories follow one contract (see `loading`).
"""
