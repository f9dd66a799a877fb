"""logtune.runtime.no_cyclic_gc pauses the cyclic collector and restores whatever state it found."""

import gc

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
