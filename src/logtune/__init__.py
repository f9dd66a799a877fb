"""logtune: an assistant's own logs and feedback -> a better fine-tuned model, as a DVC pipeline.

The package holds all logic; `stages/*.py` are thin entry points over it (see README.md).

Importing it pins the CPU numerics (before torch is imported): PyTorch and MKL pick their kernels by the
CPU they find, so an AVX-512 machine and an AVX2 one compute the same training step with different
rounding (a fresh clone's first pre-training loss differed in the 8th digit, and the default's gate
verdict moved with it). With the AVX2 code paths pinned (ATen's dispatch, MKL's conditional numerical
reproducibility, oneDNN's ISA), every x86 machine with AVX2 or newer runs the same kernels, and one
thread (logtune.runtime.limit_cpu_threads) fixes the reduction order: the same inputs give the same
bytes on any such machine. A value you set yourself wins; LOGTUNE_PIN_CPU_NUMERICS=0 turns this off
(e.g. for speed on a large CPU run). No effect on GPUs.
"""

import os as _os

CPU_NUMERICS = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
if _os.environ.get("LOGTUNE_PIN_CPU_NUMERICS", "1") != "0":
    for _name, _value in CPU_NUMERICS.items():
        _os.environ.setdefault(_name, _value)

__version__ = "0.1.0"
