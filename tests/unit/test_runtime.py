"""logtune.runtime: the cyclic collector paused and restored; the CPU kernels logtune pins on import."""

import gc
import os

import pytest

from logtune.runtime import no_cyclic_gc


def test_pauses_and_restores_an_enabled_collector():
    gc.enable()
    with no_cyclic_gc():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_restores_even_when_the_block_raises_and_leaves_a_disabled_collector_disabled():
    with pytest.raises(RuntimeError):
        with no_cyclic_gc():
            raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with no_cyclic_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_importing_logtune_pins_the_cpu_kernels_before_torch_loads():
    # Issue #12: a fresh clone on another CPU computed a different first loss (AVX-512 vs AVX2 kernels) and
    # the gate's verdict moved. logtune pins the AVX2 paths, so every AVX2+ machine runs the same kernels.
    import subprocess
    import sys

    from logtune import CPU_NUMERICS

    env = {k: v for k, v in os.environ.items() if k not in CPU_NUMERICS and k != "LOGTUNE_PIN_CPU_NUMERICS"}
    code = ("import logtune, os, torch; print(torch.backends.cpu.get_cpu_capability(), os.environ['MKL_CBWR'])")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out[1] == "AVX2"
    assert out[0] in ("AVX2", "DEFAULT")   # DEFAULT only on a CPU without AVX2, where nothing faster exists
    env["LOGTUNE_PIN_CPU_NUMERICS"] = "0"
    code = "import logtune, os; print(os.environ.get('MKL_CBWR'))"
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip() == "None"
